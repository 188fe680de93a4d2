"""Topic names of the v1 contract (see DESIGN.md). Every event is keyed by recording_id,
except GateDecision (gate_id), LlmOutcome (trace_id) and BatchJob (job_id)."""

RAW = "stt.recordings.raw.v1"
RECORDINGS = "stt.recordings.v1"
CHUNKS_BATCH = "stt.audio.chunks.batch.v1"
CHUNKS_REALTIME = "stt.audio.chunks.realtime.v1"
TRANSCRIPTS = "stt.transcripts.v1"
DIARIZATION = "stt.diarization.v1"
REDACTED = "stt.transcripts.redacted.v1"
QUALITY = "stt.quality.v1"
GATES = "stt.gates.v1"
LLM_OUTCOMES = "stt.llm.outcomes.v1"
JOBS = "stt.jobs.v1"  # BatchJob per backfill, keyed by job_id (compacted)

ALL = (
    RAW,
    RECORDINGS,
    CHUNKS_BATCH,
    CHUNKS_REALTIME,
    TRANSCRIPTS,
    DIARIZATION,
    REDACTED,
    QUALITY,
    GATES,
    LLM_OUTCOMES,
    JOBS,
)


def chunks_topic(priority: str) -> str:
    """Realtime and batch audio travel on separate topics so a backlog never delays realtime."""
    return CHUNKS_REALTIME if priority == "realtime" else CHUNKS_BATCH


def dlq(topic: str) -> str:
    return f"{topic}.dlq"

"""Schema-valid events of whole calls, for the sink's tests: what the mesh publishes about a
call (metadata, turns, redacted transcript, chunk and call QualityReports), an LLM outcome,
a gate decision, a recording failure and a dead letter.

The QualityReports come from the quality service's own join (``services.quality.join``), so
the sink's tests read the reports the service really writes.
"""

from __future__ import annotations

from typing import Any

from mesh.trace import new_trace_id
from services.quality import join
from services.quality.config import QualitySettings
from services.quality.proxy import WerProxy
from tests.quality_events import chunk, metadata, now_ms, redacted, round_trip, segment, turns

QSETTINGS = QualitySettings()
PROXY = WerProxy.load(QSETTINGS.proxy_path)

Event = tuple[str, dict[str, Any]]


def call(
    rid: str,
    *,
    tenant: str = "acme",
    reference: str | None = "hello this is the billing team",
    text: str = "Hello, this is the billing team.",
    probs: float = 0.9,
    extra: dict[str, str] | None = None,
    codec: str = "pcm_s16le",
    snr_db: float = 25.0,
    trace_id: str = "",
) -> tuple[str, list[Event]]:
    """(trace_id, events) of one complete single-chunk call, in the order the services emit them."""
    trace = trace_id or new_trace_id()
    ch = chunk(
        rid,
        0,
        1,
        [segment(text, 0.5, probs)],
        trace_id=trace,
        tenant=tenant,
        speech_s=3.0,
        coverage=0.95,
        processing_ms=500.0,
    )
    meta = metadata(
        rid, 1, trace_id=trace, tenant=tenant, reference=reference, extra=extra, codec=codec, snr_db=snr_db
    )
    spk = turns(rid, [("SPEAKER_00", 0.0, 3.0), ("SPEAKER_01", 3.0, 6.0)], trace_id=trace, tenant=tenant)
    red = redacted(rid, text, {"PERSON": 1}, trace_id=trace, tenant=tenant)
    state = join.new_state(rid, trace, tenant, 0, now_ms())
    for schema, value in (
        ("RecordingMetadata", meta),
        ("ChunkTranscript", ch),
        ("SpeakerTurns", spk),
        ("RedactedTranscript", red),
    ):
        state = join.absorb(state, schema, value)
    chunk_q = round_trip("QualityReport", join.chunk_report(ch, PROXY, QSETTINGS))
    call_q = round_trip("QualityReport", join.recording_report(state, PROXY, QSETTINGS, partial=False))
    return trace, [
        ("RecordingMetadata", meta),
        ("QualityReport", chunk_q),
        ("SpeakerTurns", spk),
        ("RedactedTranscript", red),
        ("QualityReport", call_q),
    ]


def outcome(
    trace_id: str,
    rid: str,
    task: str = "summary",
    accepted: bool = True,
    score: float | None = 0.9,
    tenant: str = "acme",
) -> Event:
    return (
        "LlmOutcome",
        round_trip(
            "LlmOutcome",
            {
                "trace_id": trace_id,
                "recording_id": rid,
                "tenant": tenant,
                "task": task,
                "accepted": accepted,
                "score": score,
                "latency_ms": 120.0,
                "cost_usd": 0.0004,
                "model": "extractive-luhn-1",
                "produced_at_ms": now_ms(),
            },
        ),
    )


def failure(rid: str, tenant: str = "acme") -> Event:
    return (
        "RecordingFailed",
        round_trip(
            "RecordingFailed",
            {
                "recording_id": rid,
                "trace_id": new_trace_id(),
                "tenant": tenant,
                "source": "cli",
                "reason": "the file is not audio (text/plain)",
                "error_type": "unsupported_codec",
                "filename": f"{rid}.wav",
                "size_bytes": 12,
                "sha256": None,
                "failed_at_ms": now_ms(),
            },
        ),
    )


def dead_letter(rid: str, source_topic: str = "stt.recordings.raw.v1", offset: int = 7) -> Event:
    return (
        "DeadLetter",
        round_trip(
            "DeadLetter",
            {
                "reason": "cannot decode stt.v1.RecordingPart: truncated",
                "error_type": "SerializationError",
                "service": "ingest",
                "source_topic": source_topic,
                "source_partition": 0,
                "source_offset": offset,
                "source_key": rid.encode(),
                "headers": [{"key": "traceparent", "value": b"00-secret"}],
                "payload": b"\x00SECRET-PAYLOAD",
                "retries": 0,
                "trace_id": None,
                "failed_at_ms": now_ms(),
            },
        ),
    )


def gate(gate_id: str = "gate-1", decision: str = "rollback") -> Event:
    model = {"name": "base", "version": "ct2-int8-1", "sha256": "", "compute_type": "int8", "device": "cpu"}
    control = {**model, "name": "tiny.en"}
    return (
        "GateDecision",
        round_trip(
            "GateDecision",
            {
                "gate_id": gate_id,
                "canary": model,
                "control": control,
                "decision": decision,
                "slice_deltas": {"telephone": 2.3},
                "reason": "telephone WER +233%",
                "produced_at_ms": now_ms(),
                "source": "golden",
                "golden_run": "run-1",
                "reasons": ["slice telephone regressed"],
                "slices": [
                    {
                        "slice": "telephone",
                        "metric": "wer",
                        "control_n": 10,
                        "candidate_n": 10,
                        "control": 0.19,
                        "candidate": 0.63,
                        "relative_delta": 2.34,
                        "p_value": 0.003,
                        "effect_size": 0.63,
                        "protected": True,
                        "bound": 0.1,
                        "verdict": "regressed",
                    }
                ],
                "window_start_ms": 0,
                "window_end_ms": 0,
            },
        ),
    )

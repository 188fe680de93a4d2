"""Building ``ChunkTranscript`` payloads (plain dicts of the stt.v1 contract).

Times are rounded to milliseconds; model identity and decode settings ride on every event so
a transcript can always be traced back to the exact weights and options that produced it. The
rollout arm and the chunk's audio stats ride along too, so the quality gates can compare the
candidate with control per slice (SNR, clipping, silence) without joining on the audio.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from services.asr.results import ModelInfo, Segment


@dataclass(frozen=True, slots=True)
class Timing:
    queue_ms: float
    processing_ms: float
    batch_size: int
    produced_at_ms: int


@dataclass(frozen=True, slots=True)
class Quality:
    """Whether the words account for the chunk's speech (see ``coverage.py``)."""

    speech_s: float = 0.0
    speech_coverage: float | None = None
    low_coverage: bool = False
    redecodes: int = 0
    repetition_loops: int = 0


def chunk_transcript(
    chunk: dict[str, Any],
    trace_id: str,
    segments: list[Segment],
    language: str,
    language_probability: float,
    model: ModelInfo,
    decode_settings: dict[str, str],
    timing: Timing,
    *,
    fallback_reason: str | None = None,
    retries: int = 0,
    quality: Quality | None = None,
    arm: str = "control",
) -> dict[str, Any]:
    duration = float(chunk["duration_s"])
    processing_ms = round(timing.processing_ms, 3)
    return {
        "recording_id": chunk["recording_id"],
        "trace_id": trace_id,
        "tenant": chunk.get("tenant", "default"),
        "seq": chunk["seq"],
        "is_last": chunk["is_last"],
        "chunk_count": chunk["chunk_count"],
        "channel": chunk.get("channel", 0),
        "channel_role": chunk.get("channel_role"),
        "start_s": float(chunk["start_s"]),
        "duration_s": duration,
        "segments": [segment_dict(s) for s in segments],
        "language": language,
        "language_probability": float(language_probability),
        "model": asdict(model),
        "decode_settings": {str(k): str(v) for k, v in decode_settings.items()},
        "fallback_used": fallback_reason is not None,
        "fallback_reason": fallback_reason,
        "priority": chunk.get("priority", "batch"),
        "processing_ms": processing_ms,
        "queue_ms": round(timing.queue_ms, 3),
        "rtf": processing_ms / 1000.0 / duration if duration > 0 else 0.0,
        "batch_size": timing.batch_size,
        "retries": retries,
        "recording_duration_s": float(chunk.get("recording_duration_s", 0.0)),
        "produced_at_ms": timing.produced_at_ms,
        **_quality(quality or Quality()),
        "arm": arm,
        "stats": audio_stats(chunk.get("stats")),
    }


STATS_FIELDS = ("duration_s", "rms_dbfs", "peak_dbfs", "clipping_ratio", "snr_db", "silence_ratio")


def audio_stats(stats: dict[str, Any] | None) -> dict[str, float] | None:
    """The AudioChunk's AudioStats as the event carries them (None when any is missing)."""
    if not stats or any(stats.get(k) is None for k in STATS_FIELDS):
        return None
    return {k: float(stats[k]) for k in STATS_FIELDS}


def _quality(q: Quality) -> dict[str, Any]:
    share = None if q.speech_coverage is None else round(q.speech_coverage, 4)
    return {
        "speech_s": q.speech_s,
        "speech_coverage": share,
        "low_coverage": q.low_coverage,
        "redecodes": q.redecodes,
        "repetition_loops": q.repetition_loops,
    }


def segment_dict(segment: Segment) -> dict[str, Any]:
    return {
        "start_s": round(segment.start, 3),
        "end_s": round(segment.end, 3),
        "text": segment.text,
        "words": [
            {
                "word": w.word.strip(),
                "start_s": round(w.start, 3),
                "end_s": round(w.end, 3),
                "probability": round(float(w.probability), 4),
                "speaker": None,
            }
            for w in segment.words
        ],
        "avg_logprob": float(segment.avg_logprob),
        "no_speech_prob": float(segment.no_speech_prob),
        "compression_ratio": float(segment.compression_ratio),
    }

"""Plain-dict events of the v1 contract that ingest emits, and the checks on what it is given.

Why plain dicts built here: the Avro schemas are the contract, and keeping every field of
RecordingMetadata, AudioChunk and RecordingFailed in one module makes a schema change a
one-file change; the transports (Kafka, HTTP) only move these dicts.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mesh.audio import ENCODING, SAMPLE_RATE
from mesh.trace import TraceContext

PRIORITIES = ("realtime", "batch")
SOURCES = ("kafka", "http", "cli")
_RECORDING_ID = re.compile(r"^[^\s/\\]{1,200}$")
_HINT_INTS = ("num_speakers", "min_speakers", "max_speakers")


@dataclass
class IngestRequest:
    """Everything about a recording except its bytes."""

    recording_id: str
    trace_id: str | None = None
    tenant: str = "default"
    source: str = "kafka"
    filename: str | None = None
    content_type: str | None = None
    priority: str = "batch"
    split_channels: bool = False
    hints: dict[str, Any] = field(default_factory=lambda: make_hints())
    metadata: dict[str, str] = field(default_factory=dict)
    submitted_at_ms: int | None = None


def make_hints(
    language: str | None = None,
    num_speakers: int | None = None,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
    channel_roles: Iterable[str] = (),
    arm: str | None = None,
) -> dict[str, Any]:
    """A RecordingHints record (``arm`` forces the ASR rollout arm: control or candidate)."""
    return {
        "arm": arm or None,
        "language": language or None,
        "num_speakers": num_speakers,
        "min_speakers": min_speakers,
        "max_speakers": max_speakers,
        "channel_roles": [str(r) for r in channel_roles],
    }


def hints_from(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """A complete RecordingHints record from a partial mapping (missing fields default)."""
    value = value or {}
    return make_hints(
        **{k: value.get(k) for k in ("language", *_HINT_INTS)},
        channel_roles=value.get("channel_roles") or (),
        arm=value.get("arm"),
    )


def trace_id_for(candidate: object) -> str:
    """Keep a producer's valid W3C trace id (case-insensitively), otherwise start a trace."""
    return TraceContext.new(candidate.strip().lower() if isinstance(candidate, str) else None).trace_id


def new_recording_id() -> str:
    return uuid.uuid4().hex


def request_problem(request: IngestRequest) -> str | None:
    """Why a request is invalid, or None."""
    if not _RECORDING_ID.match(request.recording_id or ""):
        return "recording_id must be 1-200 characters without whitespace or slashes"
    if not request.tenant:
        return "tenant must not be empty"
    if request.priority not in PRIORITIES:
        return f"priority must be one of {', '.join(PRIORITIES)}, not {request.priority!r}"
    if request.source not in SOURCES:
        return f"source must be one of {', '.join(SOURCES)}, not {request.source!r}"
    return hints_problem(request.hints)


ARMS = ("control", "candidate")


def hints_problem(hints: Mapping[str, Any]) -> str | None:
    for name in _HINT_INTS:
        value = hints.get(name)
        if value is not None and (not isinstance(value, int) or value < 1):
            return f"{name} must be a positive integer, not {value!r}"
    if hints.get("arm") not in (None, *ARMS):
        return f"arm must be one of {', '.join(ARMS)}, not {hints['arm']!r}"
    low, high = hints.get("min_speakers"), hints.get("max_speakers")
    if low is not None and high is not None and low > high:
        return f"min_speakers ({low}) exceeds max_speakers ({high})"
    return None


def recording_failed(
    request: IngestRequest,
    trace_id: str,
    error_type: str,
    reason: str,
    *,
    size_bytes: int,
    sha256: str | None,
    now_ms: int,
) -> dict[str, Any]:
    return {
        "recording_id": request.recording_id,
        "trace_id": trace_id,
        "tenant": request.tenant,
        "source": request.source,
        "reason": reason,
        "error_type": error_type,
        "filename": request.filename,
        "size_bytes": size_bytes,
        "sha256": sha256,
        "failed_at_ms": now_ms,
        "priority": request.priority,
        "metadata": dict(request.metadata),
    }


def recording_metadata(request: IngestRequest, trace_id: str, **facts: Any) -> dict[str, Any]:
    """RecordingMetadata; ``facts`` are the decoded fields (codec ... ingested_at_ms)."""
    return {
        "recording_id": request.recording_id,
        "trace_id": trace_id,
        "tenant": request.tenant,
        "source": request.source,
        "priority": request.priority,
        "split_channels": request.split_channels,
        "hints": hints_from(request.hints),
        "metadata": dict(request.metadata),
        **facts,
    }


def audio_chunk(request: IngestRequest, trace_id: str, **facts: Any) -> dict[str, Any]:
    """AudioChunk; ``facts`` are the per-chunk fields (seq ... produced_at_ms)."""
    return {
        "recording_id": request.recording_id,
        "trace_id": trace_id,
        "tenant": request.tenant,
        "priority": request.priority,
        "hints": hints_from(request.hints),
        "sample_rate": SAMPLE_RATE,
        "encoding": ENCODING,
        **facts,
    }

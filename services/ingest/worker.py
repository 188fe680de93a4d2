"""Ingest one recording: bytes in, RecordingMetadata plus AudioChunks (or RecordingFailed) out.

The worker knows nothing about Kafka or HTTP, so the consumer, the HTTP intake and tests all
drive the same code. It never raises for bad input: every problem becomes a RecordingFailed
with a machine-readable ``error_type``, because a producer can act on a reason but not on a
crashed consumer.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mesh.audio import to_s16le
from services.ingest import events
from services.ingest.chunking import ChunkPlan, plan_chunks
from services.ingest.config import IngestSettings
from services.ingest.decode import DecodedAudio, DecodeError, DecodeLimits, decode
from services.ingest.events import IngestRequest
from services.ingest.stats import compute_stats
from services.ingest.vad import SileroVad, SpeechDetector

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    """What became of one recording: metadata and chunks, or a failure."""

    recording_id: str
    trace_id: str
    priority: str
    metadata: dict[str, Any] | None = None
    chunks: list[dict[str, Any]] = field(default_factory=list)
    failed: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.failed is None


class IngestWorker:
    def __init__(
        self,
        settings: IngestSettings | None = None,
        *,
        vad: SpeechDetector | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings or IngestSettings()
        self.vad = vad or SileroVad(min_silence_ms=self.settings.vad_min_silence_ms)
        self.clock = clock
        self.limits = DecodeLimits(
            self.settings.max_duration_s, self.settings.max_channels, self.settings.min_sample_rate
        )

    def ingest(self, data: bytes, request: IngestRequest) -> IngestResult:
        trace_id = events.trace_id_for(request.trace_id)
        digest = hashlib.sha256(data).hexdigest()
        try:
            audio = self._decode(data, request)
            return self._accept(audio, data, digest, request, trace_id)
        except DecodeError as exc:
            return self._fail(request, trace_id, exc.error_type, exc.reason, data, digest)
        except Exception as exc:  # a bug or a decoder crash must not take the consumer down
            log.exception("ingest of %s failed unexpectedly", request.recording_id)
            reason = f"unexpected failure while ingesting: {type(exc).__name__}: {exc}"
            return self._fail(request, trace_id, "internal_error", reason, data, digest)

    def fail(
        self, request: IngestRequest, error_type: str, reason: str, *, size_bytes: int = 0
    ) -> IngestResult:
        """A RecordingFailed for a recording whose bytes never arrived whole."""
        failed = events.recording_failed(
            request,
            events.trace_id_for(request.trace_id),
            error_type,
            reason,
            size_bytes=size_bytes,
            sha256=None,
            now_ms=self._now_ms(),
        )
        return IngestResult(request.recording_id, failed["trace_id"], request.priority, failed=failed)

    def _decode(self, data: bytes, request: IngestRequest) -> DecodedAudio:
        problem = events.request_problem(request)
        if problem:
            raise DecodeError("invalid_request", problem)
        if len(data) > self.settings.max_upload_bytes:
            raise DecodeError(
                "too_large", f"{len(data)} bytes exceeds the limit of {self.settings.max_upload_bytes} bytes"
            )
        return decode(
            data,
            content_type=request.content_type,
            filename=request.filename,
            keep_channels=request.split_channels,
            limits=self.limits,
        )

    def _accept(
        self, audio: DecodedAudio, data: bytes, digest: str, request: IngestRequest, trace_id: str
    ) -> IngestResult:
        now_ms = self._now_ms()
        chunks = self._chunks(audio, request, trace_id, now_ms)
        metadata = events.recording_metadata(
            request,
            trace_id,
            codec=audio.codec,
            container=audio.container,
            original_sample_rate=audio.original_sample_rate,
            channels=audio.channels,
            duration_s=audio.duration_s,
            size_bytes=len(data),
            sha256=digest,
            stats=compute_stats(audio.samples, audio.sample_rate).to_dict(),
            chunk_count=len(chunks),
            submitted_at_ms=request.submitted_at_ms or now_ms,
            ingested_at_ms=now_ms,
        )
        return IngestResult(request.recording_id, trace_id, request.priority, metadata, chunks)

    def _chunks(
        self, audio: DecodedAudio, request: IngestRequest, trace_id: str, now_ms: int
    ) -> list[dict[str, Any]]:
        """Chunks of every kept channel, in time order (channel breaks ties), numbered 0..n-1."""
        planned = [
            (plan, channel)
            for channel, row in enumerate(audio.samples)
            for plan in self._plan(row, audio.sample_rate)
        ]
        planned.sort(key=lambda item: (item[0].keep_from_s, item[1]))
        roles = request.hints.get("channel_roles") or []
        chunks = []
        for seq, (plan, channel) in enumerate(planned):
            payload = _payload(audio.samples[channel], plan, audio.sample_rate)
            chunks.append(
                events.audio_chunk(
                    request,
                    trace_id,
                    seq=seq,
                    is_last=seq == len(planned) - 1,
                    chunk_count=len(planned),
                    channel=channel,
                    channel_role=_role(roles, channel) if request.split_channels else None,
                    start_s=plan.start_s,
                    duration_s=payload.size / audio.sample_rate,
                    keep_from_s=plan.keep_from_s,
                    keep_until_s=plan.keep_until_s,
                    pcm=to_s16le(payload),
                    stats=compute_stats(payload, audio.sample_rate).to_dict(),
                    recording_duration_s=audio.duration_s,
                    produced_at_ms=now_ms,
                )
            )
        return chunks

    def _plan(self, row: np.ndarray, sample_rate: int) -> list[ChunkPlan]:
        s = self.settings
        return plan_chunks(
            row,
            sample_rate,
            target_s=s.chunk_target_s,
            max_s=s.chunk_max_s,
            overlap_s=s.chunk_overlap_s,
            vad=self.vad,
        )

    def _fail(
        self,
        request: IngestRequest,
        trace_id: str,
        error_type: str,
        reason: str,
        data: bytes,
        digest: str | None,
    ) -> IngestResult:
        failed = events.recording_failed(
            request, trace_id, error_type, reason, size_bytes=len(data), sha256=digest, now_ms=self._now_ms()
        )
        return IngestResult(request.recording_id, trace_id, request.priority, failed=failed)

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)


def _payload(row: np.ndarray, plan: ChunkPlan, sample_rate: int) -> np.ndarray:
    first, last = plan.samples(sample_rate)
    return row[first:last]


def _role(roles: list[str], channel: int) -> str | None:
    return roles[channel] if channel < len(roles) else None

"""Fixtures for the redaction tests: one real analyzer per session (the spaCy model loads
in about a second) and ChunkTranscript / SpeakerTurns values built from plain sentences."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from services.redact.analyzer import Detector, build_analyzer
from services.redact.assembly import RecordingAssembler
from services.redact.config import RedactSettings
from services.redact.policy import PolicyBook
from services.redact.worker import RedactWorker

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
WORD_S = 0.4  # every test word lasts 0.3 s and starts 0.4 s after the previous one


@pytest.fixture(scope="session")
def analyzer():
    return build_analyzer()


@pytest.fixture(scope="session")
def detector(analyzer) -> Detector:
    return Detector(analyzer)


def words_of(text: str, t0: float, speaker: str | None = None) -> list[dict[str, Any]]:
    """ASR-style words (leading space, punctuation attached) with regular timestamps."""
    return [
        {
            "word": " " + w,
            "start_s": round(t0 + k * WORD_S, 3),
            "end_s": round(t0 + k * WORD_S + 0.3, 3),
            "probability": 0.9,
            "speaker": speaker,
        }
        for k, w in enumerate(text.split())
    ]


def segment(text: str, t0: float) -> dict[str, Any]:
    ws = words_of(text, t0)
    return {
        "start_s": ws[0]["start_s"],
        "end_s": ws[-1]["end_s"],
        "text": " " + text,
        "words": ws,
        "avg_logprob": -0.2,
        "no_speech_prob": 0.01,
        "compression_ratio": 1.3,
    }


def chunk(
    seq: int,
    count: int,
    texts: list[str],
    t0: float = 0.0,
    rid: str = "call-1",
    tenant: str = "acme",
    **extra: Any,
) -> dict[str, Any]:
    """A ChunkTranscript whose segments say ``texts`` one after another from ``t0``."""
    segs, t = [], t0
    for text in texts:
        segs.append(segment(text, t))
        t = segs[-1]["end_s"] + 0.5
    value = {
        "recording_id": rid,
        "trace_id": TRACE,
        "tenant": tenant,
        "seq": seq,
        "is_last": seq == count - 1,
        "chunk_count": count,
        "channel": 0,
        "channel_role": None,
        "start_s": t0,
        "duration_s": 30.0,
        "segments": segs,
        "language": "en",
        "language_probability": 0.99,
        "model": {
            "name": "tiny.en",
            "version": "1",
            "sha256": "0" * 64,
            "compute_type": "int8",
            "device": "cpu",
        },
        "decode_settings": {},
        "fallback_used": False,
        "fallback_reason": None,
        "priority": "realtime",
        "processing_ms": 12.0,
        "queue_ms": 3.0,
        "rtf": 0.1,
        "batch_size": 1,
        "retries": 0,
        "recording_duration_s": 60.0,
        "produced_at_ms": 1_700_000_000_000,
    }
    value.update(extra)
    return value


def turns(rid: str, spans: list[tuple[str, float, float]], tenant: str = "acme") -> dict:
    return {
        "recording_id": rid,
        "trace_id": TRACE,
        "tenant": tenant,
        "turns": [
            {"speaker": s, "start_s": a, "end_s": b, "overlap": False, "channel": None} for s, a, b in spans
        ],
        "num_speakers": len({s for s, _, _ in spans}),
        "partial": False,
        "mode": "model",
        "pipeline": "test",
        "pipeline_params": {},
        "model_hashes": {},
        "device": "cpu",
        "audio_duration_s": 60.0,
        "processing_ms": 5.0,
        "rtf": 0.1,
        "produced_at_ms": 1_700_000_000_000,
    }


@pytest.fixture
def attribute() -> Callable[[list[dict], list[dict]], list[dict]]:
    from services.redact.attribution import attribute_words

    return attribute_words


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_worker(detector, attribute, clock):
    """``make_worker(diarization=True, policies=None, **settings)`` -> RedactWorker."""

    def make(
        diarization: bool = True,
        policies: PolicyBook | None = None,
        turns_timeout_s: float = 60.0,
        **settings: Any,
    ) -> RedactWorker:
        cfg = RedactSettings(diarization_enabled=diarization, turns_timeout_s=turns_timeout_s, **settings)
        assembler = RecordingAssembler(
            diarization_enabled=diarization, attribute=attribute, turns_timeout_s=turns_timeout_s
        )
        return RedactWorker(
            cfg, detector=detector, policies=policies or PolicyBook(), assembler=assembler, clock=clock
        )

    return make


@pytest.fixture
def make_chunk():
    return chunk


@pytest.fixture
def make_turns():
    return turns

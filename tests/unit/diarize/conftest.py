"""Fixtures of the diarization unit tests: AudioChunk dicts and a controllable clock."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

SR = 16000


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def pcm(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def make_chunk(
    recording_id: str = "rec-1",
    seq: int = 0,
    start_s: float = 0.0,
    samples: np.ndarray | None = None,
    keep_from_s: float | None = None,
    keep_until_s: float | None = None,
    is_last: bool = False,
    chunk_count: int = 1,
    channel: int = 0,
    channel_role: str | None = None,
    num_speakers: int | None = None,
    channel_roles: list[str] | None = None,
) -> dict[str, Any]:
    samples = np.zeros(SR, dtype=np.float32) if samples is None else samples
    duration = len(samples) / SR
    return {
        "recording_id": recording_id,
        "trace_id": "0123456789abcdef0123456789abcdef",
        "tenant": "default",
        "seq": seq,
        "is_last": is_last,
        "chunk_count": chunk_count,
        "channel": channel,
        "channel_role": channel_role,
        "start_s": start_s,
        "duration_s": duration,
        "keep_from_s": start_s if keep_from_s is None else keep_from_s,
        "keep_until_s": start_s + duration if keep_until_s is None else keep_until_s,
        "sample_rate": SR,
        "encoding": "s16le",
        "pcm": pcm(samples),
        "stats": {
            "duration_s": duration,
            "rms_dbfs": -20.0,
            "peak_dbfs": -3.0,
            "clipping_ratio": 0.0,
            "snr_db": 30.0,
            "silence_ratio": 0.1,
        },
        "priority": "batch",
        "hints": {
            "language": None,
            "num_speakers": num_speakers,
            "min_speakers": None,
            "max_speakers": None,
            "channel_roles": channel_roles or [],
        },
        "recording_duration_s": duration,
        "produced_at_ms": 0,
    }


def voice(duration_s: float, f0: float = 140.0, seed: int = 0) -> np.ndarray:
    """A speech-like signal: harmonics of f0 with 4 Hz syllable modulation (webrtcvad says yes)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * SR)) / SR
    jitter = 1 + 0.03 * np.sin(2 * np.pi * 3 * t)
    tone = sum(np.sin(2 * np.pi * f0 * k * jitter * t) / k for k in range(1, 12))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)
    return (0.12 * tone * envelope + 0.002 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def chunk_factory():
    return make_chunk


@pytest.fixture
def voice_factory():
    return voice

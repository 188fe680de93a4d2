"""Test doubles and builders of the ASR unit tests (no Kafka, no model)."""

from __future__ import annotations

import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mesh.audio import to_s16le
from services.asr.results import Decoded, DecodeRequest, ModelInfo, Segment, Word

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


def make_chunk(
    audio: np.ndarray | None = None,
    *,
    recording_id: str = "rec-1",
    seq: int = 0,
    start_s: float = 0.0,
    keep_from_s: float | None = None,
    keep_until_s: float | None = None,
    duration_s: float | None = None,
    tenant: str = "default",
    language: str | None = None,
    snr_db: float = 30.0,
    produced_at_ms: int | None = None,
    priority: str = "realtime",
    arm: str | None = None,
) -> dict[str, Any]:
    """An AudioChunk dict; by default a 2 s tone (not silent) whose keep window is all of it."""
    if audio is None:
        n = int((duration_s or 2.0) * 16000)
        audio = (0.1 * np.sin(2 * np.pi * 220 * np.arange(n) / 16000)).astype(np.float32)
    duration = len(audio) / 16000
    return {
        "recording_id": recording_id,
        "trace_id": TRACE_ID,
        "tenant": tenant,
        "seq": seq,
        "is_last": False,
        "chunk_count": 2,
        "channel": 0,
        "channel_role": None,
        "start_s": start_s,
        "duration_s": duration,
        "keep_from_s": start_s if keep_from_s is None else keep_from_s,
        "keep_until_s": start_s + duration if keep_until_s is None else keep_until_s,
        "sample_rate": 16000,
        "encoding": "s16le",
        "pcm": to_s16le(audio),
        "stats": {
            "duration_s": duration,
            "rms_dbfs": -20.0,
            "peak_dbfs": -3.0,
            "clipping_ratio": 0.0,
            "snr_db": snr_db,
            "silence_ratio": 0.1,
        },
        "priority": priority,
        "hints": {
            "language": language,
            "num_speakers": None,
            "min_speakers": None,
            "max_speakers": None,
            "channel_roles": [],
            "arm": arm,
        },
        "recording_duration_s": 60.0,
        "produced_at_ms": produced_at_ms if produced_at_ms is not None else int(time.time() * 1000),
    }


def words_every_second(request: DecodeRequest) -> Decoded:
    """One word per second of audio, named by its index: w0 at [0.2, 0.6), w1 at [1.2, 1.6)..."""
    count = int(request.duration_s)
    words = tuple(Word(f" w{i}", i + 0.2, i + 0.6, 0.9) for i in range(count))
    segment = Segment(0.0, float(count), "".join(w.word for w in words), words, -0.2, 0.01, 1.2)
    return Decoded("en", 0.99, (segment,) if words else (), request.duration_s)


class FakeEngine:
    """Engine protocol double: records calls, answers with ``respond``, fails on demand."""

    def __init__(
        self,
        name: str = "fake-main",
        respond: Callable[[DecodeRequest], Decoded] = words_every_second,
        *,
        fail_when: Callable[[list[DecodeRequest]], bool] | None = None,
        delay_s: float = 0.0,
        multilingual: bool = True,
    ) -> None:
        self.info = ModelInfo(name, "1.0", "ab" * 32, "int8", "cpu")
        self.respond, self.fail_when, self.delay_s = respond, fail_when, delay_s
        self.multilingual = multilingual
        self.calls: list[list[DecodeRequest]] = []

    def decode_settings(self) -> dict[str, str]:
        return {"beam_size": "5", "engine": self.info.name}

    def transcribe_batch(self, requests: list[DecodeRequest]) -> list[Decoded]:
        self.calls.append(list(requests))
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail_when is not None and self.fail_when(list(requests)):
            raise RuntimeError(f"{self.info.name} exploded")
        return [self.respond(r) for r in requests]


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768

"""Plain dataclasses passed between the engine, the guards and the worker.

The engine returns times relative to the start of the audio it was given; the worker moves
them onto the recording's timeline. Keeping these free of faster-whisper types lets tests
build results by hand and lets another engine (a GPU server, a fake) return the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from mesh.audio import SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """Identity of the weights and how they run (the ``ModelInfo`` record of the contract)."""

    name: str
    version: str
    sha256: str
    compute_type: str = ""
    device: str = "cpu"


@dataclass(frozen=True, slots=True)
class DecodeRequest:
    """One chunk of 16 kHz mono float32 audio (at most one 30 s Whisper window)."""

    audio: np.ndarray
    language: str | None = None
    initial_prompt: str | None = None
    hotwords: str | None = None

    @property
    def duration_s(self) -> float:
        return len(self.audio) / SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float
    end: float
    probability: float

    @property
    def mid(self) -> float:
        return (self.start + self.end) / 2

    def shifted(self, offset: float) -> Word:
        return replace(self, start=self.start + offset, end=self.end + offset)


@dataclass(frozen=True, slots=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...]
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    temperature: float = 0.0


@dataclass(frozen=True, slots=True)
class Decoded:
    """What one model made of one request."""

    language: str
    language_probability: float
    segments: tuple[Segment, ...] = ()
    speech_s: float = 0.0  # audio left after the VAD filter
    speech: tuple[tuple[float, float], ...] = ()  # VAD speech regions (s); empty: unknown
    dropped: dict[str, int] = field(default_factory=dict)  # guard name -> segments dropped
    suspect: tuple[tuple[float, float], ...] = ()  # spans to decode again (trimmed loops)

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments).strip()

"""Speech detection used to find pauses where a recording can be cut.

Why Silero through faster-whisper: the model ships inside the faster-whisper wheel (ONNX, run by
onnxruntime), so it works offline, needs no torch, and is the same VAD the ASR service uses.
Its defaults are tuned for skipping silence before transcription (2 s pauses, 400 ms padding);
for cutting we want shorter pauses, so the options here look for pauses of a few hundred ms.
Long recordings are scanned in windows because the model call copies its whole input twice.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from mesh.audio import SAMPLE_RATE

# (audio float32 mono, sample_rate) -> speech intervals in seconds, sorted, non-overlapping.
SpeechDetector = Callable[[np.ndarray, int], list[tuple[float, float]]]


class SileroVad:
    """Silero VAD with options suited to finding cut points (short pauses, little padding)."""

    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        min_silence_ms: int = 300,
        speech_pad_ms: int = 100,
        window_s: float = 600.0,
    ) -> None:
        from faster_whisper.vad import VadOptions

        self.window = int(window_s * self.sample_rate)
        self._options = VadOptions(
            threshold=threshold,
            min_silence_duration_ms=min_silence_ms,
            speech_pad_ms=speech_pad_ms,
        )

    def __call__(self, audio: np.ndarray, sample_rate: int) -> list[tuple[float, float]]:
        if sample_rate != self.sample_rate:
            raise ValueError(f"Silero VAD needs {self.sample_rate} Hz audio, got {sample_rate} Hz")
        if audio.size == 0:
            return []
        from faster_whisper.vad import get_speech_timestamps

        spans = []
        for offset in range(0, audio.size, self.window):
            piece = np.ascontiguousarray(audio[offset : offset + self.window], dtype=np.float32)
            for span in get_speech_timestamps(piece, self._options, sample_rate):
                spans.append(((offset + span["start"]) / sample_rate, (offset + span["end"]) / sample_rate))
        return spans


@functools.cache
def default_vad() -> SileroVad:
    """The process-wide Silero detector (the ONNX session loads on first use, not at import)."""
    return SileroVad()

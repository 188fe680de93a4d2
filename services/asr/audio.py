"""PCM payload decoding and the few signal levels the guards need.

Chunks arrive as 16 kHz mono signed 16-bit little-endian PCM (the AudioChunk contract), so a
``numpy.frombuffer`` view is all the decoding there is; no codec library is needed here.
"""

from __future__ import annotations

import numpy as np

from mesh.audio import SAMPLE_RATE, AudioFormatError, pcm_to_float

__all__ = ["SAMPLE_RATE", "AudioFormatError", "dbfs", "pcm_to_float"]

SILENT_DBFS = -120.0


def dbfs(audio: np.ndarray) -> float:
    """RMS level in dB relative to full scale (``SILENT_DBFS`` for digital silence)."""
    if audio.size == 0:
        return SILENT_DBFS
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    return max(SILENT_DBFS, 20.0 * float(np.log10(rms))) if rms > 0 else SILENT_DBFS


def peak_frame_dbfs(
    audio: np.ndarray, start_s: float, end_s: float, frame_s: float = 0.02, margin_s: float = 0.25
) -> float:
    """Level of the loudest ``frame_s`` frame of a word, widened by ``margin_s`` each side.

    Aligned word times can be off by a few hundred ms (some words even get zero length),
    so the margin keeps a real word from being judged by the silence next to it.
    """
    lo = max(0, int((start_s - margin_s) * SAMPLE_RATE))
    hi = min(len(audio), max(lo + 1, int((end_s + margin_s) * SAMPLE_RATE)))
    span = audio[lo:hi]
    frame = max(1, int(frame_s * SAMPLE_RATE))
    usable = len(span) // frame * frame
    if usable == 0:
        return dbfs(span)
    power = np.mean(np.square(span[:usable].reshape(-1, frame), dtype=np.float64), axis=1)
    peak = float(power.max())
    return max(SILENT_DBFS, 10.0 * float(np.log10(peak))) if peak > 0 else SILENT_DBFS

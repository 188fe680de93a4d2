"""The audio format of the AudioChunk contract: 16 kHz mono signed 16-bit little-endian PCM.

Ingest writes it, ASR and diarization read it; this module is the one definition of the
rate and of both directions of the codec, so no service imports another's.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000
ENCODING = "s16le"


class AudioFormatError(ValueError):
    """The payload does not match the encoding the chunk declares."""


def check_format(encoding: str = ENCODING, sample_rate: int = SAMPLE_RATE) -> None:
    if encoding != ENCODING:
        raise AudioFormatError(f"unsupported encoding {encoding!r}; expected {ENCODING}")
    if sample_rate != SAMPLE_RATE:
        raise AudioFormatError(f"unsupported sample rate {sample_rate}; expected {SAMPLE_RATE}")


def pcm_to_float(pcm: bytes, encoding: str = ENCODING, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The payload as float32 in [-1, 1)."""
    check_format(encoding, sample_rate)
    if len(pcm) % 2:
        raise AudioFormatError(f"s16le payload of odd length {len(pcm)}")
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def to_s16le(audio: np.ndarray) -> bytes:
    """Float audio in [-1, 1] as little-endian 16-bit PCM (clipped, rounded)."""
    scaled = np.clip(np.rint(np.asarray(audio, dtype=np.float32) * 32767.0), -32768, 32767)
    return scaled.astype("<i2").tobytes()

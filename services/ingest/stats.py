"""Signal statistics of a recording or a chunk (the AudioStats event record).

Why at ingest: they are computed once, on the same 16 kHz float audio the models see, so that
quality scoring and SQL analysis can slice results by level, clipping, noise and silence
without ever touching audio again. Levels are dBFS relative to a full-scale square wave
(a full-scale sine reads about -3 dBFS RMS); silence is floored at -120 dBFS so no value is
infinite or NaN.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from mesh.audio import SAMPLE_RATE

FLOOR_DBFS = -120.0
SILENCE_DBFS = -50.0  # a 30 ms frame quieter than this counts as silence
CLIP_LEVEL = 0.999
FRAME_S = 0.03
MAX_SNR_DB = 100.0


@dataclass(frozen=True)
class AudioStats:
    duration_s: float
    rms_dbfs: float
    peak_dbfs: float
    clipping_ratio: float
    snr_db: float
    silence_ratio: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def compute_stats(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> AudioStats:
    """Stats of mono audio, or of all rows of (channels, samples) audio taken together."""
    rows = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    n = rows.shape[-1]
    if rows.size == 0:
        return AudioStats(n / sample_rate, FLOOR_DBFS, FLOOR_DBFS, 0.0, 0.0, 1.0)
    energy, power = _frame_energy(rows, max(1, round(FRAME_S * sample_rate)))
    peak = max(float(rows.max()), -float(rows.min()))
    clipped = np.count_nonzero(rows >= CLIP_LEVEL) + np.count_nonzero(rows <= -CLIP_LEVEL)
    return AudioStats(
        duration_s=n / sample_rate,
        rms_dbfs=_db(energy / rows.size),
        peak_dbfs=_db(peak * peak),
        clipping_ratio=float(clipped / rows.size),
        snr_db=snr_db(power),
        silence_ratio=float(np.mean(power < 10 ** (SILENCE_DBFS / 10))),
    )


def snr_db(frame_power: np.ndarray) -> float:
    """Loud frames (90th percentile) over the noise floor (10th percentile), in dB."""
    if frame_power.size == 0:
        return 0.0
    noise, speech = np.percentile(frame_power, [10, 90])
    if speech <= 0:
        return 0.0
    if noise <= 0:
        return MAX_SNR_DB
    return float(np.clip(10 * np.log10(speech / noise), 0.0, MAX_SNR_DB))


def _frame_energy(rows: np.ndarray, frame: int) -> tuple[float, np.ndarray]:
    """Total energy, and the mean power of each whole frame of every row (a row shorter than
    a frame is one frame). Works frame-wise in float32 so long recordings need no big copies."""
    count = rows.shape[-1] // frame
    if count == 0:
        power = np.einsum("ij,ij->i", rows, rows).astype(np.float64) / rows.shape[-1]
        return float(power.sum() * rows.shape[-1]), power
    frames = rows[:, : count * frame].reshape(rows.shape[0], count, frame)
    sums = np.einsum("ijk,ijk->ij", frames, frames).astype(np.float64)
    tail = rows[:, count * frame :]
    energy = float(sums.sum()) + float(np.einsum("ij,ij->", tail, tail))
    return energy, (sums / frame).ravel()


def _db(power: float) -> float:
    return max(FLOOR_DBFS, 10 * float(np.log10(power))) if power > 0 else FLOOR_DBFS

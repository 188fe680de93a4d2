"""Where to cut a recording into chunks the ASR can take whole.

Whisper reads at most 30 s at a time, and a word cut in half is usually lost or garbled, so
boundaries go into pauses found by a VAD, as close as possible to a target length. Only when a
stretch of speech has no pause before the maximum length is it cut inside speech; the cut is
then put at the quietest 20 ms frame available, and the payloads on both sides of it reach
``overlap_s`` across it so that each side sees the word under the cut whole.

Each chunk owns a *keep window* ``[keep_from_s, keep_until_s)``; the windows tile the recording
with no gap and no overlap, and a word belongs to the chunk whose window holds its midpoint.
The payload ``[start_s, end_s)`` equals the keep window except on the sides of forced cuts.

All arithmetic is done in whole samples, so the windows tile exactly after conversion to seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mesh.audio import SAMPLE_RATE
from services.ingest.vad import SpeechDetector, default_vad

MIN_CHUNK_S = 1.0  # a pause closer than this to the chunk start is not used as a cut
PAUSE_EDGE_S = 0.1  # keep a cut this far inside a pause when the pause is long enough
PAUSE_BONUS = 2.0  # seconds of distance from the target forgiven per second of pause (up to 1 s)
FRAME_S = 0.02  # frame used to find the quietest point for a forced cut


@dataclass(frozen=True)
class ChunkPlan:
    """One chunk, in seconds relative to the start of the planned audio."""

    start_s: float
    end_s: float
    keep_from_s: float
    keep_until_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def samples(self, sample_rate: int = SAMPLE_RATE) -> tuple[int, int]:
        """Payload as a ``[first, last)`` sample range."""
        return round(self.start_s * sample_rate), round(self.end_s * sample_rate)


@dataclass(frozen=True)
class _Limits:
    target: int
    max_len: int
    overlap: int
    min_chunk: int


def plan_chunks(
    audio: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    *,
    target_s: float = 20.0,
    max_s: float = 30.0,
    overlap_s: float = 1.0,
    vad: SpeechDetector | None = None,
) -> list[ChunkPlan]:
    """Plan the chunks of one channel of mono float audio; never returns an empty list."""
    _check_limits(target_s, max_s, overlap_s)
    n = len(audio)
    if n == 0:
        return [ChunkPlan(0.0, 0.0, 0.0, 0.0)]
    if n <= round(max_s * sample_rate):
        length = n / sample_rate
        return [ChunkPlan(0.0, length, 0.0, length)]
    detector = vad if vad is not None else default_vad()
    pauses = _pauses(detector(audio, sample_rate), n, sample_rate)
    limits = _Limits(
        target=round(target_s * sample_rate),
        max_len=round(max_s * sample_rate),
        overlap=round(overlap_s * sample_rate),
        min_chunk=round(min(MIN_CHUNK_S, target_s / 2) * sample_rate),
    )
    spans = _cut(audio, pauses, limits, sample_rate)
    return [ChunkPlan(*(x / sample_rate for x in span)) for span in spans]


def _check_limits(target_s: float, max_s: float, overlap_s: float) -> None:
    if not 0 < target_s <= max_s:
        raise ValueError(f"need 0 < target_s <= max_s, got target_s={target_s}, max_s={max_s}")
    if not 0 <= overlap_s < max_s / 4:
        raise ValueError(f"need 0 <= overlap_s < max_s / 4, got overlap_s={overlap_s}")


def _pauses(speech: list[tuple[float, float]], n: int, sr: int) -> list[tuple[int, int]]:
    """Complement of the speech intervals within ``[0, n)``, as sample spans."""
    pauses, cursor = [], 0
    for start_s, end_s in sorted(speech):
        start, end = max(0, round(start_s * sr)), min(n, round(end_s * sr))
        if start > cursor:
            pauses.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < n:
        pauses.append((cursor, n))
    return pauses


def _cut(
    audio: np.ndarray, pauses: list[tuple[int, int]], lim: _Limits, sr: int
) -> list[tuple[int, int, int, int]]:
    """Greedy left-to-right cutting; spans are (start, end, keep_from, keep_until) samples."""
    n = len(audio)
    spans: list[tuple[int, int, int, int]] = []
    keep_from, lead = 0, 0
    while True:
        start = max(0, keep_from - lead)
        if n - start <= lim.max_len:
            spans.append((start, n, keep_from, n))
            return spans
        cut = _pause_cut(pauses, keep_from + lim.min_chunk, start + lim.max_len, start + lim.target, sr)
        if cut is not None:
            spans.append((start, cut, keep_from, cut))
            keep_from, lead = cut, 0
            continue
        hi = start + lim.max_len - lim.overlap
        lo = min(max(keep_from + lim.min_chunk, start + lim.target), hi - 1)
        cut = _quietest_point(audio, lo, hi, sr)
        spans.append((start, cut + lim.overlap, keep_from, cut))
        keep_from, lead = cut, lim.overlap


def _pause_cut(pauses: list[tuple[int, int]], lo: int, hi: int, aim: int, sr: int) -> int | None:
    """Best point inside a pause within ``[lo, hi]``: near ``aim``, longer pauses preferred."""
    best, best_score = None, float("inf")
    for a, b in pauses:
        if b < lo or a > hi:
            continue
        edge = min(round(PAUSE_EDGE_S * sr), (b - a) // 2)
        point = min(max(aim, a + edge), b - edge)
        point = min(max(point, lo, a), hi, b)
        score = abs(point - aim) / sr - PAUSE_BONUS * min((b - a) / sr, 1.0)
        if score < best_score:
            best, best_score = point, score
    return best


def _quietest_point(audio: np.ndarray, lo: int, hi: int, sr: int) -> int:
    """Centre of the lowest-energy frame in ``[lo, hi)``: the least harmful cut inside speech."""
    frame = max(1, round(FRAME_S * sr))
    count = (hi - lo) // frame
    if count < 1:
        return lo
    frames = np.asarray(audio[lo : lo + count * frame], dtype=np.float32).reshape(count, frame)
    energy = np.einsum("ij,ij->i", frames, frames)
    return lo + int(np.argmin(energy)) * frame + frame // 2

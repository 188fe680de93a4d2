"""Putting a chunk's words on the recording's timeline, once.

Ingest cuts recordings into chunks that overlap only where it had to cut inside speech; each
chunk carries a keep window, and the keep windows tile the recording. A word belongs to the
chunk whose keep window holds its midpoint, so the words of the overlap are kept by exactly one
of the two chunks, and a transcript assembled from all chunks has every word once. Segments
are rebuilt from the words they keep (text, start, end).

Where a keep window reaches the edge of its chunk there is no neighbour to hand words to, so
that side is left open: a word whose aligned end runs a few milliseconds past the audio is
still kept.
"""

from __future__ import annotations

import math
from dataclasses import replace

from services.asr.results import Segment, Word

EDGE_TOLERANCE_S = 0.02


def place(
    segments: tuple[Segment, ...] | list[Segment],
    start_s: float,
    duration_s: float,
    keep_from_s: float,
    keep_until_s: float,
) -> list[Segment]:
    """Shift chunk-relative segments by ``start_s`` and keep what the keep window owns."""
    lo = -math.inf if keep_from_s <= start_s + EDGE_TOLERANCE_S else keep_from_s
    end = start_s + duration_s
    hi = math.inf if keep_until_s >= end - EDGE_TOLERANCE_S else keep_until_s
    placed = []
    for segment in segments:
        kept = _keep(_shift(segment, start_s), lo, hi)
        if kept is not None:
            placed.append(kept)
    return placed


def _shift(segment: Segment, offset: float) -> Segment:
    return replace(
        segment,
        start=segment.start + offset,
        end=segment.end + offset,
        words=tuple(w.shifted(offset) for w in segment.words),
    )


def _keep(segment: Segment, lo: float, hi: float) -> Segment | None:
    if not segment.words:  # no word times: decide by the segment's midpoint
        mid = (segment.start + segment.end) / 2
        return replace(segment, text=segment.text.strip()) if lo <= mid < hi else None
    words = tuple(w for w in segment.words if lo <= w.mid < hi)
    if not words:
        return None
    if len(words) == len(segment.words):
        return replace(segment, text=segment.text.strip())
    return replace(segment, words=words, text=join_words(words), start=words[0].start, end=words[-1].end)


def join_words(words: tuple[Word, ...] | list[Word]) -> str:
    return "".join(w.word for w in words).strip()

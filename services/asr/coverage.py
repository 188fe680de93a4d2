"""Speech coverage: how much of a chunk's detected speech the transcript's words account for.

A single-pass Whisper decode can emit end-of-text early and return one sentence of a 12 s
chunk; nothing in its scores says so (measured on the pyannote sample: a chunk cut at 17.0 s
decodes to "from Chicago." and nothing else, while cutting 0.1 s earlier gives all 36 words).
The VAD knows where the speech is, so the worker compares the two:

* ``coverage``: the share of the VAD speech seconds (inside the span the chunk owns) that lie
  within ``tolerance_s`` of an aligned word. VAD regions carry a few hundred milliseconds of
  padding and word edges are approximate; the tolerance absorbs both, so a fully transcribed
  chunk scores close to 1.0.
* ``gaps``: the uncovered stretches of speech of at least ``min_gap_s``, each widened to the
  words around it (end of the previous word to start of the next) so a re-decode of the gap
  starts and stops between words and can neither repeat nor cut one.

A word aligned over more than ``max_word_s`` covers nothing: when the decoder skips a
sentence, alignment tends to stretch the next word back over it (measured: "well" aligned
over 3.7 s of "Oh, I'm originally from Chicago also ..."), which would otherwise hide the
hole. Such a word lies inside the gap and is decoded again with it.

Times are seconds on the chunk's own timeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from services.asr.results import Segment, Word

Span = tuple[float, float]


@dataclass(frozen=True, slots=True)
class CoverageSettings:
    min_coverage: float = 0.9  # below this (after every re-decode) the chunk is flagged
    min_gap_s: float = 1.0  # an uncovered stretch of speech this long is decoded again
    min_gap_low_s: float = 0.3  # ... and this long, in a chunk whose coverage is below min
    tolerance_s: float = 0.5  # speech this close to a word counts as covered
    redecode_passes: int = 3  # rounds of decoding what is left uncovered, before the fallback
    min_flag_speech_s: float = 1.0  # flag only chunks with at least this much uncovered speech
    max_word_s: float = 1.5  # a word aligned over longer than this covers nothing


def merge(spans: Iterable[Span]) -> list[Span]:
    """Sorted, non-overlapping union of ``spans`` (empty spans dropped)."""
    out: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def clip(spans: Sequence[Span], lo: float, hi: float) -> list[Span]:
    return [(max(s, lo), min(e, hi)) for s, e in spans if min(e, hi) > max(s, lo)]


def subtract(spans: Sequence[Span], holes: Sequence[Span]) -> list[Span]:
    """``spans`` minus the union of ``holes`` (both sorted and non-overlapping)."""
    out: list[Span] = []
    for start, end in spans:
        cursor = start
        for h_start, h_end in holes:
            if h_end <= cursor or h_start >= end:
                continue
            if h_start > cursor:
                out.append((cursor, h_start))
            cursor = max(cursor, h_end)
        if cursor < end:
            out.append((cursor, end))
    return out


def total(spans: Iterable[Span]) -> float:
    return sum(e - s for s, e in spans)


def reliable(words: Sequence[Word], settings: CoverageSettings) -> list[Word]:
    """Words whose alignment is short enough to be believed, in time order."""
    return sorted((w for w in words if w.end - w.start <= settings.max_word_s), key=lambda w: w.start)


def covered(words: Sequence[Word], settings: CoverageSettings) -> list[Span]:
    tol = settings.tolerance_s
    return merge((w.start - tol, w.end + tol) for w in reliable(words, settings))


def coverage(speech: Sequence[Span], words: Sequence[Word], settings: CoverageSettings) -> float | None:
    """Share of ``speech`` seconds near a word; None when there is no speech to cover."""
    speech = merge(speech)
    seconds = total(speech)
    if seconds <= 0:
        return None
    return max(0.0, 1.0 - total(subtract(speech, covered(words, settings))) / seconds)


def gaps(
    speech: Sequence[Span], words: Sequence[Word], settings: CoverageSettings, duration_s: float
) -> list[Span]:
    """Stretches to decode again, widened to the neighbouring words (or the chunk's edges):
    uncovered speech of ``min_gap_s`` or more, or of ``min_gap_low_s`` or more where the
    chunk's coverage is below ``min_coverage`` (several short holes, or one at a chunk edge
    where a sentence was cut: its words belong to this chunk's keep window, so the
    neighbour drops them)."""
    speech = merge(speech)
    holes = subtract(speech, covered(words, settings))
    seconds = total(speech)
    low = seconds > 0 and 1.0 - total(holes) / seconds < settings.min_coverage
    shortest = settings.min_gap_low_s if low else settings.min_gap_s
    holes = [h for h in holes if h[1] - h[0] >= shortest]
    return merge(widen(h, words, settings, duration_s) for h in holes)


def widen(span: Span, words: Sequence[Word], settings: CoverageSettings, duration_s: float) -> Span:
    """``span`` stretched to the end of the reliable word before it and the start of the one
    after it (or the chunk's edges), so a decode of it starts and stops between words."""
    ordered = reliable(words, settings)
    tol = settings.tolerance_s
    before = [w.end for w in ordered if w.end <= span[0] + tol and w.mid < span[0]]
    after = [w.start for w in ordered if w.start >= span[1] - tol and w.mid > span[1]]
    return max(before, default=0.0), min(after, default=duration_s)


def words_in(segments: Sequence[Segment], span: Span) -> int:
    return sum(1 for s in segments for w in s.words if span[0] <= w.mid < span[1])


def replace_span(segments: Sequence[Segment], span: Span, new: Sequence[Segment]) -> tuple[Segment, ...]:
    """The words of ``span`` replaced by the segments of its re-decode, in time order.

    An old segment that straddles the span (a gap inside one decoded sentence) is split
    around it; old words inside it (a stretched word the gap was widened over) give way.
    """
    pieces = [part for old in segments for part in _split_around(old, span)]
    return tuple(sorted([*pieces, *new], key=_first_time))


def _split_around(segment: Segment, span: Span) -> list[Segment]:
    if not segment.words:
        return [segment]
    before = tuple(w for w in segment.words if w.mid < span[0])
    after = tuple(w for w in segment.words if w.mid >= span[1])
    if len(before) + len(after) == len(segment.words) and (not before or not after):
        return [segment]
    return [_with_words(segment, part) for part in (before, after) if part]


def _with_words(segment: Segment, words: tuple[Word, ...]) -> Segment:
    return replace(
        segment, words=words, start=words[0].start, end=words[-1].end, text="".join(w.word for w in words)
    )


def _first_time(segment: Segment) -> float:
    return segment.words[0].start if segment.words else segment.start

"""Repetition loops: the same words decoded back to back, over and over.

A decoder that loses its place repeats itself ("Hello. Hello. Hello. Hello. Hello. Hello."
at the start of a call, measured on tiny.en). The window's compression ratio catches long
loops, but a short loop in a long window, or one split into many one-word segments, passes
it. Here loops are found on the words of a whole chunk, across segment boundaries: an n-gram
(compared without case and punctuation) repeated back to back ``min_repeats`` times or more
keeps its first copy and loses the rest. Their audio is then uncovered, so the worker's
coverage check decodes it again, and what the speaker really said there gets a second chance.

One word said three times ("no, no, no") is ordinary speech, so single words need one more
repeat than longer n-grams before they count as a loop. Numbers are never loops: a card
number is "four one one one, one one one one, ...", and trimming it would drop speech (and
hide the digits from redaction, which must see them to redact them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from services.asr.results import Segment

_PUNCT = re.compile(r"[^\w']+")
# fmt: off
_NUMBER_WORDS = frozenset({
    "zero", "oh", "o", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
    "eighteen", "nineteen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty",
    "ninety", "hundred", "thousand", "million", "double", "triple", "point", "dash"})
# fmt: on


@dataclass(frozen=True, slots=True)
class LoopSettings:
    min_repeats: int = 3  # copies of an n-gram (n >= 2) that make a loop
    min_repeats_single: int = 4  # copies of a single word that make a loop
    max_ngram: int = 8


def norm(word: str) -> str:
    return _PUNCT.sub("", word.lower())


@dataclass(frozen=True, slots=True)
class Loop:
    """``copies`` back-to-back copies of the ``n`` tokens starting at index ``first``."""

    first: int
    n: int
    copies: int

    @property
    def redundant(self) -> range:
        return range(self.first + self.n, self.first + self.n * self.copies)

    @property
    def end(self) -> int:
        return self.first + self.n * self.copies


def loop_runs(tokens: list[str], settings: LoopSettings) -> list[Loop]:
    """Every loop in ``tokens``, left to right, none overlapping."""
    loops: list[Loop] = []
    i = 0
    while i < len(tokens):
        loop = _loop_at(tokens, i, settings)
        if loop is None:
            i += 1
            continue
        loops.append(loop)
        i = loop.end
    return loops


def is_number(token: str) -> bool:
    return token.isdigit() or token in _NUMBER_WORDS


def _loop_at(tokens: list[str], i: int, settings: LoopSettings) -> Loop | None:
    for n in range(1, settings.max_ngram + 1):
        gram = tokens[i : i + n]
        if len(gram) < n or not all(gram):
            return None
        if all(is_number(t) for t in gram):
            continue
        copies = 1
        while tokens[i + copies * n : i + (copies + 1) * n] == gram:
            copies += 1
        need = settings.min_repeats_single if n == 1 else settings.min_repeats
        if copies >= need:
            return Loop(i, n, copies)
    return None


@dataclass(frozen=True, slots=True)
class Trimmed:
    segments: tuple[Segment, ...]
    loops: tuple[tuple[float, float], ...] = ()  # each loop's time span, first copy included


def trim(segments: tuple[Segment, ...], settings: LoopSettings) -> Trimmed:
    """Segments without the redundant copies of any loop, and where the loops were."""
    flat = [(si, wi) for si, seg in enumerate(segments) for wi in range(len(seg.words))]
    words = [segments[si].words[wi] for si, wi in flat]
    loops = loop_runs([norm(w.word) for w in words], settings)
    if not loops:
        return Trimmed(segments)
    drop = {flat[k] for loop in loops for k in loop.redundant}
    kept = []
    for si, seg in enumerate(segments):
        left = tuple(w for wi, w in enumerate(seg.words) if (si, wi) not in drop)
        if len(left) == len(seg.words):
            kept.append(seg)
        elif left:
            kept.append(
                replace(
                    seg, words=left, text="".join(w.word for w in left), start=left[0].start, end=left[-1].end
                )
            )
    spans = tuple((words[loop.first].start, words[loop.end - 1].end) for loop in loops)
    return Trimmed(tuple(kept), spans)

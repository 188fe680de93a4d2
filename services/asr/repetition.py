"""Repetition loops: the same words decoded back to back, over and over.

A decoder that loses its place repeats itself ("Hello. Hello. Hello. Hello. Hello. Hello."
at the start of a call, measured on tiny.en). The window's compression ratio catches long
loops, but a short loop in a long window, or one split into many one-word segments, passes
it. Here loops are found on the words of a whole chunk, across segment boundaries: an n-gram
(compared without case and punctuation) repeated back to back ``min_repeats`` times or more
keeps its first copy and loses the rest. Their audio is then uncovered, so the worker's
coverage check decodes it again, and what the speaker really said there gets a second chance.

One word said three times ("no, no, no") is ordinary speech, so single words need one more
repeat than longer n-grams before they count as a loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from services.asr.results import Segment

_PUNCT = re.compile(r"[^\w']+")


@dataclass(frozen=True, slots=True)
class LoopSettings:
    min_repeats: int = 3  # copies of an n-gram (n >= 2) that make a loop
    min_repeats_single: int = 4  # copies of a single word that make a loop
    max_ngram: int = 8


def norm(word: str) -> str:
    return _PUNCT.sub("", word.lower())


def loop_runs(tokens: list[str], settings: LoopSettings) -> list[tuple[int, int]]:
    """Index ranges ``[start, end)`` of the redundant copies (every copy after the first)."""
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        found = _loop_at(tokens, i, settings)
        if found is None:
            i += 1
            continue
        n, copies = found
        runs.append((i + n, i + n * copies))
        i += n * copies
    return runs


def _loop_at(tokens: list[str], i: int, settings: LoopSettings) -> tuple[int, int] | None:
    for n in range(1, settings.max_ngram + 1):
        gram = tokens[i:i + n]
        if len(gram) < n or not all(gram):
            return None
        copies = 1
        while tokens[i + copies * n:i + (copies + 1) * n] == gram:
            copies += 1
        need = settings.min_repeats_single if n == 1 else settings.min_repeats
        if copies >= need:
            return n, copies
    return None


def trim(segments: tuple[Segment, ...], settings: LoopSettings) -> tuple[tuple[Segment, ...], int]:
    """Segments without the redundant copies of any loop, and how many loops were trimmed."""
    flat = [(si, wi) for si, seg in enumerate(segments) for wi in range(len(seg.words))]
    tokens = [norm(segments[si].words[wi].word) for si, wi in flat]
    runs = loop_runs(tokens, settings)
    if not runs:
        return segments, 0
    drop = {flat[k] for start, end in runs for k in range(start, end)}
    kept = []
    for si, seg in enumerate(segments):
        words = tuple(w for wi, w in enumerate(seg.words) if (si, wi) not in drop)
        if len(words) == len(seg.words):
            kept.append(seg)
        elif words:
            kept.append(replace(seg, words=words, text="".join(w.word for w in words),
                                start=words[0].start, end=words[-1].end))
    return tuple(kept), len(runs)

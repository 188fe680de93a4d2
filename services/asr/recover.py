"""Decoding again the speech a first pass left without words.

faster-whisper's sequential ``transcribe`` never trusts one decoder pass with a whole window:
when the decoder stops, it seeks past the last word and decodes the rest. A batched single
pass has no such loop, and on some cut points it ends a 12 s chunk after its first sentence
(faster-whisper's ``BatchedInferencePipeline`` shares the failure). Here the worker measures
each chunk's speech coverage (``coverage.py``) and, for every stretch of speech left
uncovered, cuts the audio between the words around it and decodes that alone, batched with
the gaps of every other chunk of the batch. What comes back is moved onto the chunk's timeline
and slotted between the words it was cut from. A repetition loop the guards trimmed leaves
such a gap too, so its audio gets a second decode instead of being lost.

This module holds the pure steps (which gaps, their requests, the merge); the worker decides
which model decodes them and how often.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mesh.audio import SAMPLE_RATE
from services.asr import coverage
from services.asr.coverage import CoverageSettings, Span
from services.asr.results import Decoded, DecodeRequest, Segment


@dataclass(frozen=True, slots=True)
class Owned:
    """The part of a chunk whose words it keeps (its keep window, chunk-relative seconds)."""

    start: float
    end: float

    @classmethod
    def of(cls, chunk: dict) -> Owned:
        start = float(chunk["start_s"])
        return cls(float(chunk["keep_from_s"]) - start, float(chunk["keep_until_s"]) - start)


def owned_speech(decoded: Decoded, owned: Owned) -> list[Span]:
    return coverage.clip(coverage.merge(decoded.speech), owned.start, owned.end)


def gaps(decoded: Decoded, owned: Owned, duration_s: float, settings: CoverageSettings) -> list[Span]:
    """Uncovered speech the chunk owns, and the trimmed repetition loops that overlap it."""
    found = coverage.gaps(owned_speech(decoded, owned), decoded.words, settings, duration_s)
    loops = [
        coverage.widen(span, decoded.words, settings, duration_s)
        for span in decoded.suspect
        if span[1] > owned.start and span[0] < owned.end
    ]
    return coverage.merge([*found, *loops])


def request_for(audio: np.ndarray, span: Span, like: DecodeRequest, language: str) -> DecodeRequest:
    """The gap's audio, with the chunk's prompt and the language the first pass settled on."""
    lo, hi = round(span[0] * SAMPLE_RATE), round(span[1] * SAMPLE_RATE)
    return DecodeRequest(audio[lo:hi], like.language or language or None, like.initial_prompt, like.hotwords)


def merge(decoded: Decoded, span: Span, sub: Decoded) -> tuple[Decoded, int]:
    """``decoded`` with the words of ``sub`` (decoded from ``span``) in the span; the number
    of words added. Old words in the span (a stretched word) are replaced only by at least
    as many new ones, so a worse second decode changes nothing."""
    offset = span[0]
    new: list[Segment] = []
    for seg in sub.segments:
        words = tuple(w.shifted(offset) for w in seg.words if span[0] <= w.mid + offset < span[1])
        if words:
            new.append(
                replace(
                    seg,
                    words=words,
                    start=words[0].start,
                    end=words[-1].end,
                    text="".join(w.word for w in words),
                )
            )
    added = sum(len(s.words) for s in new)
    if not new or added < coverage.words_in(decoded.segments, span):
        return decoded, 0
    dropped = dict(decoded.dropped)
    for name, count in sub.dropped.items():
        dropped[name] = dropped.get(name, 0) + count
    suspect = tuple(x for x in decoded.suspect if x[1] <= span[0] or x[0] >= span[1])
    merged = replace(
        decoded, segments=coverage.replace_span(decoded.segments, span, new), dropped=dropped, suspect=suspect
    )
    return merged, added


@dataclass(frozen=True, slots=True)
class ChunkCoverage:
    """What the event reports: speech the chunk owns, the share covered, and the flag."""

    speech_s: float
    coverage: float | None
    low: bool


def measure(decoded: Decoded, owned: Owned, settings: CoverageSettings) -> ChunkCoverage:
    speech = owned_speech(decoded, owned)
    seconds = coverage.total(speech)
    share = coverage.coverage(speech, decoded.words, settings)
    low = (
        share is not None
        and share < settings.min_coverage
        and (1.0 - share) * seconds >= settings.min_flag_speech_s
    )
    return ChunkCoverage(round(seconds, 3), share, low)

"""Word timestamps for a batch of independent windows.

faster-whisper's ``add_word_timestamps`` carries one "last speech time" across every window of
a batch, which is right for consecutive windows of one file but wrong for chunks of different
recordings batched together. Here the cross-attention alignment (one batched ``align`` call,
the expensive part) is reused from faster-whisper, and its per-window clean-up is applied to
each window on its own, starting from zero.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import numpy as np
from faster_whisper.transcribe import merge_punctuations

from services.asr.results import Segment, Word

# faster-whisper's punctuation sets, CJK full-width marks included (written as escapes).
SENTENCE_END = ".\u3002!\uff01?\uff1f"
PREPEND = "\"'\u201c\u00bf([{-"
APPEND = "\"'.\u3002,\uff0c!\uff01?\uff1f:\uff1a\u201d)]}\u3001"


def align_batch(
    model: Any, tokenizer: Any, encoder_output: Any, windows: list[list[dict]], num_frames: list[int]
) -> None:
    """Fill ``words`` in every segment dict of every window (all windows share a language)."""
    tokens = [[t for seg in segs for t in seg["tokens"] if t < tokenizer.eot] for segs in windows]
    alignments = model.find_alignment(tokenizer, tokens, encoder_output, num_frames)
    for segs, alignment in zip(windows, alignments, strict=True):
        attach_words(segs, alignment, tokenizer.eot)


def attach_words(segments: list[dict], alignment: list[dict], eot: int) -> None:
    """Distribute aligned words over the window's segments (in place), one window at a time."""
    median, longest = _durations(alignment)
    merge_punctuations(alignment, PREPEND, APPEND)
    index, last_speech = 0, 0.0
    for seg in segments:
        want = len([t for t in seg["tokens"] if t < eot])
        words, taken = [], 0
        while index < len(alignment) and taken < want:
            timing = alignment[index]
            if timing["word"]:
                words.append(
                    {
                        "word": timing["word"],
                        "start": round(float(timing["start"]), 2),
                        "end": round(float(timing["end"]), 2),
                        "probability": float(timing["probability"]),
                    }
                )
            taken += len(timing["tokens"])
            index += 1
        if words:
            _clamp_first_after_pause(words, last_speech, median, longest)
            _reconcile_with_segment(seg, words, median)
            last_speech = seg["end"]
        seg["words"] = words


def _durations(alignment: list[dict]) -> tuple[float, float]:
    """Median word length (capped at 0.7 s) and twice it; shortens sentence-final words."""
    durations = np.array([w["end"] - w["start"] for w in alignment])
    durations = durations[durations.nonzero()]
    median = min(0.7, float(np.median(durations))) if len(durations) else 0.0
    longest = median * 2
    if len(durations):
        for prev, word in itertools.pairwise(alignment):
            if word["end"] - word["start"] > longest:
                if word["word"] in SENTENCE_END:
                    word["end"] = word["start"] + longest
                elif prev["word"] in SENTENCE_END:
                    word["start"] = word["end"] - longest
    return median, longest


def _clamp_first_after_pause(words: list[dict], last_speech: float, median: float, longest: float) -> None:
    """Alignment stretches the first word after a pause over the pause; cut it back."""
    first = words[0]
    too_long = first["end"] - first["start"] > longest or (
        len(words) > 1 and words[1]["end"] - first["start"] > longest * 2
    )
    if not (first["end"] - last_speech > median * 4 and too_long):
        return
    if len(words) > 1 and words[1]["end"] - words[1]["start"] > longest:
        boundary = max(words[1]["end"] / 2, words[1]["end"] - longest)
        first["end"] = words[1]["start"] = boundary
    first["start"] = max(0.0, first["end"] - longest)


def _reconcile_with_segment(seg: dict, words: list[dict], median: float) -> None:
    """Prefer the decoder's segment times when the edge words look stretched."""
    if seg["start"] < words[0]["end"] and seg["start"] - 0.5 > words[0]["start"]:
        words[0]["start"] = max(0.0, min(words[0]["end"] - median, seg["start"]))
    else:
        seg["start"] = words[0]["start"]
    if seg["end"] > words[-1]["start"] and seg["end"] + 0.5 < words[-1]["end"]:
        words[-1]["end"] = max(words[-1]["start"] + median, seg["end"])
    else:
        seg["end"] = words[-1]["end"]


def split_sentences(segment: Segment, gap_s: float) -> list[Segment]:
    """Cut a window's words into segments after sentence-final punctuation or long pauses."""
    if not segment.words:
        return [segment]
    pieces: list[list[Word]] = [[]]
    for word, following in itertools.zip_longest(segment.words, segment.words[1:]):
        pieces[-1].append(word)
        ends_sentence = word.word.strip()[-1:] in SENTENCE_END
        paused = following is not None and following.start - word.end >= gap_s
        if following is not None and (ends_sentence or paused):
            pieces.append([])
    return [
        replace(segment, start=p[0].start, end=p[-1].end, words=tuple(p), text="".join(w.word for w in p))
        for p in pieces
    ]

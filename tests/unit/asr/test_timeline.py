"""Chunk-relative words onto the recording timeline, each word kept by exactly one chunk."""

from __future__ import annotations

import pytest

from services.asr.results import Segment, Word
from services.asr.timeline import place


def segment(*words: tuple[str, float, float]) -> Segment:
    ws = tuple(Word(f" {w}", s, e, 0.9) for w, s, e in words)
    return Segment(ws[0].start, ws[-1].end, "".join(w.word for w in ws), ws, -0.1, 0.01, 1.1)


def texts(segments: list[Segment]) -> list[str]:
    return [s.text for s in segments]


def test_times_are_shifted_by_the_chunk_start():
    placed = place([segment(("hello", 0.5, 0.9), ("world", 1.0, 1.4))], 20.0, 5.0, 20.0, 25.0)
    assert [(w.start, w.end) for w in placed[0].words] == [(20.5, 20.9), (21.0, 21.4)]
    assert (placed[0].start, placed[0].end) == (20.5, 21.4)


def test_when_chunks_overlap_then_each_word_is_kept_by_exactly_one_chunk():
    # Recording words at absolute times; chunk A = [0, 11) keeps [0, 10), B = [9, 20) keeps [10, 20).
    truth = [("a", 8.0, 8.5), ("b", 9.2, 9.7), ("c", 9.8, 10.3), ("d", 10.4, 10.8), ("e", 12, 13)]
    in_a = [(w, s - 0.0, e - 0.0) for w, s, e in truth if s < 11.0]
    in_b = [(w, s - 9.0, e - 9.0) for w, s, e in truth if e > 9.0]
    first = place([segment(*in_a)], 0.0, 11.0, 0.0, 10.0)
    second = place([segment(*in_b)], 9.0, 11.0, 10.0, 20.0)
    words = [w.word.strip() for s in first + second for w in s.words]
    assert words == ["a", "b", "c", "d", "e"]  # "c" straddles 10.0, its midpoint 10.05 -> B


def test_when_words_are_dropped_then_segment_text_and_times_are_rebuilt():
    placed = place([segment(("keep", 1.0, 1.5), ("drop", 5.5, 6.0))], 0.0, 7.0, 0.0, 5.0)
    assert texts(placed) == ["keep"]
    assert (placed[0].start, placed[0].end) == (1.0, 1.5)


def test_when_no_word_of_a_segment_is_owned_then_the_segment_disappears():
    assert place([segment(("gone", 0.1, 0.4))], 30.0, 10.0, 31.0, 40.0) == []


def test_when_keep_window_reaches_the_chunk_end_then_a_word_past_the_end_is_kept():
    # Alignment put the last word's midpoint 10 ms after the audio; nobody else can own it.
    placed = place([segment(("late", 4.95, 5.03))], 10.0, 5.0, 10.0, 15.0)
    assert texts(placed) == ["late"]


def test_when_keep_window_ends_before_the_chunk_then_the_bound_is_strict():
    placed = place([segment(("edge", 4.8, 5.2))], 0.0, 6.0, 0.0, 5.0)  # midpoint exactly 5.0
    assert placed == []


@pytest.mark.parametrize(("mid", "kept"), [(4.0, True), (6.0, False)])
def test_segments_without_word_times_are_kept_by_their_midpoint(mid: float, kept: bool):
    seg = Segment(mid - 0.5, mid + 0.5, " text", (), -0.1, 0.0, 1.0)
    assert bool(place([seg], 0.0, 8.0, 0.0, 5.0)) is kept

"""Word clean-up per window and segments cut from words."""

from __future__ import annotations

from services.asr.align import attach_words, split_sentences
from services.asr.results import Segment, Word

EOT = 50256


def window(*words: tuple[str, float, float]) -> Segment:
    ws = tuple(Word(w, s, e, 0.9) for w, s, e in words)
    return Segment(ws[0].start, ws[-1].end, "".join(w.word for w in ws), ws, -0.2, 0.1, 1.3)


def test_segments_end_after_sentence_punctuation_and_long_pauses():
    seg = window((" Hello?", 0.0, 0.4), (" Oh,", 0.6, 0.8), (" hi", 0.9, 1.0), (" there", 2.5, 2.8))
    parts = split_sentences(seg, gap_s=1.0)
    assert [p.text for p in parts] == [" Hello?", " Oh, hi", " there"]
    assert [(p.start, p.end) for p in parts] == [(0.0, 0.4), (0.6, 1.0), (2.5, 2.8)]
    assert all(p.avg_logprob == -0.2 for p in parts)


def test_a_segment_without_words_is_left_whole():
    seg = Segment(0.0, 3.0, " text", (), -0.2, 0.1, 1.3)
    assert split_sentences(seg, 1.0) == [seg]


def test_words_are_distributed_over_segments_by_token_count():
    alignment = [
        {"word": " one", "tokens": [1], "start": 0.1, "end": 0.4, "probability": 0.9},
        {"word": " two", "tokens": [2, 3], "start": 0.4, "end": 0.8, "probability": 0.7},
        {"word": ".", "tokens": [4], "start": 0.8, "end": 0.8, "probability": 0.9},
    ]
    segments = [{"start": 0.0, "end": 3.0, "tokens": [1, 2, 3, 4, EOT]}]
    attach_words(segments, alignment, EOT)
    assert [w["word"] for w in segments[0]["words"]] == [" one", " two."]  # "." merged
    assert (segments[0]["start"], segments[0]["end"]) == (0.1, 0.8)

"""Hallucination guards on decoded segments and on the signal."""

from __future__ import annotations

import numpy as np
import pytest

from services.asr.guards import GuardSettings, apply, is_silent, segment_verdict
from services.asr.results import Decoded, Segment, Word

LOUD = (0.1 * np.sin(2 * np.pi * 200 * np.arange(48000) / 16000)).astype(np.float32)


def seg(probs=(0.9, 0.9), *, no_speech=0.05, logprob=-0.3, ratio=1.5, start=0.5) -> Segment:
    words = tuple(Word(f" w{i}", start + i * 0.4, start + i * 0.4 + 0.3, p) for i, p in enumerate(probs))
    return Segment(
        words[0].start, words[-1].end, "".join(w.word for w in words), words, logprob, no_speech, ratio
    )


@pytest.mark.parametrize(
    ("segment", "verdict"),
    [
        (seg(), None),
        (seg(no_speech=0.9, logprob=-1.3), "no_speech"),
        (seg((0.01,), no_speech=0.87, logprob=-0.99), "uncertain_no_speech"),  # "You" on hum
        (seg(ratio=3.1), "repetitive"),
        (seg((0.1, 0.15)), "low_confidence"),
        (seg((0.9,), no_speech=0.9, logprob=-0.5), None),  # confident speech despite no-speech prob
    ],
)
def test_segment_verdicts(segment, verdict):
    assert segment_verdict(segment, GuardSettings()) == verdict


def test_a_rule_set_to_none_is_off():
    assert segment_verdict(seg(ratio=3.1), GuardSettings(compression_ratio_threshold=None)) is None


def test_dropped_segments_are_counted_and_kept_ones_survive():
    decoded = Decoded("en", 1.0, (seg(), seg(ratio=9.0), seg(no_speech=0.9, logprob=-2.0)))
    out = apply(decoded, LOUD, GuardSettings())
    assert out.segments == (decoded.segments[0],)
    assert out.dropped == {"repetitive": 1, "no_speech": 1}


def test_words_over_silence_are_dropped_and_the_segment_text_rebuilt():
    audio = LOUD.copy()
    audio[16000:] = 0.0  # speech in the first second only
    words = (Word(" real", 0.2, 0.6, 0.9), Word(" ghost", 2.2, 2.6, 0.9))
    segment = Segment(0.2, 2.6, " real ghost", words, -0.2, 0.05, 1.2)
    out = apply(Decoded("en", 1.0, (segment,)), audio, GuardSettings())
    assert [w.word for w in out.segments[0].words] == [" real"]
    assert out.segments[0].text == " real" and out.segments[0].end == 0.6
    assert out.dropped == {"quiet_word": 1}


def test_a_segment_left_without_words_is_dropped_as_quiet():
    out = apply(Decoded("en", 1.0, (seg(),)), np.zeros(48000, np.float32), GuardSettings())
    assert out.segments == ()
    assert out.dropped == {"quiet_word": 2, "quiet": 1}


@pytest.mark.parametrize(
    ("audio", "silent"),
    [
        (np.zeros(16000, np.float32), True),
        (np.full(16000, 1e-5, np.float32), True),  # -100 dBFS
        (LOUD, False),
    ],
)
def test_digitally_silent_chunks_are_recognised(audio, silent):
    assert is_silent(audio, GuardSettings()) is silent

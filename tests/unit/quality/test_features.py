"""Chunk and recording features from schema-valid events (no broker)."""

from __future__ import annotations

import pytest

from services.quality import features as feat
from tests.quality_events import chunk, metadata, segment, stats, turns


@pytest.mark.parametrize(
    ("tokens", "run"),
    [
        ([], 0),
        (["a"], 1),
        (["a", "b", "c"], 1),
        (["no", "no", "no"], 3),
        (["no", "no", "no", "no"], 4),
        (["thank", "you", "thank", "you"], 2),
        (["thank", "you", "thank", "you", "thank", "you", "ok"], 3),
        (["a", "b", "c", "a", "b", "c", "a", "b", "c"], 3),
        (["one", "two", "three", "four", "five", "six", "one", "two", "three", "four", "five", "six"], 2),
        # a 7-gram is longer than MAX_NGRAM: its repeat is not counted
        (["a", "b", "c", "d", "e", "f", "g", "a", "b", "c", "d", "e", "f", "g"], 1),
        (["a", "b", "a", "b", "x", "a", "b"], 2),  # copies must be back to back
        (["so", "yes", "i", "i", "i", "i", "i", "said"], 5),
    ],
)
def test_longest_repeat_run(tokens: list[str], run: int) -> None:
    assert feat.longest_repeat_run(tokens) == run


def test_longest_repeat_run_max_n_bounds_the_ngram_length() -> None:
    tokens = ["a", "b", "c", "a", "b", "c"]
    assert feat.longest_repeat_run(tokens, max_n=2) == 1
    assert feat.longest_repeat_run(tokens, max_n=3) == 2


def spoken_chunk(**kw):
    segs = [
        segment(
            "Hello, this is Anna",
            0.0,
            [0.9, 0.8, 0.4, 0.3],
            avg_logprob=-0.2,
            no_speech_prob=0.02,
            compression_ratio=1.2,
        ),
        segment(
            "from the billing team",
            2.0,
            [0.95, 0.9, 0.6, 0.85],
            avg_logprob=-0.6,
            no_speech_prob=0.05,
            compression_ratio=1.6,
        ),
    ]
    # segments of 1.6 s each: the avg_logprob is weighted by their length
    return chunk(
        "rec",
        0,
        1,
        segs,
        speech_s=4.0,
        coverage=0.85,
        low_coverage=True,
        redecodes=2,
        repetition_loops=1,
        language_probability=0.93,
        fallback_reason="timeout",
        retries=1,
        processing_ms=800.0,
        queue_ms=120.0,
        duration_s=10.0,
        audio_stats=stats(snr_db=14.5, clipping=0.01, silence=0.3),
        **kw,
    )


def test_chunk_features_of_a_chunk_with_words() -> None:
    f = feat.chunk_features(spoken_chunk())
    probs = [0.9, 0.8, 0.4, 0.3, 0.95, 0.9, 0.6, 0.85]
    assert f["words"] == 8
    assert f["mean_word_probability"] == pytest.approx(sum(probs) / 8)
    assert f["min_word_probability"] == pytest.approx(0.3)
    assert f["low_probability_share"] == pytest.approx(2 / 8)  # 0.4 and 0.3 are under 0.5
    assert f["words_per_speech_s"] == pytest.approx(8 / 4.0)
    assert f["speech_coverage"] == pytest.approx(0.85)
    assert f["speech_s"] == 4.0 and f["duration_s"] == 10.0
    assert f["avg_logprob"] == pytest.approx((-0.2 - 0.6) / 2)  # equal segment lengths
    assert f["min_avg_logprob"] == pytest.approx(-0.6)
    assert f["no_speech_prob"] == pytest.approx(0.05)
    assert f["compression_ratio"] == pytest.approx(1.6)
    assert f["repetition_run"] == 1
    assert f["language_probability"] == pytest.approx(0.93)
    # flags are 0/1
    assert (f["low_coverage"], f["redecoded"], f["fallback"]) == (1.0, 1.0, 1.0)
    assert f["repetition_loops"] == 1.0 and f["retries"] == 1.0
    assert f["rtf"] == pytest.approx(0.08)
    assert f["queue_ms"] == 120.0 and f["processing_ms"] == 800.0
    # the chunk's audio stats are copied
    assert f["snr_db"] == 14.5 and f["clipping_ratio"] == 0.01 and f["silence_ratio"] == 0.3
    assert all(isinstance(v, float) for v in f.values())


def test_chunk_features_weight_avg_logprob_by_segment_length() -> None:
    segs = [
        segment("one two three four five six", 0.0, 0.9, avg_logprob=-0.1),  # 2.4 s
        segment("seven eight", 3.0, 0.9, avg_logprob=-1.0),
    ]  # 0.8 s
    f = feat.chunk_features(chunk("rec", 0, 1, segs, speech_s=3.2, coverage=1.0))
    assert f["avg_logprob"] == pytest.approx((-0.1 * 2.4 - 1.0 * 0.8) / 3.2)


def test_chunk_features_flags_are_zero_when_nothing_happened() -> None:
    f = feat.chunk_features(chunk("rec", 0, 1, [segment("fine thanks", 0.0)], speech_s=1.0, coverage=1.0))
    assert (f["low_coverage"], f["redecoded"], f["fallback"], f["repetition_loops"]) == (0, 0, 0, 0)


def test_chunk_features_count_a_repetition_loop_in_the_words() -> None:
    words = "i will check i will check i will check that"
    f = feat.chunk_features(chunk("rec", 0, 1, [segment(words, 0.0)], speech_s=4.0, coverage=1.0))
    assert f["repetition_run"] == 3


def test_chunk_features_of_a_silent_chunk() -> None:
    silent = chunk("rec", 1, 2, [], speech_s=0.0, coverage=None, audio_stats=None)
    f = feat.chunk_features(silent)
    assert f["words"] == 0
    assert f["mean_word_probability"] == 1.0 and f["min_word_probability"] == 1.0
    assert f["low_probability_share"] == 0.0
    assert f["words_per_speech_s"] == 0.0
    assert f["speech_coverage"] == 1.0  # nothing to cover
    assert f["avg_logprob"] == 0.0 and f["repetition_run"] == 0.0
    assert "snr_db" not in f  # no stats, no audio features


def feats_of(*chunks):
    return list(chunks), [feat.chunk_features(c) for c in chunks]


def test_recording_features_weight_chunks_by_speech_seconds() -> None:
    a = chunk(
        "rec",
        0,
        3,
        [segment("a b c d e f", 0.0, 0.9, avg_logprob=-0.2)],
        speech_s=6.0,
        coverage=1.0,
        language_probability=0.9,
        processing_ms=1000.0,
        queue_ms=10.0,
    )
    b = chunk(
        "rec",
        1,
        3,
        [segment("g h", 0.0, 0.3, avg_logprob=-1.0)],
        speech_s=2.0,
        coverage=0.5,
        language_probability=0.5,
        fallback_reason="timeout",
        processing_ms=3000.0,
        queue_ms=50.0,
    )
    silent = chunk("rec", 2, 3, [], speech_s=0.0, coverage=None, processing_ms=200.0, queue_ms=30.0)
    chunks, cf = feats_of(a, b, silent)
    meta = metadata("rec", 3, duration_s=30.0, snr_db=17.0)
    f = feat.recording_features(chunks, cf, meta, None)
    assert f["chunks"] == 3 and f["words"] == 8 and f["speech_s"] == 8.0
    assert f["mean_word_probability"] == pytest.approx((0.9 * 6 + 0.3 * 2) / 8)
    assert f["low_probability_share"] == pytest.approx((0 * 6 + 1 * 2) / 8)
    assert f["avg_logprob"] == pytest.approx((-0.2 * 6 - 1.0 * 2) / 8)
    assert f["language_probability"] == pytest.approx((0.9 * 6 + 0.5 * 2) / 8)
    assert f["speech_coverage"] == pytest.approx((6 * 1.0 + 2 * 0.5) / 8)
    assert f["fallback_share"] == pytest.approx(2 / 8)
    assert f["words_per_speech_s"] == pytest.approx(1.0)
    # minima over the chunks with words (the silent chunk's 1.0 and 0.0 do not count)
    assert f["min_word_probability"] == pytest.approx(0.3)
    assert f["min_avg_logprob"] == pytest.approx(-1.0)
    assert f["processing_s"] == pytest.approx(4.2)
    assert f["queue_ms_max"] == 50.0 and f["queue_ms_p50"] == 30.0
    assert f["rtf_max"] == pytest.approx(0.3)
    # the whole file's SNR wins over the chunks'
    assert f["snr_db"] == 17.0 and f["duration_s"] == 30.0
    assert "speaker_count" not in f


def test_recording_features_of_only_silence() -> None:
    chunks, cf = feats_of(chunk("rec", 0, 1, [], speech_s=0.0))
    f = feat.recording_features(chunks, cf, None, None)
    assert f["words"] == 0 and f["speech_coverage"] == 1.0
    assert f["mean_word_probability"] == 1.0 and f["low_probability_share"] == 0.0
    assert f["avg_logprob"] == 0.0
    assert f["duration_s"] == 10.0  # the chunk's recording_duration_s without metadata


def test_recording_features_read_the_speaker_turns() -> None:
    chunks, cf = feats_of(chunk("rec", 0, 1, [segment("hi", 0.0)], speech_s=1.0, coverage=1.0))
    value = turns("rec", [("A", 0.0, 6.0), ("B", 4.0, 10.0)])
    f = feat.recording_features(chunks, cf, None, {**value, "turns": value["turns"]})
    assert f["speaker_count"] == 2
    assert f["overlap_share"] == pytest.approx(2 / 10)
    assert f["diarization_rtf"] == pytest.approx(value["rtf"])


def test_language_mix_sums_to_one_and_ignores_silent_chunks() -> None:
    en = chunk("rec", 0, 4, [segment("good morning", 0.0)], speech_s=6.0, coverage=1.0, language="en")
    es = chunk("rec", 1, 4, [segment("buenos dias", 0.0)], speech_s=2.0, coverage=1.0, language="es")
    en2 = chunk("rec", 2, 4, [segment("thanks", 0.0)], speech_s=2.0, coverage=1.0, language="en")
    # silence detected as Welsh: no words, so it says nothing about the language mix
    silent = chunk("rec", 3, 4, [], speech_s=3.0, language="cy")
    mix = feat.language_mix([en, es, en2, silent])
    assert mix == {"en": pytest.approx(0.8), "es": pytest.approx(0.2)}
    assert sum(mix.values()) == pytest.approx(1.0)
    assert feat.language_mix([silent]) == {}


@pytest.mark.parametrize(
    ("spans", "share"),
    [
        ([], 0.0),
        ([("A", 0.0, 5.0)], 0.0),
        ([("A", 0.0, 5.0), ("B", 5.0, 10.0)], 0.0),  # touching, not overlapping
        ([("A", 0.0, 6.0), ("B", 4.0, 10.0)], 0.2),  # 2 s of 10
        ([("A", 0.0, 10.0), ("B", 2.0, 4.0), ("C", 3.0, 5.0)], 0.3),  # 2-5 s has >= 2 speakers
        ([("A", 0.0, 2.0), ("B", 8.0, 10.0), ("A", 9.0, 12.0)], 1.0 / 6.0),  # a gap is not speech
    ],
)
def test_overlap_share(spans, share) -> None:
    assert feat.overlap_share(turns("rec", spans)["turns"]) == pytest.approx(share)

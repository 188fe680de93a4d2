"""Speech coverage, gap re-decoding and repetition loops, with fake engines (no model)."""

from __future__ import annotations

import pytest

from services.asr import coverage, repetition
from services.asr.config import AsrSettings
from services.asr.coverage import CoverageSettings
from services.asr.results import Decoded, DecodeRequest, Segment, Word
from services.asr.worker import AsrWorker, ChunkJob
from tests.unit.asr.fakes import FakeEngine, make_chunk

SETTINGS = CoverageSettings()


def words_at(*spans: tuple[float, float], prefix: str = "w") -> tuple[Word, ...]:
    return tuple(Word(f" {prefix}{i}", s, e, 0.9) for i, (s, e) in enumerate(spans))


def segment(words: tuple[Word, ...]) -> Segment:
    return Segment(words[0].start, words[-1].end, "".join(w.word for w in words), words, -0.2, 0.01, 1.2)


def test_words_over_all_the_speech_cover_it_and_leave_no_gap():
    speech = [(0.0, 4.0)]
    words = words_at((0.4, 0.9), (1.0, 1.6), (1.8, 2.4), (2.6, 3.1), (3.2, 3.6))
    assert coverage.coverage(speech, words, SETTINGS) == pytest.approx(1.0)
    assert coverage.gaps(speech, words, SETTINGS, 4.0) == []


def test_speech_after_the_last_word_is_a_gap_from_that_word_to_the_end():
    speech = [(0.0, 10.0)]
    words = words_at((0.3, 0.8), (0.9, 1.5))
    share = coverage.coverage(speech, words, SETTINGS)
    assert share == pytest.approx(0.2)  # 0 .. 1.5 + 0.5 tolerance of 10 s
    assert coverage.gaps(speech, words, SETTINGS, 12.0) == [(1.5, 12.0)]


def test_a_short_pause_inside_speech_is_not_a_gap_and_silence_needs_no_cover():
    speech = [(0.0, 2.0), (6.0, 8.0)]
    words = words_at((0.2, 0.7), (1.4, 1.9), (6.3, 6.9), (7.0, 7.6))
    assert coverage.gaps(speech, words, SETTINGS, 8.0) == []
    assert coverage.coverage([], words, SETTINGS) is None


def test_a_word_stretched_over_a_skipped_sentence_covers_nothing():
    speech = [(0.0, 6.0)]
    words = words_at((0.6, 4.3), (4.3, 4.6), (4.7, 5.5))  # "well" aligned over 3.7 s
    assert coverage.coverage(speech, words, SETTINGS) < 0.5
    assert coverage.gaps(speech, words, SETTINGS, 6.0) == [(0.0, 4.3)]


def test_replacing_a_span_keeps_words_in_time_order_and_splits_a_straddling_segment():
    old = segment(words_at((0.0, 0.5), (0.6, 1.0), (5.0, 5.5), (5.6, 6.0)))
    new = segment(words_at((1.2, 2.0), (2.2, 3.0), (3.2, 4.5), prefix="n"))
    merged = coverage.replace_span([old], (1.0, 5.0), [new])
    times = [w.start for s in merged for w in s.words]
    assert times == sorted(times) and len(times) == 7
    assert [s.text for s in merged] == [" w0 w1", " n0 n1 n2", " w2 w3"]


@pytest.mark.parametrize(
    ("text", "expected", "loops"),
    [
        ("Hello. Hello. Hello. Hello. Hello. Hello. How are you?", "Hello. How are you?", 1),
        ("thank you thank you thank you for calling", "thank you for calling", 1),
        ("no, no, no, that is wrong", "no, no, no, that is wrong", 0),
        ("I I want the the refund", "I I want the the refund", 0),
        ("yes yes yes yes ok and then ok and then ok and then bye", "yes ok and then bye", 2),
        ("my card is 4 -1 -1 -1 -1 -1 -1 -1", "my card is 4 -1 -1 -1 -1 -1 -1 -1", 0),
        ("one one one one, one one one one", "one one one one, one one one one", 0),
        ("ok, double five double five double five", "ok, double five double five double five", 0),
    ],
)
def test_repetition_loops_keep_their_first_copy(text, expected, loops):
    tokens = text.split()
    words = tuple(Word(f" {t}", i, i + 0.5, 0.9) for i, t in enumerate(tokens))
    one_per_segment = tuple(segment((w,)) for w in words)  # loops cross segment boundaries
    trimmed = repetition.trim(one_per_segment, repetition.LoopSettings())
    assert " ".join(w.word.strip() for s in trimmed.segments for w in s.words) == expected
    assert len(trimmed.loops) == loops


# -- the worker ---------------------------------------------------------------------------
def stops_early(after_s: float = 2.0):
    """An engine that, like a decoder emitting end-of-text too soon, transcribes only the
    first ``after_s`` of long audio: one word a second, speech everywhere."""

    def respond(request: DecodeRequest) -> Decoded:
        duration = request.duration_s
        limit = duration if duration <= 4.0 else after_s
        words = tuple(
            Word(f" t{request.duration_s:.1f}_{i}", i + 0.2, i + 0.6, 0.9) for i in range(int(limit))
        )
        segments = (segment(words),) if words else ()
        return Decoded("en", 0.99, segments, duration, ((0.0, duration),))

    return respond


def every_second(request: DecodeRequest) -> Decoded:
    duration = request.duration_s
    words = tuple(Word(f" f{i}", i + 0.2, i + 0.6, 0.9) for i in range(int(duration)))
    return Decoded("en", 0.99, (segment(words),) if words else (), duration, ((0.0, duration),))


def event_words(event: dict) -> list[dict]:
    return [w for s in event["segments"] for w in s["words"]]


def test_an_early_stop_is_decoded_again_until_the_speech_is_covered():
    engine = FakeEngine(respond=stops_early(after_s=4.0))
    worker = AsrWorker(engine, settings=AsrSettings(fallback_model=None))
    [event] = worker.transcribe([ChunkJob(make_chunk(duration_s=10.0))])
    starts = [w["start_s"] for w in event_words(event)]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert event["speech_coverage"] >= 0.9 and not event["low_coverage"]
    assert event["redecodes"] >= 1 and len(engine.calls) >= 2
    assert event["speech_s"] == pytest.approx(10.0)


def test_gaps_of_several_chunks_are_decoded_in_one_batch():
    engine = FakeEngine(respond=stops_early())
    worker = AsrWorker(engine, settings=AsrSettings(fallback_model=None))
    jobs = [ChunkJob(make_chunk(duration_s=6.0, recording_id=r)) for r in ("a", "b", "c")]
    worker.transcribe(jobs)
    assert [len(call) for call in engine.calls[:2]] == [3, 3]


def test_speech_the_main_model_keeps_missing_goes_to_the_fallback():
    main = FakeEngine(respond=stops_early(after_s=2.0))
    main.respond = lambda r: (
        stops_early(after_s=2.0)(r)
        if r.duration_s > 4
        else Decoded("en", 0.99, (), r.duration_s, ((0.0, r.duration_s),))
    )
    fallback = FakeEngine("fake-fallback", respond=every_second)
    worker = AsrWorker(main, fallback, settings=AsrSettings())
    [event] = worker.transcribe([ChunkJob(make_chunk(duration_s=10.0))])
    assert fallback.calls and event["decode_settings"]["redecode_model"] == "fake-fallback"
    assert event["speech_coverage"] >= 0.9 and not event["low_coverage"]
    assert event["model"]["name"] == "fake-main" and not event["fallback_used"]


def test_speech_no_model_transcribes_is_flagged_not_hidden():
    deaf = FakeEngine(respond=lambda r: Decoded("en", 0.99, (), r.duration_s, ((0.0, r.duration_s),)))
    worker = AsrWorker(deaf, settings=AsrSettings(fallback_model=None))
    [event] = worker.transcribe([ChunkJob(make_chunk(duration_s=8.0))])
    assert event["low_coverage"] and event["speech_coverage"] == 0.0
    assert event_words(event) == [] and event["redecodes"] == 0
    assert len(deaf.calls) == 2  # the first pass and one try of the gap, not one per pass


def test_coverage_counts_only_the_speech_the_keep_window_owns():
    engine = FakeEngine(respond=stops_early(after_s=8.0))
    worker = AsrWorker(engine, settings=AsrSettings(fallback_model=None))
    chunk = make_chunk(duration_s=10.0, start_s=100.0, keep_from_s=100.0, keep_until_s=108.0)
    [event] = worker.transcribe([ChunkJob(chunk)])
    assert len(engine.calls) == 1  # the last 2 s belong to the next chunk
    assert event["speech_s"] == pytest.approx(8.0) and event["speech_coverage"] >= 0.9


def test_a_repetition_loop_is_trimmed_counted_and_its_audio_decoded_again():
    def loop_then_speech(request: DecodeRequest) -> Decoded:
        d = request.duration_s
        if d > 5.9:  # "hello" six times over the first 6 s of the chunk
            words = tuple(Word(" Hello.", i + 0.1, i + 0.5, 0.8) for i in range(6))
        else:
            words = tuple(Word(f" r{i}", i + 0.2, i + 0.6, 0.9) for i in range(int(d)))
        return Decoded("en", 0.99, tuple(segment((w,)) for w in words), d, ((0.0, d),))

    worker = AsrWorker(FakeEngine(respond=loop_then_speech), settings=AsrSettings(fallback_model=None))
    [event] = worker.transcribe([ChunkJob(make_chunk(duration_s=6.0))])
    text = [w["word"] for w in event_words(event)]
    assert event["repetition_loops"] >= 1 and text.count("Hello.") == 1
    assert event["redecodes"] >= 1 and len(text) > 1


def test_a_loop_too_short_to_leave_a_gap_is_still_decoded_again():
    def short_loop(request: DecodeRequest) -> Decoded:
        d = request.duration_s
        if d > 2.9:  # first pass: "Hello." five times in 1.5 s, then one real word
            words = (
                *(Word(" Hello.", 0.2 + 0.3 * i, 0.45 + 0.3 * i, 0.8) for i in range(5)),
                Word(" there", 2.2, 2.6, 0.9),
            )
        else:  # the loop's audio alone
            words = (
                Word(" Hello?", 0.1, 0.4, 0.9),
                Word(" Oh,", 0.6, 0.8, 0.9),
                Word(" hello.", 0.9, 1.3, 0.9),
            )
        return Decoded("en", 0.99, tuple(segment((w,)) for w in words), d, ((0.0, d),))

    worker = AsrWorker(FakeEngine(respond=short_loop), settings=AsrSettings(fallback_model=None))
    [event] = worker.transcribe([ChunkJob(make_chunk(duration_s=3.0))])
    assert [w["word"] for w in event_words(event)] == ["Hello?", "Oh,", "hello.", "there"]
    assert event["repetition_loops"] == 1 and event["redecodes"] == 1

"""The worker with fake engines: events, timeline, batching, fallback, routing, timings."""

from __future__ import annotations

import time

import fastavro.validation
import numpy as np
import pytest

import schemas
from services.asr.config import AsrSettings, PoolSettings, TenantPrompt
from services.asr.results import Decoded, Segment, Word
from services.asr.worker import AsrWorker, ChunkJob, DecodeFailed, DecodeTimeout
from tests.unit.asr.fakes import TRACE_ID, FakeEngine, make_chunk

CHUNK_SCHEMA = schemas.load("ChunkTranscript")


def settings(**kw) -> AsrSettings:
    return AsrSettings(fallback_model=None, **kw)


def words_of(event: dict) -> list[str]:
    return [w["word"] for s in event["segments"] for w in s["words"]]


def test_event_matches_the_schema_and_names_the_model_and_settings(fake_engine):
    worker = AsrWorker(fake_engine, settings=settings(), pool="batch")
    [event] = worker.transcribe([ChunkJob(make_chunk(duration_s=3.0))])
    fastavro.validation.validate(event, CHUNK_SCHEMA)
    assert event["model"] == {
        "name": "fake-main",
        "version": "1.0",
        "sha256": "ab" * 32,
        "compute_type": "int8",
        "device": "cpu",
    }
    assert event["decode_settings"]["beam_size"] == "5"
    assert event["decode_settings"]["pool"] == "batch"
    assert event["fallback_used"] is False and event["fallback_reason"] is None
    assert words_of(event) == ["w0", "w1", "w2"]


def test_word_times_are_absolute_and_words_outside_the_keep_window_are_dropped(fake_engine):
    chunk = make_chunk(duration_s=5.0, start_s=100.0, keep_from_s=101.0, keep_until_s=104.0)
    [event] = AsrWorker(fake_engine, settings=settings()).transcribe([ChunkJob(chunk)])
    assert words_of(event) == ["w1", "w2", "w3"]
    first = event["segments"][0]
    assert first["words"][0]["start_s"] == pytest.approx(101.2)
    assert (first["start_s"], first["end_s"]) == (pytest.approx(101.2), pytest.approx(103.6))
    assert first["text"] == "w1 w2 w3"


def test_trace_id_of_the_message_is_copied_into_the_event(fake_engine):
    other = "0af7651916cd43dd8448eb211c80319c"
    [event] = AsrWorker(fake_engine, settings=settings()).transcribe([ChunkJob(make_chunk(), trace_id=other)])
    assert event["trace_id"] == other


def test_chunks_of_different_recordings_are_decoded_in_one_engine_call(fake_engine):
    jobs = [ChunkJob(make_chunk(recording_id=f"rec-{i}", duration_s=1.0 + i)) for i in range(3)]
    events = AsrWorker(fake_engine, settings=settings()).transcribe(jobs)
    assert len(fake_engine.calls) == 1 and len(fake_engine.calls[0]) == 3
    assert [e["recording_id"] for e in events] == ["rec-0", "rec-1", "rec-2"]
    assert [e["batch_size"] for e in events] == [3, 3, 3]
    assert [len(words_of(e)) for e in events] == [1, 2, 3]


def test_when_one_chunk_breaks_the_batch_then_only_that_chunk_goes_to_the_fallback():
    main = FakeEngine("main", fail_when=lambda reqs: any(r.duration_s > 2.5 for r in reqs))
    fallback = FakeEngine("fallback")
    jobs = [ChunkJob(make_chunk(duration_s=d)) for d in (2.0, 3.0, 1.0)]
    events = AsrWorker(main, fallback, settings=AsrSettings()).transcribe(jobs)
    assert [e["model"]["name"] for e in events] == ["main", "fallback", "main"]
    assert [e["fallback_used"] for e in events] == [False, True, False]
    assert events[1]["fallback_reason"].startswith("error: RuntimeError: main exploded")
    assert events[1]["retries"] == 1
    assert words_of(events[1]) == ["w0", "w1", "w2"]


def test_chunks_the_main_model_fails_on_one_by_one_reach_the_fallback_in_one_batch():
    main = FakeEngine("main", fail_when=lambda reqs: True)
    fallback = FakeEngine("fallback")
    jobs = [ChunkJob(make_chunk(duration_s=1.0 + i / 10)) for i in range(4)]
    events = AsrWorker(main, fallback, settings=AsrSettings()).transcribe(jobs)
    assert [len(call) for call in main.calls] == [4, 1, 1, 1, 1]
    assert [len(call) for call in fallback.calls] == [4]
    assert all(e["fallback_used"] and e["retries"] == 1 for e in events)


def test_when_the_main_model_exceeds_its_budget_then_the_fallback_answers():
    main, fallback = FakeEngine("main", delay_s=0.6), FakeEngine("fallback")
    cfg = AsrSettings(realtime=PoolSettings(timeout_s=0.1))
    worker = AsrWorker(main, fallback, settings=cfg, pool="realtime")
    started = time.perf_counter()
    [event] = worker.transcribe([ChunkJob(make_chunk())])
    assert time.perf_counter() - started < 0.5  # did not wait for the slow model
    assert event["fallback_used"] and event["model"]["name"] == "fallback"
    assert event["fallback_reason"] == "timeout: main exceeded 0.1 s"
    # While the late batch still runs, the next batch does not queue behind it.
    [again] = worker.transcribe([ChunkJob(make_chunk())])
    assert again["fallback_reason"] == "timeout: main still busy with a batch over budget"
    assert len(main.calls) == 1
    time.sleep(0.6)
    [later] = worker.transcribe([ChunkJob(make_chunk())])
    assert later["model"]["name"] == "fallback"  # still over budget: 0.6 s > 0.1 s
    worker.close()


def test_when_main_and_fallback_both_fail_then_the_chunk_is_an_error_entry():
    main = FakeEngine("main", fail_when=lambda reqs: True)
    fallback = FakeEngine("fallback", fail_when=lambda reqs: True)
    [result] = AsrWorker(main, fallback, settings=AsrSettings()).transcribe([ChunkJob(make_chunk())])
    assert isinstance(result, DecodeFailed)
    assert "fallback failed too" in str(result)


def test_without_a_fallback_a_failed_chunk_is_an_error_and_the_others_still_succeed():
    main = FakeEngine("main", fail_when=lambda reqs: any(r.duration_s > 2.5 for r in reqs))
    results = AsrWorker(main, settings=settings()).transcribe(
        [ChunkJob(make_chunk(duration_s=3.0)), ChunkJob(make_chunk(duration_s=1.0))]
    )
    assert isinstance(results[0], DecodeFailed)
    assert isinstance(results[1], dict) and words_of(results[1]) == ["w0"]


def test_a_payload_that_does_not_match_its_encoding_fails_only_its_own_chunk(fake_engine):
    odd, mulaw = make_chunk(), make_chunk()
    odd["pcm"] = odd["pcm"][:-1]
    mulaw["encoding"] = "mulaw"
    results = AsrWorker(fake_engine, settings=settings()).transcribe(
        [ChunkJob(odd), ChunkJob(make_chunk()), ChunkJob(mulaw)]
    )
    assert isinstance(results[0], ValueError) and isinstance(results[2], ValueError)
    assert isinstance(results[1], dict)


def test_a_chunk_longer_than_one_whisper_window_is_rejected(fake_engine):
    [result] = AsrWorker(fake_engine, settings=settings()).transcribe([ChunkJob(make_chunk(duration_s=31.0))])
    assert isinstance(result, ValueError)
    assert fake_engine.calls == []


def test_a_digitally_silent_chunk_is_not_decoded_and_has_no_segments(fake_engine):
    silent = make_chunk(np.zeros(32000, dtype=np.float32))
    [event] = AsrWorker(fake_engine, settings=settings()).transcribe([ChunkJob(silent)])
    assert fake_engine.calls == []
    assert event["segments"] == []
    assert event["decode_settings"]["skipped"] == "silent_chunk"
    fastavro.validation.validate(event, CHUNK_SCHEMA)


def test_noisy_chunks_go_to_the_low_snr_model_when_one_is_configured():
    main, noisy = FakeEngine("main"), FakeEngine("robust")
    worker = AsrWorker(main, low_snr=noisy, settings=settings(low_snr_db=10.0))
    events = worker.transcribe([ChunkJob(make_chunk(snr_db=3.0)), ChunkJob(make_chunk(snr_db=25.0))])
    assert [e["model"]["name"] for e in events] == ["robust", "main"]
    assert events[0]["decode_settings"]["routed"] == "low_snr: snr_db 3.0 < 10.0"
    assert events[0]["fallback_used"] is False
    assert len(main.calls[0]) == 1 and len(noisy.calls[0]) == 1


def test_tenant_prompt_and_hotwords_reach_the_engine_and_the_event(fake_engine):
    cfg = settings(
        tenant_prompts={"acme": TenantPrompt(initial_prompt="Kafka meeting.", hotwords="ClickHouse")}
    )
    events = AsrWorker(fake_engine, settings=cfg).transcribe(
        [ChunkJob(make_chunk(tenant="acme")), ChunkJob(make_chunk(tenant="other"))]
    )
    acme, other = fake_engine.calls[0]
    assert (acme.initial_prompt, acme.hotwords) == ("Kafka meeting.", "ClickHouse")
    assert (other.initial_prompt, other.hotwords) == (None, None)
    assert events[0]["decode_settings"]["hotwords"] == "ClickHouse"
    assert "hotwords" not in events[1]["decode_settings"]


def test_the_language_hint_of_the_chunk_reaches_the_engine(fake_engine):
    AsrWorker(fake_engine, settings=settings()).transcribe([ChunkJob(make_chunk(language="de"))])
    assert fake_engine.calls[0][0].language == "de"


def test_queue_time_counts_from_the_message_and_rtf_is_processing_over_duration(fake_engine):
    now = 1_700_000_000.0
    worker = AsrWorker(fake_engine, settings=settings(), clock=lambda: now)
    chunk = make_chunk(duration_s=4.0)
    [event] = worker.transcribe([ChunkJob(chunk, produced_at_ms=int(now * 1000) - 1500)])
    assert event["queue_ms"] == pytest.approx(1500.0)
    assert event["processing_ms"] > 0
    assert event["rtf"] == pytest.approx(event["processing_ms"] / 1000 / 4.0, rel=1e-3)
    assert event["produced_at_ms"] == int(now * 1000)


def test_an_english_only_fallback_is_not_used_for_a_chunk_in_another_language():
    main = FakeEngine("main", fail_when=lambda reqs: True)
    fallback = FakeEngine("tiny.en", multilingual=False)
    [result] = AsrWorker(main, fallback, settings=AsrSettings()).transcribe(
        [ChunkJob(make_chunk(language="fr"))]
    )
    assert isinstance(result, DecodeFailed) and "English-only" in str(result)
    assert fallback.calls == []


def test_when_a_timed_out_chunk_cannot_use_the_fallback_then_it_is_retryable_later():
    main, fallback = FakeEngine("main", delay_s=0.3), FakeEngine("tiny.en", multilingual=False)
    worker = AsrWorker(main, fallback, settings=AsrSettings(realtime=PoolSettings(timeout_s=0.05)))
    [result] = worker.transcribe([ChunkJob(make_chunk(language="fr"))])
    assert isinstance(result, DecodeTimeout)
    worker.close()


def test_hallucination_guards_run_on_engine_output(fake_engine):
    def hallucinate(request):
        words = (Word(" Thank", 0.2, 0.5, 0.02), Word(" you.", 0.5, 0.8, 0.9))
        seg = Segment(0.2, 0.8, " Thank you.", words, -1.4, 0.92, 0.7)
        return Decoded("en", 1.0, (seg,), request.duration_s)

    engine = FakeEngine(respond=hallucinate)
    [event] = AsrWorker(engine, settings=settings()).transcribe([ChunkJob(make_chunk())])
    assert event["segments"] == []
    assert event["decode_settings"]["guard_dropped"] == "no_speech=1"


def test_trace_id_defaults_to_the_chunks_own(fake_engine):
    [event] = AsrWorker(fake_engine, settings=settings()).transcribe([ChunkJob(make_chunk())])
    assert event["trace_id"] == TRACE_ID


def test_a_chunk_missing_contract_fields_fails_alone(fake_engine):
    broken = make_chunk()
    del broken["keep_from_s"]
    results = AsrWorker(fake_engine, settings=settings()).transcribe(
        [ChunkJob(broken), ChunkJob(make_chunk())]
    )
    assert isinstance(results[0], KeyError) and isinstance(results[1], dict)

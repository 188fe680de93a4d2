"""Kafka wiring: outputs, error mapping, per-message mode, one processor per pool."""

from __future__ import annotations

from mesh import Message, Output, RetryableError, topics
from mesh.trace import TraceContext
from services.asr.app import BatchHandler, build_processor, group_id
from services.asr.config import AsrSettings, PoolSettings
from services.asr.worker import AsrWorker, DecodeTimeout
from tests.unit.asr.fakes import FakeEngine, make_chunk

OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"


def message(chunk: dict, offset: int = 0) -> Message:
    return Message(topics.CHUNKS_REALTIME, 0, offset, chunk["recording_id"].encode(), "AudioChunk",
                   chunk, [], TraceContext(OTHER_TRACE, "00f067aa0ba902b7"), 1_700_000_000_000)


class ScriptedWorker:
    def __init__(self, results):
        self.results = results
        self.jobs = []

    def transcribe(self, jobs):
        self.jobs.extend(jobs)
        return self.results[: len(jobs)]


def test_each_chunk_gives_one_transcript_keyed_by_recording_with_the_trace_copied():
    worker = AsrWorker(FakeEngine(), settings=AsrSettings(fallback_model=None))
    handler = BatchHandler(worker, "realtime")
    results = handler([message(make_chunk(recording_id="a")), message(make_chunk(recording_id="b"))])
    assert [len(r) for r in results] == [1, 1]
    out: Output = results[1][0]
    assert (out.topic, out.schema, out.key) == (topics.TRANSCRIPTS, "ChunkTranscript", "b")
    assert out.value["trace_id"] == OTHER_TRACE


def test_timeouts_are_retried_and_other_errors_go_to_the_dead_letter_topic():
    handler = BatchHandler(ScriptedWorker([DecodeTimeout("slow"), ValueError("bad pcm")]), "batch")
    timeout, bad = handler([message(make_chunk()), message(make_chunk())])
    assert isinstance(timeout, RetryableError) and "slow" in str(timeout)
    assert isinstance(bad, ValueError)


def test_a_batch_of_one_still_gets_its_error_as_an_entry():
    handler = BatchHandler(ScriptedWorker([ValueError("bad pcm")]), "realtime")
    [result] = handler([message(make_chunk())])
    assert isinstance(result, ValueError) and "bad pcm" in str(result)


def test_the_message_produced_time_and_retries_reach_the_worker():
    worker = ScriptedWorker([ValueError("unused")])
    msg = message(make_chunk(produced_at_ms=123))
    msg.retries = 2
    BatchHandler(worker, "realtime").handle([msg])
    assert (worker.jobs[0].produced_at_ms, worker.jobs[0].retries) == (123, 2)


def test_each_pool_consumes_its_own_topic_in_its_own_group_with_its_own_batching():
    settings = AsrSettings(fallback_model=None, realtime=PoolSettings(batch_size=3,
                                                                      batch_timeout_ms=40))
    worker = AsrWorker(FakeEngine(), settings=settings)
    seen = {}
    for pool in ("realtime", "batch"):
        proc = build_processor(pool, settings, worker=worker, consumer=object(), publisher=object())
        seen[pool] = (proc.topics, proc.batch_size, proc.batch_timeout_s, proc.handler.sensor)
    assert seen["realtime"][:3] == ([topics.CHUNKS_REALTIME], 3, 0.04)
    assert seen["batch"][:3] == ([topics.CHUNKS_BATCH], 16, 1.0)
    assert seen["batch"][3] is not None
    assert group_id("realtime") != group_id("batch")

"""Kafka wiring: outputs, error mapping, per-message mode, one processor per pool, metrics,
the gate watcher running with the loop."""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry

from mesh import MeshSettings, Message, Output, RetryableError, topics
from mesh.metrics import PrometheusSensor
from mesh.trace import TraceContext
from services.asr.app import BatchHandler, build_processor, group_id
from services.asr.config import AsrSettings, PoolSettings, RolloutSettings
from services.asr.rollout import GateWatcher
from services.asr.worker import AsrWorker, DecodeTimeout
from tests.unit.asr.fakes import FakeEngine, make_chunk

OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"


def message(chunk: dict, offset: int = 0) -> Message:
    return Message(
        topics.CHUNKS_REALTIME,
        0,
        offset,
        chunk["recording_id"].encode(),
        "AudioChunk",
        chunk,
        [],
        TraceContext(OTHER_TRACE, "00f067aa0ba902b7"),
        1_700_000_000_000,
    )


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
    settings = AsrSettings(fallback_model=None, realtime=PoolSettings(batch_size=3, batch_timeout_ms=40))
    worker = AsrWorker(FakeEngine(), settings=settings)
    seen = {}
    for pool in ("realtime", "batch"):
        proc = build_processor(pool, settings, worker=worker, consumer=object(), publisher=object())
        seen[pool] = (proc.topics, proc.batch_size, proc.batch_timeout_s, proc.handler.sensor)
    assert seen["realtime"][:3] == ([topics.CHUNKS_REALTIME], 3, 0.04)
    assert seen["batch"][:3] == ([topics.CHUNKS_BATCH], 16, 1.0)
    assert seen["batch"][3] is not None
    assert group_id("realtime") != group_id("batch")


def rollout_settings(**kw) -> AsrSettings:
    return AsrSettings(
        fallback_model=None, rollout=RolloutSettings(candidate_model="cand", candidate_share=1.0, **kw)
    )


def test_asr_metrics_are_labelled_with_the_arm():
    worker = AsrWorker(FakeEngine("main"), candidate=FakeEngine("cand"), settings=rollout_settings())
    sensor = PrometheusSensor("asr", CollectorRegistry())
    handler = BatchHandler(worker, "realtime", sensor)
    handler([message(make_chunk(recording_id="a")), message(make_chunk(recording_id="b", arm="control"))])
    sample = sensor.registry.get_sample_value
    base = {"service": "asr", "pool": "realtime"}
    assert sample("stt_asr_rtf_count", {**base, "model": "cand", "arm": "candidate"}) == 1
    assert sample("stt_asr_rtf_count", {**base, "model": "main", "arm": "control"}) == 1
    # event counters read 0 from a label set's first chunk, so a first event is an increase
    for counter in ("asr_fallbacks", "asr_redecodes", "asr_low_coverage_chunks", "asr_repetition_loops"):
        assert sample(f"stt_{counter}_total", {**base, "model": "main", "arm": "control"}) == 0.0, counter


def test_retries_read_zero_per_topic_from_its_first_message():
    sensor = PrometheusSensor("svc", CollectorRegistry())
    assert sensor.registry.get_sample_value("stt_retries_total", {"service": "svc", "topic": "in"}) is None
    sensor.on_message_in("in")
    assert sensor.registry.get_sample_value("stt_retries_total", {"service": "svc", "topic": "in"}) == 0.0


def test_with_a_candidate_the_processor_watches_the_gates_and_exports_the_rollout():
    worker = AsrWorker(FakeEngine("main"), candidate=FakeEngine("cand"), settings=rollout_settings())
    proc = build_processor(
        "realtime",
        worker.settings,
        worker=worker,
        consumer=object(),
        publisher=object(),
        gates_topic="gates-x",
    )
    assert isinstance(proc.gates, GateWatcher) and proc.gates.topic == "gates-x"
    assert proc.gates.router is worker.router and not proc.gates.running
    sample = proc.sensor.registry.get_sample_value  # type: ignore[attr-defined]
    labels = {"service": "asr", "model": "cand"}
    assert sample("stt_asr_rollout_share", {**labels, "arm": "candidate"}) == 1.0
    assert sample("stt_asr_rollout_state", labels) == 0.0
    plain = build_processor(
        "realtime",
        AsrSettings(fallback_model=None),
        worker=AsrWorker(FakeEngine(), settings=AsrSettings(fallback_model=None)),
        consumer=object(),
        publisher=object(),
    )
    assert plain.gates is None


def test_the_gate_watcher_starts_with_the_loop_and_stops_with_it_even_when_the_loop_fails():
    class Gates:
        calls: list[str] = []

        def start(self):
            self.calls.append("start")

        def stop(self):
            self.calls.append("stop")

    worker = AsrWorker(FakeEngine(), settings=AsrSettings(fallback_model=None))
    proc = build_processor(
        "realtime",
        worker.settings,
        MeshSettings(metrics_port=None),
        worker=worker,
        consumer=object(),
        publisher=object(),
    )
    proc.gates = Gates()  # type: ignore[assignment]
    errors: list[BaseException] = []

    def run() -> None:  # in a thread, so the loop installs no signal handlers in pytest's
        try:
            proc.run()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert [type(e) for e in errors] == [AttributeError]  # object() cannot subscribe
    assert Gates.calls == ["start", "stop"]


def test_the_batch_pool_budget_derives_from_the_poll_interval_and_an_explicit_one_wins():
    settings = AsrSettings()
    assert settings.batch.timeout_s is None and settings.realtime.timeout_s == 20.0
    mesh = MeshSettings(metrics_port=None, max_poll_interval_ms=100_000)
    worker = AsrWorker(
        FakeEngine(),
        FakeEngine("fallback"),
        settings=settings,
        pool="batch",
        work_budget_s=mesh.work_budget_s(),
    )
    assert worker.timeout_s == 80.0
    default = AsrWorker(FakeEngine(), FakeEngine("fallback"), settings=settings, pool="batch")
    assert default.timeout_s == 240.0  # 0.8 x librdkafka's 300 s
    explicit = AsrSettings(batch=PoolSettings(timeout_s=30.0))
    assert (
        AsrWorker(
            FakeEngine(), FakeEngine("fallback"), settings=explicit, pool="batch", work_budget_s=80.0
        ).timeout_s
        == 30.0
    )


def test_the_heap_is_trimmed_after_each_batch_unless_switched_off(monkeypatch):
    from services.asr import heap

    trims: list[int] = []
    monkeypatch.setattr(heap, "trim", lambda: trims.append(1) or True)
    for enabled, expected in ((True, 1), (False, 0)):
        trims.clear()
        settings = AsrSettings(fallback_model=None, trim_heap=enabled)
        worker = AsrWorker(FakeEngine(), settings=settings)
        proc = build_processor(
            "realtime",
            settings,
            MeshSettings(metrics_port=None),
            worker=worker,
            consumer=object(),
            publisher=object(),
        )
        proc.handler([message(make_chunk()), message(make_chunk(seq=1))])  # one batch, one trim
        assert len(trims) == expected


def test_trimming_the_heap_works_on_glibc_and_is_a_no_op_elsewhere():
    import platform

    from services.asr import heap

    # glibc has malloc_trim: the service must find it (the images and CI are glibc); musl and
    # macOS have none, where trim() says so rather than raising
    assert heap.trim() is (platform.libc_ver()[0] == "glibc")

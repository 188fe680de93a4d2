"""The mesh loop against a real broker: no loss, no duplicates, dead letters, retries,
crash recovery and trace propagation."""

from __future__ import annotations

import inspect
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mesh import Message, Output, Processor, Publisher, RetryableError, topics
from mesh.trace import TraceContext, extract, new_trace_id
from tests.kafka_helpers import read_all, run_in_thread, running, wait_for

pytestmark = pytest.mark.integration


def outcome(i: int, trace_id: str | None = None) -> dict:
    return {
        "trace_id": trace_id or new_trace_id(),
        "recording_id": f"rec-{i}",
        "tenant": "t",
        "task": "summary",
        "accepted": True,
        "score": None,
        "latency_ms": float(i),
        "cost_usd": 0.0,
        "model": None,
        "produced_at_ms": int(time.time() * 1000),
    }


def publish(settings, topic: str, values: list[dict]) -> None:
    pub = Publisher(settings, service="test-producer")
    for value in values:
        pub.send(Output(topic, "LlmOutcome", value))
    pub.flush()


def copier(sink: str, seen: list[str] | None = None):
    def handle(msg: Message) -> list[Output]:
        if seen is not None:
            seen.append(msg.value["recording_id"])
        return [Output(sink, "LlmOutcome", {**msg.value, "task": "copied"})]

    return handle


def test_when_two_consumers_share_a_group_then_every_message_is_output_exactly_once(
    mesh_settings, make_topics, unique
):
    source, sink = make_topics(f"in-{unique}", f"out-{unique}", partitions=4)
    n = 300
    publish(mesh_settings, source, [outcome(i) for i in range(n)])
    procs = [
        Processor(
            mesh_settings, service=f"copier{k}", topics=[source], group_id=f"g-{unique}", handler=copier(sink)
        )
        for k in range(2)
    ]
    with running(*procs):
        records = read_all(mesh_settings.bootstrap_servers, sink, expect=n, timeout_s=60, settle_s=2)
    ids = [value["recording_id"] for _, value, _ in records]
    assert len(ids) == n, f"expected {n} outputs, got {len(ids)}"
    assert set(ids) == {f"rec-{i}" for i in range(n)}


def test_when_a_message_is_poison_then_it_goes_to_the_dlq_and_the_rest_flow(
    mesh_settings, make_topics, unique
):
    source, sink = make_topics(f"in-{unique}", f"out-{unique}")
    publish(mesh_settings, source, [outcome(0)])
    pub = Publisher(mesh_settings, service="test-producer")
    pub.send_raw(source, b"\x00not avro at all", b"poison-key", [("x-origin", b"test")])
    pub.flush()
    publish(mesh_settings, source, [outcome(1), {**outcome(2), "task": "explode"}, outcome(3)])

    def handle(msg: Message) -> list[Output]:
        if msg.value["task"] == "explode":
            raise ValueError("task explode is not supported")
        return [Output(sink, "LlmOutcome", msg.value)]

    proc = Processor(mesh_settings, service="svc", topics=[source], group_id=f"g-{unique}", handler=handle)
    with running(proc):
        out = read_all(mesh_settings.bootstrap_servers, sink, expect=3)
        dlq = read_all(mesh_settings.bootstrap_servers, topics.dlq(source), expect=2)
    assert sorted(v["recording_id"] for _, v, _ in out) == ["rec-0", "rec-1", "rec-3"]
    letters = {v["error_type"]: v for schema, v, _ in dlq if schema == "stt.v1.DeadLetter"}
    assert set(letters) == {"SerializationError", "ValueError"}
    poison = letters["SerializationError"]
    assert poison["payload"] == b"\x00not avro at all"
    assert poison["source_key"] == b"poison-key"
    assert poison["source_topic"] == source and poison["source_offset"] == 1
    assert {"key": "x-origin", "value": b"test"} in poison["headers"]
    assert "not supported" in letters["ValueError"]["reason"]


def test_when_a_handler_fails_transiently_then_it_is_retried_and_the_count_is_recorded(
    mesh_settings, make_topics, unique
):
    source, sink = make_topics(f"in-{unique}", f"out-{unique}")
    publish(mesh_settings, source, [outcome(0), {**outcome(1), "task": "always-busy"}])
    attempts: dict[str, int] = {}

    def handle(msg: Message) -> list[Output]:
        rid = msg.value["recording_id"]
        attempts[rid] = attempts.get(rid, 0) + 1
        if msg.value["task"] == "always-busy" or attempts[rid] < 3:
            raise RetryableError("model server busy")
        return [Output(sink, "LlmOutcome", {**msg.value, "score": float(msg.retries)})]

    proc = Processor(mesh_settings, service="svc", topics=[source], group_id=f"g-{unique}", handler=handle)
    with running(proc):
        out = read_all(mesh_settings.bootstrap_servers, sink, expect=1)
        dlq = read_all(mesh_settings.bootstrap_servers, topics.dlq(source), expect=1)
    assert [(v["recording_id"], v["score"]) for _, v, _ in out] == [("rec-0", 2.0)]
    [(_, letter, _)] = dlq
    assert letter["retries"] == mesh_settings.max_retries
    assert attempts["rec-1"] == mesh_settings.max_retries + 1
    assert "retries exhausted" in letter["reason"]
    metric = proc.sensor.registry.get_sample_value  # type: ignore[attr-defined]
    assert metric("stt_messages_in_total", {"service": "svc", "topic": source}) == 2
    assert metric("stt_retries_total", {"service": "svc", "topic": source}) == 2 + mesh_settings.max_retries


def test_when_a_consumer_is_killed_mid_batch_then_a_restart_resumes_with_nothing_lost(
    mesh_settings, make_topics, unique
):
    source, sink = make_topics(f"in-{unique}", f"out-{unique}", partitions=2)
    n = 120
    publish(mesh_settings, source, [outcome(i) for i in range(n)])
    script = Path(__file__).with_name("loop_worker.py")
    args = [sys.executable, str(script), mesh_settings.bootstrap_servers, source, sink, f"g-{unique}", "0.03"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    first = subprocess.Popen(args, env=env)
    try:
        assert wait_for(
            lambda: (
                len(read_all(mesh_settings.bootstrap_servers, sink, expect=25, timeout_s=2, settle_s=0)) >= 25
            ),
            60,
        )
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    before = {v["recording_id"] for _, v, _ in read_all(mesh_settings.bootstrap_servers, sink, expect=1)}
    assert 0 < len(before) < n, "the kill must land mid-stream for this test to mean anything"
    second = subprocess.Popen(args, env=env)
    try:
        records = read_all(mesh_settings.bootstrap_servers, sink, expect=n, timeout_s=90, settle_s=2)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, "SIGTERM must stop the loop cleanly"
    ids = [v["recording_id"] for _, v, _ in records]
    assert set(ids) == {f"rec-{i}" for i in range(n)}, "a message was lost across the crash"
    # at-least-once: the batch in hand at the kill may be produced twice, nothing more
    poll_batch = inspect.signature(Processor).parameters["poll_batch"].default
    assert len(ids) - n <= poll_batch


def test_when_an_event_hops_then_its_trace_id_survives_with_a_new_span(mesh_settings, make_topics, unique):
    source, sink = make_topics(f"in-{unique}", f"out-{unique}")
    origin = TraceContext.new()
    pub = Publisher(mesh_settings, service="test-producer")
    pub.send(Output(source, "LlmOutcome", outcome(0, origin.trace_id)), origin)
    pub.flush()
    proc = Processor(
        mesh_settings, service="svc", topics=[source], group_id=f"g-{unique}", handler=copier(sink)
    )
    with running(proc):
        [(_, value, raw)] = read_all(mesh_settings.bootstrap_servers, sink, expect=1)
    hop = extract(raw.headers())
    assert hop is not None
    assert hop.trace_id == origin.trace_id == value["trace_id"]
    assert hop.span_id != origin.span_id


def test_when_stop_is_requested_then_run_returns_and_commits(mesh_settings, make_topics, unique):
    source, sink = make_topics(f"in-{unique}", f"out-{unique}")
    publish(mesh_settings, source, [outcome(i) for i in range(5)])
    seen: list[str] = []
    proc = Processor(
        mesh_settings, service="svc", topics=[source], group_id=f"g-{unique}", handler=copier(sink, seen)
    )
    thread = threading.Thread(target=proc.run)
    thread.start()
    assert wait_for(lambda: len(seen) == 5, 30)
    proc.stop()
    thread.join(30)
    assert not thread.is_alive()
    assert replayed(mesh_settings, source, sink, f"g-{unique}") == [], (
        "offsets committed on stop: a restart must not reprocess"
    )


def replayed(settings, source: str, sink: str, group: str, listen_s: float = 5.0) -> list[str]:
    """What a fresh consumer of ``group`` processes within ``listen_s`` of being assigned its
    partitions: [] when all is committed. Absence can only be observed by waiting.
    """
    again: list[str] = []
    proc = Processor(settings, service="svc", topics=[source], group_id=group, handler=copier(sink, again))
    thread = run_in_thread(proc.run)
    assert wait_for(lambda: proc.health.ready, 30), "never assigned: nothing would have been replayed"
    time.sleep(listen_s)
    proc.stop()
    thread.join(30)
    return again


def part(i: int, of: int, rid: str = "rec-held") -> dict:
    return {**outcome(i), "recording_id": rid, "task": f"part {i} of {of}"}


def assembler(sink: str, state: dict[str, list[int]]):
    """Collects parts per recording in memory and emits once all have arrived."""

    def handle(msg: Message) -> list[Output]:
        rid = msg.value["recording_id"]
        i, of = (int(x) for x in msg.value["task"].split()[1::2])
        parts = state.setdefault(rid, [])
        if i not in parts:
            parts.append(i)
        if len(parts) < of:
            msg.hold()
            return []
        msg.release_key()
        return [Output(sink, "LlmOutcome", {**msg.value, "task": ",".join(map(str, sorted(parts)))})]

    return handle


def test_when_a_stateful_consumer_stops_mid_recording_then_held_parts_are_replayed(
    mesh_settings, make_topics, unique
):
    source, sink = make_topics(f"in-{unique}", f"out-{unique}")
    publish(
        mesh_settings, source, [part(0, 4), part(1, 4), {**outcome(9), "task": "part 0 of 1"}, part(2, 4)]
    )
    first_state: dict[str, list[int]] = {}
    first = Processor(
        mesh_settings,
        service="svc",
        topics=[source],
        group_id=f"g-{unique}",
        handler=assembler(sink, first_state),
    )
    thread = run_in_thread(first.run)
    assert wait_for(lambda: len(first_state.get("rec-held", [])) == 3, 30)
    first.stop()
    thread.join(30)
    # the process is gone with its memory; the last part arrives for a fresh one
    publish(mesh_settings, source, [part(3, 4)])
    second_state: dict[str, list[int]] = {}
    second = Processor(
        mesh_settings,
        service="svc",
        topics=[source],
        group_id=f"g-{unique}",
        handler=assembler(sink, second_state),
    )
    with running(second):
        out = read_all(mesh_settings.bootstrap_servers, sink, expect=3)
    held = [v["task"] for _, v, _ in out if v["recording_id"] == "rec-held"]
    assert held == ["0,1,2,3"], "the parts held by the first process must be replayed to the second"


def test_a_tick_can_release_a_key_that_timed_out(mesh_settings, make_topics, unique):
    source, sink = make_topics(f"in-{unique}", f"out-{unique}")
    publish(mesh_settings, source, [part(0, 2, "rec-stuck"), outcome(1)])
    state: dict[str, list[int]] = {}
    released: list[str] = []

    def tick(proc: Processor) -> list[Output]:
        if "rec-stuck" in state and not released:
            proc.release(b"rec-stuck")
            released.append("rec-stuck")
            return [Output(sink, "LlmOutcome", {**part(0, 2, "rec-stuck"), "task": "timed out"})]
        return []

    def handle(msg: Message) -> list[Output]:
        if msg.value["recording_id"] == "rec-stuck":
            state["rec-stuck"] = [0]
            msg.hold()
        return []

    proc = Processor(
        mesh_settings,
        service="svc",
        topics=[source],
        group_id=f"g-{unique}",
        handler=handle,
        tick=tick,
        tick_interval_s=0.2,
    )
    with running(proc):
        out = read_all(mesh_settings.bootstrap_servers, sink, expect=1)
    assert [v["task"] for _, v, _ in out] == ["timed out"]
    again = replayed(mesh_settings, source, sink, f"g-{unique}")
    assert again == [], "a released key's offsets are committed"

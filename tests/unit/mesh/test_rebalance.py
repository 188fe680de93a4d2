"""Assignment tracking, readiness and the stall watchdog, without a broker."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from mesh import MeshSettings, Output, Processor, loop
from mesh.health import Health, HealthServer
from mesh.metrics import NullSensor, PrometheusSensor
from mesh.rebalance import Assignment, ConsumerStalled, close_within
from mesh.serde import AvroSerde
from tests.kafka_helpers import wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def metadata(**partitions: int) -> SimpleNamespace:
    topics = {
        name: SimpleNamespace(partitions=dict.fromkeys(range(n)), error=None)
        for name, n in partitions.items()
    }
    return SimpleNamespace(topics=topics)


class MetadataConsumer:
    """Answers list_topics like a client would: with metadata, or with a timeout."""

    def __init__(self, answer: SimpleNamespace | None) -> None:
        self.answer, self.asked = answer, 0

    def list_topics(self, timeout: float) -> SimpleNamespace:
        self.asked += 1
        if self.answer is None:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT))
        return self.answer


class Pausable:
    """The pause and resume of a consumer, recorded."""

    def __init__(self) -> None:
        self.paused: set[tuple[str, int]] = set()
        self.resumed: list[list[tuple[str, int]]] = []

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.paused |= {(tp.topic, tp.partition) for tp in partitions}

    def resume(self, partitions: list[TopicPartition]) -> None:
        self.resumed.append([(tp.topic, tp.partition) for tp in partitions])
        self.paused -= {(tp.topic, tp.partition) for tp in partitions}


def watch(clock: Clock, limit_s: float = 60.0, sensor=None, grace_s: float = 5.0):
    health = Health(rebalance_grace_s=grace_s, clock=clock)
    forgotten: list = []
    assignment = Assignment(
        ["in"],
        health,
        sensor or NullSensor(),
        limit_s,
        forget=forgotten.extend,
        check_every_s=10.0,
        clock=clock,
    )
    health.unassigned()  # subscribed
    return health, assignment, forgotten


def test_readiness_is_set_on_assign_and_survives_only_a_short_rebalance():
    clock = Clock()
    health, assignment, forgotten = watch(clock, grace_s=5.0)
    assert not health.is_ready(), "not ready before the first assignment"
    assignment.on_assign(Pausable(), [TopicPartition("in", 0), TopicPartition("in", 1)])
    assert health.is_ready() and assignment.owned == {("in", 0), ("in", 1)}
    assignment.on_revoke(None, [TopicPartition("in", 0), TopicPartition("in", 1)])
    assert forgotten == [("in", 0), ("in", 1)] and not assignment.owned
    clock.now += 4.0
    assert health.is_ready(), "a rebalance shorter than the grace keeps readiness"
    clock.now += 2.0
    assert not health.is_ready() and health.alive()
    assignment.on_assign(Pausable(), [TopicPartition("in", 1)])
    assert health.is_ready() and health.unassigned_for() == 0.0


def test_outputs_waiting_for_acknowledgement_past_the_grace_clear_readiness():
    clock = Clock()
    health, assignment, _ = watch(clock, grace_s=5.0)
    assignment.on_assign(Pausable(), [TopicPartition("in", 0)])
    with health.awaiting_acks():
        clock.now += 4.0
        assert health.is_ready()
        clock.now += 2.0
        assert not health.is_ready(), "a broker that acknowledges nothing is not ready"
    assert health.is_ready()


def test_a_lost_assignment_clears_readiness_and_is_counted():
    clock, sensor = Clock(), PrometheusSensor("svc")
    health, assignment, _ = watch(clock, sensor=sensor, grace_s=0.0)
    metric = sensor.registry.get_sample_value
    assert metric("stt_assignments_lost_total", {"service": "svc"}) == 0
    assignment.on_assign(Pausable(), [TopicPartition("in", 0)])
    assert metric("stt_assigned_partitions", {"service": "svc"}) == 1
    assignment.on_lost(None, [TopicPartition("in", 0)])
    assert not health.is_ready()
    assert metric("stt_assignments_lost_total", {"service": "svc"}) == 1
    assert metric("stt_rebalances_total", {"service": "svc", "event": "lost"}) == 1
    assert metric("stt_assigned_partitions", {"service": "svc"}) == 0


def test_a_partition_paused_when_it_was_revoked_is_resumed_when_it_is_assigned_again():
    """librdkafka keeps a pause across the revocation (tests/integration/test_pause_rebalance.py)."""
    _, assignment, _ = watch(Clock())
    consumer = Pausable()
    assignment.on_assign(consumer, [TopicPartition("in", 0), TopicPartition("in", 1)])
    consumer.pause([TopicPartition("in", 0), TopicPartition("in", 1)])  # long work in hand
    assignment.on_lost(consumer, [TopicPartition("in", 0), TopicPartition("in", 1)])
    assignment.on_assign(consumer, [TopicPartition("in", 1)])
    assert consumer.paused == {("in", 0)} and consumer.resumed[-1] == [("in", 1)]
    assignment.on_assign(consumer, [])  # nothing to resume: no call
    assert len(consumer.resumed) == 2


def test_a_consumer_unassigned_past_the_limit_while_its_topics_have_partitions_is_stalled():
    clock = Clock()
    health, assignment, _ = watch(clock, limit_s=60.0)
    consumer = MetadataConsumer(metadata(**{"in": 3, "other": 5}))
    clock.now += 59.0
    assert assignment.check(consumer) is None and consumer.asked == 0
    clock.now += 2.0
    reason = assignment.check(consumer)
    assert reason is not None and "3 partition(s)" in reason and "61s" in reason
    assert health.alive(), "the loop, not the check, decides to mark the health stalled"


def test_a_consumer_that_reaches_no_broker_past_the_limit_is_stalled():
    clock = Clock()
    _, assignment, _ = watch(clock, limit_s=60.0)
    assignment.note_stats(
        {
            "brokers": {  # what a broker outage looks like
                "127.0.0.1:9092/bootstrap": {"source": "configured", "state": "TRY_CONNECT"},
                "GroupCoordinator": {"source": "logical", "state": "INIT"},
                ":0/internal": {"source": "internal", "state": "UP"},
            }
        }
    )
    clock.now += 61.0
    reason = assignment.check(MetadataConsumer(None))
    assert reason is not None and "no broker answered" in reason
    assert "127.0.0.1:9092/bootstrap (configured) TRY_CONNECT" in reason and "internal" not in reason


def test_a_client_that_has_known_no_broker_for_a_while_is_stalled_even_when_assigned():
    clock = Clock()
    _, assignment, _ = watch(clock, limit_s=600.0)
    assignment.on_assign(Pausable(), [TopicPartition("in", 0)])
    coordinator = {"GroupCoordinator": {"source": "logical", "state": "INIT"}}
    coordinator_only = {"brokers": coordinator}
    up = {"brokers": {"127.0.0.1:9092/1": {"source": "learned", "state": "UP"}, **coordinator}}
    assignment.note_stats(coordinator_only)
    clock.now += 20.0
    assignment.note_stats(up)  # a re-bootstrap or a learned broker: not orphaned
    assignment.note_stats(coordinator_only)
    clock.now += 29.0
    assert assignment.check(MetadataConsumer(None)) is None
    clock.now += 2.0
    reason = assignment.check(MetadataConsumer(None))
    assert reason is not None and "known no broker for 31s" in reason and "#5301" in reason


def test_topics_without_partitions_are_no_stall_and_metadata_is_asked_at_most_every_interval():
    clock = Clock()
    _, assignment, _ = watch(clock, limit_s=60.0)
    consumer = MetadataConsumer(metadata(other=2))  # the subscribed topic does not exist yet
    clock.now += 61.0
    assert assignment.check(consumer) is None
    clock.now += 5.0
    assert assignment.check(consumer) is None and consumer.asked == 1
    consumer.answer = metadata(**{"in": 1})
    clock.now += 5.0
    assert assignment.check(consumer) is not None and consumer.asked == 2


def test_an_empty_assignment_is_membership_not_a_stall():
    clock = Clock()
    health, assignment, _ = watch(clock, limit_s=60.0)
    assignment.on_assign(Pausable(), [])  # more members than partitions
    clock.now += 600.0
    health.beat()
    assert health.is_ready() and assignment.check(MetadataConsumer(metadata(**{"in": 1}))) is None


def test_a_stalled_health_fails_the_liveness_probe():
    health, sensor = Health(), PrometheusSensor("svc")
    health.assigned()
    server = HealthServer(health, sensor.registry, "127.0.0.1", 0).start()
    try:
        assert _status(server.port, "/healthz") == 200 and _status(server.port, "/readyz") == 200
        health.stalled = "no partition assignment for 400s"
        assert _status(server.port, "/healthz") == 503 and _status(server.port, "/readyz") == 503
    finally:
        server.stop()


def _status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_default_limit_is_the_longest_a_healthy_rebalance_can_take():
    settings = MeshSettings(metrics_port=None)
    assert settings.unassigned_limit_s(settings.consumer_config("g")) == 300 + 45 + 15
    tuned = {"max.poll.interval.ms": "60000", "session.timeout.ms": "10000"}
    assert settings.unassigned_limit_s(tuned) == 85
    assert MeshSettings(unassigned_unhealthy_s=20).unassigned_limit_s(tuned) == 20


class ScriptedConsumer:
    """A consumer whose group never assigns it anything, or assigns and then revokes."""

    def __init__(self, script: list, close_blocks: threading.Event | None = None) -> None:
        self.script, self.stored, self.closed = script, [], False
        self._close_blocks = close_blocks

    def subscribe(self, topics, on_assign, on_revoke, on_lost) -> None:
        self.callbacks = {"assign": on_assign, "revoke": on_revoke, "lost": on_lost}

    def poll(self, timeout: float):
        time.sleep(0.005)  # stands in for the time a real poll waits
        while self.script:
            step = self.script.pop(0)
            if isinstance(step, tuple):
                self.callbacks[step[0]](self, step[1])
            else:
                return step
        return None

    def consume(self, n: int, timeout: float) -> list:
        msg = self.poll(0)  # serves the callbacks scripted next, like the real consume()
        return [msg] if msg is not None else []

    def list_topics(self, timeout: float) -> SimpleNamespace:
        return metadata(**{"in": 2})

    def store_offsets(self, offsets) -> None:
        self.stored.extend((tp.topic, tp.partition, tp.offset) for tp in offsets)

    def resume(self, partitions) -> None: ...

    def commit(self, asynchronous: bool) -> None: ...

    def close(self) -> None:
        if self._close_blocks is not None:
            self._close_blocks.wait()
        self.closed = True


class FakePublisher:
    def __init__(self) -> None:
        self.sent: list[Output] = []

    def send(self, out: Output, trace=None) -> None:
        self.sent.append(out)

    def flush(self, timeout_s: float = 60.0) -> None: ...

    def close(self) -> None: ...


def raw(partition: int, offset: int) -> SimpleNamespace:
    value = {
        "trace_id": "a" * 32,
        "recording_id": f"rec-{offset}",
        "tenant": "t",
        "task": "x",
        "accepted": True,
        "score": None,
        "latency_ms": 1.0,
        "cost_usd": 0.0,
        "model": None,
        "produced_at_ms": int(time.time() * 1000),
    }
    data, headers = AvroSerde().encode("LlmOutcome", value)
    return SimpleNamespace(
        error=lambda: None,
        topic=lambda: "in",
        partition=lambda: partition,
        offset=lambda: offset,
        key=lambda: b"k",
        value=lambda: data,
        headers=lambda: headers,
        timestamp=lambda: (1, value["produced_at_ms"]),
    )


def processor(consumer, limit_s: float = 60.0) -> Processor:
    settings = MeshSettings(metrics_port=None, unassigned_unhealthy_s=limit_s)
    return Processor(
        settings,
        service="svc",
        topics=["in"],
        group_id="g",
        consumer=consumer,
        publisher=FakePublisher(),
        sensor=NullSensor(),
        handler=lambda msg: [Output("out", "LlmOutcome", msg.value)],
    )


def test_when_a_consumer_never_gets_an_assignment_then_run_raises_and_health_fails():
    consumer = ScriptedConsumer([])
    proc = processor(consumer, limit_s=0.2)
    with pytest.raises(ConsumerStalled, match="no partition assignment"):
        proc.run()
    assert not proc.health.alive() and consumer.closed


def test_when_close_hangs_on_a_stalled_consumer_then_run_still_returns(monkeypatch):
    monkeypatch.setattr(loop, "STALLED_CLOSE_TIMEOUT_S", 0.2)
    never = threading.Event()
    proc = processor(ScriptedConsumer([], close_blocks=never), limit_s=0.1)
    finished = threading.Event()

    def run() -> None:
        with pytest.raises(ConsumerStalled):
            proc.run()
        finished.set()

    threading.Thread(target=run, daemon=True).start()
    assert finished.wait(10), "run() must not wait for a close that never returns"
    assert not close_within(ScriptedConsumer([], close_blocks=never), 0.05)


def test_a_message_of_a_partition_revoked_before_it_was_handled_stores_no_offset():
    tp0, tp1 = TopicPartition("in", 0), TopicPartition("in", 1)
    # partition 1's message arrives, then partition 1 is revoked while it is in hand
    consumer = ScriptedConsumer(
        [("assign", [tp0, tp1]), raw(1, 7), ("revoke", [tp0, tp1]), ("assign", [tp0]), raw(0, 3)]
    )
    proc = processor(consumer)
    thread = threading.Thread(target=proc.run)
    thread.start()
    assert wait_for(lambda: len(proc.publisher.sent) == 2, 10)  # type: ignore[attr-defined]
    proc.stop()
    thread.join(10)
    assert len(proc.publisher.sent) == 2  # type: ignore[attr-defined]
    assert consumer.stored == [("in", 0, 4)], "no offset may be stored for the revoked partition"

"""The Processor's offset, hold and long-work bookkeeping against a fake consumer.

``LogConsumer`` is a small in-memory stand-in for a group member: per-partition logs, a
fetch position, pause/resume, and the offsets the loop stores. Each test drives ``run()`` in
a thread and asserts what was stored, sent, paused and polled.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from confluent_kafka import TopicPartition

from mesh import MeshSettings, Message, Output, Processor
from mesh.metrics import NullSensor
from mesh.serde import AvroSerde
from tests.kafka_helpers import wait_for

SERDE = AvroSerde()


def value(rid: str, task: str = "x") -> dict[str, Any]:
    return {
        "trace_id": "a" * 32,
        "recording_id": rid,
        "tenant": "t",
        "task": task,
        "accepted": True,
        "score": None,
        "latency_ms": 1.0,
        "cost_usd": 0.0,
        "model": None,
        "produced_at_ms": int(time.time() * 1000),
    }


def record(topic: str, partition: int, offset: int, key: str, task: str = "x") -> SimpleNamespace:
    data, headers = SERDE.encode("LlmOutcome", value(f"{key}@{offset}", task))
    return SimpleNamespace(
        error=lambda: None,
        topic=lambda: topic,
        partition=lambda: partition,
        offset=lambda: offset,
        key=lambda: key.encode(),
        value=lambda: data,
        headers=lambda: headers,
        timestamp=lambda: (1, int(time.time() * 1000)),
    )


class LogConsumer:
    """Partitions of one topic with their records; assigns all of them on subscribe."""

    def __init__(self, logs: dict[int, list[str]], topic: str = "in") -> None:
        self.topic = topic
        self.logs = {p: [record(topic, p, o, key) for o, key in enumerate(keys)] for p, keys in logs.items()}
        self.position = dict.fromkeys(logs, 0)
        self.paused: set[int] = set()
        self.stored: dict[int, int] = {}
        self.pause_calls: list[list[int]] = []
        self.resume_calls: list[list[int]] = []
        self.polls = 0
        self.prefetched: list[SimpleNamespace] = []  # delivered even after a pause
        self._lock = threading.Lock()
        self.callbacks: dict[str, Callable[..., None]] = {}

    def append(self, partition: int, key: str, task: str = "x") -> None:
        with self._lock:
            log = self.logs[partition]
            log.append(record(self.topic, partition, len(log), key, task))

    # -- the confluent_kafka.Consumer methods the loop uses ---------------------------------
    def subscribe(self, topics: list[str], on_assign: Any, on_revoke: Any, on_lost: Any) -> None:
        self.callbacks = {"assign": on_assign, "revoke": on_revoke, "lost": on_lost}
        on_assign(self, [TopicPartition(self.topic, p) for p in self.logs])

    def revoke(self, partition: int) -> None:
        """Runs the revoke callback inside the next poll, as librdkafka does."""
        self.prefetched.append(SimpleNamespace(revoke=partition))

    def poll(self, timeout: float) -> Any:
        self.polls += 1
        with self._lock:
            while self.prefetched:
                step = self.prefetched.pop(0)
                if hasattr(step, "bounce"):  # revoked and assigned back in one poll
                    tps = [TopicPartition(self.topic, step.bounce)]
                    self.callbacks["revoke"](self, tps)
                    self.callbacks["assign"](self, tps)
                    continue
                if hasattr(step, "revoke"):
                    self.logs.pop(step.revoke)
                    self.callbacks["revoke"](self, [TopicPartition(self.topic, step.revoke)])
                    continue
                return step
            for p, log in self.logs.items():
                if p not in self.paused and self.position[p] < len(log):
                    self.position[p] += 1
                    return log[self.position[p] - 1]
        time.sleep(min(timeout, 0.01))
        return None

    def consume(self, n: int, timeout: float) -> list[Any]:
        out = []
        for _ in range(n):
            raw = self.poll(0)
            if raw is None:
                break
            out.append(raw)
        return out

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.pause_calls.append([tp.partition for tp in partitions])
        self.paused |= {tp.partition for tp in partitions}

    def resume(self, partitions: list[TopicPartition]) -> None:
        self.resume_calls.append([tp.partition for tp in partitions])
        self.paused -= {tp.partition for tp in partitions}

    def store_offsets(self, offsets: list[TopicPartition]) -> None:
        for tp in offsets:
            self.stored[tp.partition] = tp.offset

    def commit(self, asynchronous: bool) -> None: ...

    def list_topics(self, timeout: float) -> SimpleNamespace:
        return SimpleNamespace(topics={})

    def close(self) -> None: ...


class Sent:
    """A publisher that keeps what it was given."""

    def __init__(self) -> None:
        self.sent: list[Output] = []

    def send(self, out: Output, trace: Any = None) -> None:
        self.sent.append(out)

    def flush(self, timeout_s: float = 60.0) -> None: ...

    def close(self) -> None: ...

    def ids(self) -> list[str]:
        return [o.value["recording_id"] for o in self.sent]


def processor(consumer: LogConsumer, handler: Callable[[Message], list[Output]], **kwargs: Any) -> Processor:
    settings = MeshSettings(metrics_port=None, long_work_after_s=0.2, retry_backoff_ms=1)
    return Processor(
        settings,
        service="svc",
        topics=["in"],
        group_id="g",
        consumer=consumer,
        publisher=Sent(),
        sensor=NullSensor(),
        handler=handler,
        **kwargs,
    )


@contextmanager
def running(proc: Processor) -> Iterator[Processor]:
    thread = threading.Thread(target=proc.run, daemon=True)
    thread.start()
    try:
        yield proc
    finally:
        proc.stop()
        thread.join(10)
        assert not thread.is_alive()


def copy(msg: Message) -> list[Output]:
    return [Output("out", "LlmOutcome", msg.value)]


def sent(proc: Processor) -> Sent:
    assert isinstance(proc.publisher, Sent)
    return proc.publisher


# -- offsets and holds -----------------------------------------------------------------------
def test_offsets_are_stored_past_every_handled_message_of_each_partition():
    consumer = LogConsumer({0: ["a", "b", "c"], 1: ["d"]})
    with running(processor(consumer, copy)) as proc:
        assert wait_for(lambda: consumer.stored == {0: 3, 1: 1}, 5), consumer.stored
    assert sorted(sent(proc).ids()) == ["a@0", "b@1", "c@2", "d@0"]


def test_a_held_key_keeps_the_stored_offset_at_its_first_message_until_released():
    def hold_a(msg: Message) -> list[Output]:
        if msg.key == b"a":
            if msg.value["task"] == "last":
                msg.release_key()
            else:
                msg.hold()
        return []

    consumer = LogConsumer({0: ["x", "a", "y", "a", "z"]})
    with running(processor(consumer, hold_a)):
        assert wait_for(lambda: consumer.position[0] == 5, 5)
        time.sleep(0.1)
        assert consumer.stored == {0: 1}, "a crash now must replay from a's first message"
        consumer.append(0, "a", task="last")
        assert wait_for(lambda: consumer.stored == {0: 6}, 5), consumer.stored


def test_a_key_released_by_the_tick_frees_the_offset():
    def hold(msg: Message) -> list[Output]:
        msg.hold()
        return []

    released = threading.Event()

    def tick(proc: Processor) -> list[Output]:
        if consumer.position[0] == 2 and not released.is_set():
            proc.release("k1")
            proc.release(b"k2")
            released.set()
        return []

    consumer = LogConsumer({0: ["k1", "k2"]})
    with running(processor(consumer, hold, tick=tick, tick_interval_s=0.05)):
        assert wait_for(released.is_set, 5)
        assert wait_for(lambda: consumer.stored == {0: 2}, 5), consumer.stored


def test_a_dead_lettered_message_is_passed_like_a_handled_one():
    def explode(msg: Message) -> list[Output]:
        if msg.key == b"bad":
            raise ValueError("no")
        return copy(msg)

    consumer = LogConsumer({0: ["ok", "bad", "ok"]})
    with running(processor(consumer, explode)) as proc:
        assert wait_for(lambda: consumer.stored == {0: 3}, 5), consumer.stored
    topics_sent = [o.topic for o in sent(proc).sent]
    assert topics_sent.count("out") == 2 and topics_sent.count("in.dlq") == 1


# -- long work -------------------------------------------------------------------------------
def slow_on(keys: set[bytes], seconds: float, calls: list[str]) -> Callable[[Message], list[Output]]:
    def handle(msg: Message) -> list[Output]:
        calls.append(msg.value["recording_id"])
        if msg.key in keys:
            time.sleep(seconds)
        return copy(msg)

    return handle


def test_long_work_pauses_every_partition_keeps_polling_and_beating_then_resumes():
    consumer = LogConsumer({0: ["long", "after"], 1: ["other"]})
    calls: list[str] = []
    with running(processor(consumer, slow_on({b"long"}, 1.5, calls))) as proc:
        assert wait_for(lambda: consumer.pause_calls, 5)
        polls_at_pause = consumer.polls
        time.sleep(0.8)
        assert consumer.polls - polls_at_pause >= 5, "the loop must keep polling during long work"
        assert time.monotonic() - proc.health.last_beat < 0.5, "and keep beating"
        assert sorted(consumer.pause_calls[0]) == [0, 1] and consumer.paused == {0, 1}
        assert wait_for(lambda: consumer.stored == {0: 2, 1: 1}, 5), consumer.stored
    assert consumer.resume_calls and not consumer.paused
    assert sorted(calls) == ["after@1", "long@0", "other@0"], "each message handled once"


def test_messages_fetched_before_the_pause_are_handled_after_the_long_work_in_order():
    consumer = LogConsumer({0: ["long"]})
    calls: list[str] = []
    with running(processor(consumer, slow_on({b"long"}, 0.8, calls))):
        assert wait_for(lambda: consumer.pause_calls, 5)
        # librdkafka may deliver what it fetched before the pause took effect
        consumer.append(0, "next1")
        consumer.append(0, "next2")
        consumer.prefetched += consumer.logs[0][1:]
        consumer.position[0] = 3
        assert wait_for(lambda: consumer.stored == {0: 3}, 5), consumer.stored
    assert calls == ["long@0", "next1@1", "next2@2"]


def test_a_partition_revoked_during_long_work_drops_its_backlog_and_stores_nothing_for_it():
    consumer = LogConsumer({0: ["long"], 1: ["p1"]})
    calls: list[str] = []
    consumer.position[1] = 1  # partition 1's message comes through the prefetch below
    with running(processor(consumer, slow_on({b"long"}, 1.0, calls))):
        assert wait_for(lambda: consumer.pause_calls, 5)
        consumer.prefetched.append(consumer.logs[1][0])
        consumer.revoke(1)  # after its message was fetched, before it was handled
        assert wait_for(lambda: consumer.stored.get(0) == 1, 5), consumer.stored
        time.sleep(0.2)
    assert calls == ["long@0"], "the new owner of partition 1 handles p1, not this member"
    assert 1 not in consumer.stored
    assert consumer.resume_calls[-1] == [0], "only what is still owned is resumed"


def test_a_stop_during_long_work_abandons_it_but_commits_what_came_before():
    consumer = LogConsumer({0: ["quick", "long", "never"]})
    calls: list[str] = []
    proc = processor(consumer, slow_on({b"long"}, 3.0, calls))
    with running(proc):
        assert wait_for(lambda: consumer.pause_calls, 5)
        started = time.monotonic()
    assert time.monotonic() - started < 2.0, "stop must not wait for the long work"
    assert sent(proc).ids() == ["quick@0"], "nothing the abandoned work makes is sent"
    assert consumer.stored == {0: 1}, "the long message is redone after the restart"
    assert "never@2" not in calls


def test_a_long_tick_also_keeps_the_consumer_in_its_group():
    consumer = LogConsumer({0: []})
    ticks: list[float] = []

    def tick(proc: Processor) -> list[Output]:
        ticks.append(time.monotonic())
        if len(ticks) == 1:
            time.sleep(1.0)
            return [Output("out", "LlmOutcome", value("from-tick"))]
        return []

    with running(processor(consumer, copy, tick=tick, tick_interval_s=0.05)) as proc:
        assert wait_for(lambda: consumer.pause_calls, 5)
        polls = consumer.polls
        consumer.append(0, "during")
        assert wait_for(lambda: "from-tick" in sent(proc).ids(), 5)
        assert consumer.polls > polls
        assert wait_for(lambda: "during@0" in sent(proc).ids(), 5)
    assert sent(proc).ids().index("from-tick") < sent(proc).ids().index("during@0")


def test_handler_and_tick_never_run_at_once():
    consumer = LogConsumer({0: [f"m{i}" for i in range(30)]})
    inside = threading.Lock()
    overlaps: list[str] = []

    def guarded(name: str, seconds: float) -> None:
        if not inside.acquire(blocking=False):
            overlaps.append(name)
            return
        try:
            time.sleep(seconds)
        finally:
            inside.release()

    def handle(msg: Message) -> list[Output]:
        guarded("handler", 0.01)
        return []

    def tick(proc: Processor) -> list[Output]:
        guarded("tick", 0.3)
        return []

    with running(processor(consumer, handle, tick=tick, tick_interval_s=0.01)):
        assert wait_for(lambda: consumer.stored == {0: 30}, 10), consumer.stored
    assert not overlaps


def test_an_output_too_large_to_send_dead_letters_its_input_and_the_rest_flow():
    from mesh import MessageTooLarge

    class Limited(Sent):
        def send(self, out: Output, trace: Any = None) -> None:
            if out.value.get("task") == "huge":
                raise MessageTooLarge("a 11000000-byte message for out exceeds message.max.bytes")
            super().send(out, trace)

    def handle(msg: Message) -> list[Output]:
        task = "huge" if msg.key == b"big" else "x"
        return [Output("out", "LlmOutcome", {**msg.value, "task": task})]

    consumer = LogConsumer({0: ["ok", "big", "ok"]})
    proc = processor(consumer, handle)
    proc.publisher = Limited()
    with running(proc):
        assert wait_for(lambda: consumer.stored == {0: 3}, 5), consumer.stored
    sent_topics = [o.topic for o in sent(proc).sent]
    assert sent_topics.count("out") == 2 and sent_topics.count("in.dlq") == 1
    (dlq,) = [o for o in sent(proc).sent if o.topic == "in.dlq"]
    assert "message.max.bytes" in dlq.value["reason"] and dlq.value["error_type"] == "MessageTooLarge"


def test_a_partition_revoked_and_assigned_back_during_long_work_is_paused_again():
    consumer = LogConsumer({0: ["long"], 1: []})
    calls: list[str] = []
    with running(processor(consumer, slow_on({b"long"}, 1.2, calls))):
        assert wait_for(lambda: consumer.paused == {0, 1}, 5)
        resumed = len(consumer.resume_calls)
        consumer.prefetched.append(SimpleNamespace(bounce=1))
        assert wait_for(lambda: len(consumer.resume_calls) > resumed, 5), "assigning resumes"
        assert consumer.resume_calls[-1] == [1]
        assert wait_for(lambda: consumer.paused == {0, 1}, 1), "long work in hand pauses it again"
        consumer.append(1, "later")
        assert wait_for(lambda: consumer.stored == {0: 1, 1: 1}, 5), consumer.stored
    assert calls == ["long@0", "later@0"] and not consumer.paused

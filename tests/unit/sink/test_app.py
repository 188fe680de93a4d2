"""The sink's loop with a fake consumer and a fake store: offsets move only after an insert
succeeded; a store that fails pauses the partitions, keeps the loop polling, and is retried
with the same deduplication tokens; revoked partitions are dropped; unreadable messages are
dead-lettered and still move their offset."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from mesh import MeshSettings
from mesh.message import Output
from mesh.metrics import NullSensor
from mesh.serde import AvroSerde
from services.sink.app import Sink
from services.sink.config import SinkSettings
from services.sink.store import RowError, StoreError
from tests import sink_events as ev

SERDE = AvroSerde()
TOPIC = "stt.quality.v1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeMessage:
    def __init__(
        self,
        topic: str,
        partition: int,
        offset: int,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None,
        key: bytes | None = None,
    ) -> None:
        self._topic, self._partition, self._offset = topic, partition, offset
        self._value, self._headers, self._key = value, headers, key

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> list[tuple[str, bytes]] | None:
        return self._headers

    def key(self) -> bytes | None:
        return self._key

    def timestamp(self) -> tuple[int, int]:
        return 1, 1_700_000_000_000

    def error(self) -> None:
        return None


class FakeConsumer:
    """Serves prepared messages of the partitions it was assigned and not paused; records
    every call in ``log`` (shared with the fake store, so their order can be checked)."""

    def __init__(self, log: list[tuple[Any, ...]], clock: Clock, partitions: list[tuple[str, int]]) -> None:
        self.log, self.clock = log, clock
        self.pending: list[FakeMessage] = []
        self.to_assign = [TopicPartition(t, p) for t, p in partitions]
        self.assigned: list[tuple[str, int]] = []
        self.paused: set[tuple[str, int]] = set()
        self.stored: list[tuple[str, int, int]] = []
        self.callbacks: dict[str, Callable[..., None]] = {}
        self.on_idle: Callable[[], None] = lambda: None
        self.closed = False

    # what the tests use
    def serve(self, topic: str, partition: int, offset: int, schema: str, value: dict[str, Any]) -> None:
        data, headers = SERDE.encode(schema, dict(value))
        self.pending.append(FakeMessage(topic, partition, offset, data, headers, key=b"k"))

    def serve_raw(self, msg: FakeMessage) -> None:
        self.pending.append(msg)

    def assign(self, sink: Sink, partitions: list[tuple[str, int]]) -> None:
        self.assigned += partitions
        sink._on_assign(self, [TopicPartition(t, p) for t, p in partitions])

    # the confluent-kafka surface the sink calls
    def subscribe(
        self, topics: list[str], on_assign: Any = None, on_revoke: Any = None, on_lost: Any = None
    ) -> None:
        self.log.append(("subscribe", tuple(topics)))
        self.callbacks = {"assign": on_assign, "revoke": on_revoke, "lost": on_lost}

    def _rebalance(self) -> None:
        if self.to_assign and self.callbacks.get("assign"):
            partitions, self.to_assign = self.to_assign, []
            self.assigned += [(tp.topic, tp.partition) for tp in partitions]
            self.callbacks["assign"](self, partitions)

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[FakeMessage]:
        self._rebalance()
        ready = [m for m in self.pending if (m.topic(), m.partition()) not in self.paused][:num_messages]
        for m in ready:
            self.pending.remove(m)
        self.log.append(("consume", len(ready)))
        self.clock.now += 0.01
        if not ready:
            self.on_idle()
        return ready

    def poll(self, timeout: float = -1) -> None:
        self._rebalance()
        self.log.append(("poll",))
        self.clock.now += timeout  # a paused consumer's poll waits its whole timeout
        self.on_idle()
        return None

    def pause(self, partitions: list[TopicPartition]) -> None:
        tps = {(tp.topic, tp.partition) for tp in partitions}
        self.paused |= tps
        self.log.append(("pause", frozenset(tps)))

    def resume(self, partitions: list[TopicPartition]) -> None:
        tps = {(tp.topic, tp.partition) for tp in partitions}
        self.paused -= tps
        self.log.append(("resume", frozenset(tps)))

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(t, p) for t, p in self.assigned]

    def store_offsets(self, offsets: list[TopicPartition]) -> None:
        got = [(tp.topic, tp.partition, tp.offset) for tp in offsets]
        self.stored += got
        self.log.append(("store_offsets", tuple(sorted(got))))

    def commit(self, asynchronous: bool = True) -> None:
        self.log.append(("commit",))

    def close(self) -> None:
        self.closed = True
        self.log.append(("close",))

    def list_topics(self, timeout: float = -1) -> Any:
        class Meta:
            topics: dict[str, Any] = {}

        return Meta()


class FakeStore:
    def __init__(self, log: list[tuple[Any, ...]]) -> None:
        self.log = log
        self.fail = 0  # how many of the next inserts fail
        self.refuse: set[str] = set()  # recording ids whose rows the store refuses as data
        self.attempts: list[tuple[str, int, str | None]] = []
        self.rows: dict[str, list[dict[str, Any]]] = {}

    def insert(self, table: str, rows: list[list[Any]], columns: list[str], token: str | None = None) -> None:
        self.attempts.append((table, len(rows), token))
        if self.fail:
            self.fail -= 1
            self.log.append(("insert_failed", table, token))
            raise StoreError("ClickHouse is down")
        if "recording_id" in columns and any(r[columns.index("recording_id")] in self.refuse for r in rows):
            self.log.append(("insert_refused", table, token))
            raise RowError(f"{table}: a value does not fit its column")
        self.log.append(("insert", table, token))
        self.rows.setdefault(table, []).extend(dict(zip(columns, r, strict=True)) for r in rows)

    def close(self) -> None:
        pass


class FakePublisher:
    def __init__(self) -> None:
        self.sent: list[Output] = []
        self.flushed = 0
        self.closed = False

    def send(self, out: Output, trace: Any = None) -> None:
        self.sent.append(out)

    def flush(self, timeout_s: float = 60.0) -> None:
        self.flushed += 1

    def close(self, timeout_s: float = 60.0) -> None:
        self.closed = True


class Harness:
    def __init__(self, partitions: list[tuple[str, int]] | None = None, **settings: Any) -> None:
        self.log: list[tuple[Any, ...]] = []
        self.clock = Clock()
        self.partitions = partitions or [(TOPIC, 0), (TOPIC, 1)]
        self.consumer = FakeConsumer(self.log, self.clock, self.partitions)
        self.store = FakeStore(self.log)
        self.publisher = FakePublisher()
        conf = {
            "migrate_on_start": False,
            "http_port": None,
            "batch_max_rows": 1000,
            "batch_max_s": 5.0,
            "retry_min_s": 1.0,
            "retry_max_s": 4.0,
            "topics": [TOPIC],
            "dlq_pattern": None,
            **settings,
        }
        self.sink = Sink(
            MeshSettings(),
            SinkSettings(**conf),
            consumer=self.consumer,
            store=self.store,
            publisher=self.publisher,
            sensor=NullSensor(),
            clock=self.clock,
        )

    def assign(self) -> None:
        self.consumer.to_assign = []
        self.consumer.assign(self.sink, self.partitions)

    def serve_call(self, rid: str, partition: int, first_offset: int) -> int:
        """The events of one call on ``partition``; returns the next free offset."""
        _, events = ev.call(rid)
        for i, (schema, value) in enumerate(events):
            self.consumer.serve(TOPIC, partition, first_offset + i, schema, value)
        return first_offset + len(events)

    def kinds(self) -> list[str]:
        return [entry[0] for entry in self.log]


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_offsets_are_stored_only_after_the_insert_succeeded(h: Harness) -> None:
    h.assign()
    h.serve_call("rec-a", 0, 10)
    h.sink._consume()
    assert h.consumer.stored == [] and h.store.attempts == []
    assert h.sink.flush()
    kinds = h.kinds()
    assert kinds.index("store_offsets") > max(i for i, k in enumerate(kinds) if k == "insert")
    assert h.consumer.stored == [(TOPIC, 0, 15)]
    assert "commit" in kinds[kinds.index("store_offsets") :]
    assert {t for t, _, _ in h.store.attempts} == {"recordings", "quality", "speaker_turns", "transcripts"}
    assert len(h.store.rows["quality"]) == 2


def test_each_batch_is_inserted_with_its_deterministic_token(h: Harness) -> None:
    h.assign()
    h.serve_call("rec-a", 0, 10)  # offsets 10..14: metadata, chunk report, turns, transcript, call report
    h.sink._consume()
    h.sink.flush()
    assert sorted(token for _, _, token in h.store.attempts) == sorted(
        [
            f"{TOPIC}/0/10-10/recordings",
            f"{TOPIC}/0/11-14/quality",
            f"{TOPIC}/0/12-12/speaker_turns",
            f"{TOPIC}/0/13-13/transcripts",
        ]
    )


def test_when_an_insert_fails_then_partitions_pause_and_offsets_do_not_move(h: Harness) -> None:
    h.assign()
    h.serve_call("rec-a", 0, 0)
    h.serve_call("rec-b", 1, 0)
    h.sink._consume()
    h.store.fail = 1
    assert h.sink.flush() is False
    assert h.sink.paused
    assert h.consumer.paused == set(h.partitions)
    assert h.consumer.stored == [] and "commit" not in h.kinds()
    assert h.sink.buffer.rows == 10  # nothing was dropped


def test_when_the_retry_succeeds_then_the_same_tokens_are_sent_and_partitions_resume(h: Harness) -> None:
    h.assign()
    h.serve_call("rec-a", 0, 0)
    h.sink._consume()
    h.store.fail = 2  # the first batch fails twice
    assert not h.sink.flush()
    first = [token for _, _, token in h.store.attempts]
    assert not h.sink.flush()
    assert h.sink.flush()
    tokens = [token for _, _, token in h.store.attempts]
    assert tokens[0] == tokens[1] == first[0]
    assert sorted(set(tokens)) == sorted(b.token for b in _batches_of_one_call())
    assert not h.sink.paused and h.consumer.paused == set()
    assert h.consumer.stored == [(TOPIC, 0, 5)]


def test_a_batch_that_went_in_before_a_later_one_failed_is_sent_again_with_its_token(h: Harness) -> None:
    """Every batch is retried after a failure; its token lets ClickHouse drop the repeat."""
    h.assign()
    h.serve_call("rec-a", 0, 0)
    h.sink._consume()
    h.store.fail = 0
    original = h.store.insert
    calls = {"n": 0}

    def second_fails(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise StoreError("connection reset")
        original(*args, **kwargs)

    h.store.insert = second_fails  # type: ignore[method-assign]
    assert not h.sink.flush()
    assert h.sink.flush()
    inserted = [e[2] for e in h.log if e[0] == "insert"]
    assert len(inserted) == 5 and len(set(inserted)) == 4  # the first batch twice, same token
    assert h.consumer.stored == [(TOPIC, 0, 5)]


def test_a_partition_assigned_while_the_store_is_down_is_paused_too() -> None:
    h = Harness(partitions=[(TOPIC, 0)])
    h.assign()
    h.serve_call("rec-a", 0, 0)
    h.sink._consume()
    h.store.fail = 1
    h.sink.flush()
    h.consumer.assign(h.sink, [(TOPIC, 1)])
    assert (TOPIC, 1) in h.consumer.paused


def test_rows_of_a_revoked_partition_are_dropped_and_not_committed(h: Harness) -> None:
    h.assign()
    h.serve_call("rec-a", 0, 0)
    h.serve_call("rec-b", 1, 100)
    h.sink._consume()
    h.sink.assignment.on_revoke(h.consumer, [TopicPartition(TOPIC, 1)])
    h.consumer.assigned.remove((TOPIC, 1))
    assert h.sink.flush()
    assert {tuple(t.split("/")[:2]) for _, _, t in h.store.attempts} == {(TOPIC, "0")}
    assert h.consumer.stored == [(TOPIC, 0, 5)]
    assert all(r["recording_id"] == "rec-a" for rows in h.store.rows.values() for r in rows)


def test_rows_of_a_partition_revoked_while_the_store_is_down_are_not_retried(h: Harness) -> None:
    h.assign()
    h.serve_call("rec-a", 0, 0)
    h.serve_call("rec-b", 1, 100)
    h.sink._consume()
    h.store.fail = 1
    h.sink.flush()
    h.sink.assignment.on_revoke(h.consumer, [TopicPartition(TOPIC, 1)])
    h.consumer.assigned.remove((TOPIC, 1))
    h.store.attempts.clear()
    assert h.sink.flush()
    assert all(t.startswith(f"{TOPIC}/0/") for _, _, t in h.store.attempts)
    assert h.consumer.stored == [(TOPIC, 0, 5)]


def test_an_undecodable_message_is_dead_lettered_and_its_offset_still_advances(h: Harness) -> None:
    h.assign()
    h.consumer.serve_raw(FakeMessage(TOPIC, 0, 7, b"\x01\x02not avro", [("traceparent", b"x")], key=b"r-1"))
    h.consumer.serve(TOPIC, 0, 8, "LlmOutcome", ev.outcome("a" * 32, "rec-c")[1])
    h.sink._consume()
    (out,) = h.publisher.sent
    assert out.topic == f"{TOPIC}.dlq" and out.schema == "DeadLetter"
    assert out.value["source_offset"] == 7 and out.value["payload"] == b"\x01\x02not avro"
    assert out.value["error_type"] == "SerializationError" and out.value["service"] == "sink"
    assert h.publisher.flushed >= 1
    assert h.sink.flush()
    assert h.consumer.stored == [(TOPIC, 0, 9)]
    assert [t for t, _, _ in h.store.attempts] == ["llm_outcomes"]


def test_an_unreadable_message_of_a_dead_letter_topic_is_skipped_not_dead_lettered_again() -> None:
    dlq = f"{TOPIC}.dlq"
    h = Harness(partitions=[(dlq, 0)], topics=[dlq])
    h.assign()
    h.consumer.serve_raw(FakeMessage(dlq, 0, 3, b"garbage", None))
    h.sink._consume()
    assert h.publisher.sent == []
    assert h.sink.flush()
    assert h.consumer.stored == [(dlq, 0, 4)]


def test_messages_that_make_no_row_still_move_the_offsets(h: Harness) -> None:
    from tests.quality_events import chunk, segment

    h.assign()
    h.consumer.serve(TOPIC, 1, 40, "ChunkTranscript", chunk("rec-d", 0, 1, [segment("hi there", 0.0)]))
    h.sink._consume()
    assert h.sink.flush()
    assert h.store.attempts == []
    assert h.consumer.stored == [(TOPIC, 1, 41)]


# -- the loop itself ---------------------------------------------------------------------------


def run_until(h: Harness, done: Callable[[], bool], limit: int = 2000) -> None:
    """Run the sink's loop in a thread until ``done()`` holds (checked whenever the fake
    consumer is idle), or ``limit`` idle turns."""
    turns = {"n": 0}

    def idle() -> None:
        turns["n"] += 1
        if done() or turns["n"] >= limit:
            h.sink.stop()

    h.consumer.on_idle = idle
    thread = threading.Thread(target=h.sink.run, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "the loop did not stop"
    assert turns["n"] < limit, "the loop never got where the test waited for"


def test_while_the_store_is_down_the_loop_polls_without_consuming_then_resumes(h: Harness) -> None:
    h.serve_call("rec-a", 0, 0)
    h.serve_call("rec-b", 1, 0)
    h.store.fail = 3
    run_until(h, lambda: bool(h.consumer.stored))
    kinds = h.kinds()
    assert kinds[0] == "subscribe"
    paused_at = kinds.index("pause")
    resumed_at = kinds.index("resume", paused_at)  # (the assignment itself resumes too)
    back = kinds.index("insert", paused_at)  # the first insert that went in
    assert paused_at < back < kinds.index("store_offsets") < resumed_at
    between = kinds[paused_at:back]
    assert "consume" not in between and "store_offsets" not in between and "commit" not in between
    assert kinds[:back].count("insert_failed") == 3 and kinds[paused_at - 1] == "insert_failed"
    assert between.count("poll") >= 2 + 4 + 4  # the waits: 1 s, 2 s, 4 s of 0.5 s polls
    assert between.count("poll") <= 2 * (2 + 4 + 4) + 3  # ... and no spinning
    failed = [e[2] for e in h.log if e[0] == "insert_failed"]
    assert len(set(failed)) == 1  # each failure is the same first batch, retried with its token
    assert h.consumer.paused == set()
    assert sorted(h.consumer.stored) == [(TOPIC, 0, 5), (TOPIC, 1, 5)]
    assert "consume" in kinds[resumed_at:]  # consuming again
    assert h.consumer.closed and h.publisher.closed


def test_the_loop_flushes_what_it_holds_when_stopped() -> None:
    h = Harness(batch_max_s=3600.0)
    h.serve_call("rec-a", 0, 0)
    run_until(h, lambda: h.sink.buffer.rows == 5)
    assert h.consumer.stored == [(TOPIC, 0, 5)]
    assert h.kinds().index("store_offsets") < h.kinds().index("close")


def test_the_loop_inserts_once_the_buffer_is_due_by_rows() -> None:
    h = Harness(batch_max_rows=5, batch_max_s=3600.0)
    h.serve_call("rec-a", 0, 0)
    run_until(h, lambda: bool(h.consumer.stored))
    assert h.consumer.stored == [(TOPIC, 0, 5)]


def _batches_of_one_call() -> list[Any]:
    from services.sink.worker import Buffer

    buffer = Buffer(1000, 5.0)
    for offset, table in enumerate(["recordings", "quality", "speaker_turns", "transcripts", "quality"]):
        buffer.add(TOPIC, 0, offset, table, {})
    return buffer.batches()


def test_a_row_the_store_refuses_is_dead_lettered_and_the_rest_of_its_batch_lands(h: Harness) -> None:
    h.assign()
    h.serve_call("rec-good", 0, 0)
    h.serve_call("rec-bad", 0, 5)
    h.sink._consume()
    h.store.refuse = {"rec-bad"}
    assert h.sink.flush() is True and not h.sink.paused
    assert {r["recording_id"] for r in h.store.rows["quality"]} == {"rec-good"}
    letters = [o for o in h.publisher.sent if o.schema == "DeadLetter"]
    assert {(o.topic, o.value["source_offset"]) for o in letters} == {
        (f"{TOPIC}.dlq", off) for off in range(5, 10)
    }
    assert all(o.value["error_type"] == "RowError" and o.value["payload"] is None for o in letters)
    assert h.consumer.stored == [(TOPIC, 0, 10)]  # nothing waits forever on the refused rows

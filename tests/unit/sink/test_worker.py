"""The sink's buffer (bounded by rows and by time, batched per table and topic partition) and
its backoff, with an injected clock."""

from __future__ import annotations

import pytest

from services.sink.worker import Backoff, Batch, Buffer


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def row(n: int = 0) -> dict[str, int]:
    return {"n": n}


def test_an_empty_buffer_is_never_due() -> None:
    clock = Clock()
    buffer = Buffer(max_rows=2, max_s=1.0, clock=clock)
    clock.now += 3600
    assert buffer.empty and not buffer.due()
    assert buffer.batches() == [] and buffer.offsets() == {}


def test_when_max_rows_rows_wait_then_the_buffer_is_due() -> None:
    buffer = Buffer(max_rows=3, max_s=60.0, clock=Clock())
    for offset in range(2):
        buffer.add("t", 0, offset, "quality", row(offset))
    assert not buffer.due()
    buffer.add("t", 1, 0, "quality", row())
    assert buffer.rows == 3 and buffer.due()


def test_when_the_oldest_row_waited_max_s_then_the_buffer_is_due() -> None:
    clock = Clock()
    buffer = Buffer(max_rows=1000, max_s=2.0, clock=clock)
    buffer.add("t", 0, 0, "quality", row())
    clock.now += 1.0
    buffer.add("t", 0, 1, "quality", row())  # a later row does not restart the wait
    clock.now += 0.99
    assert not buffer.due()
    clock.now += 0.01
    assert buffer.due()


def test_messages_that_make_no_row_still_start_the_clock_and_advance_the_offsets() -> None:
    clock = Clock()
    buffer = Buffer(max_rows=10, max_s=1.0, clock=clock)
    buffer.add("t", 0, 5)
    buffer.add("t", 0, 6, "quality", None)
    assert not buffer.empty and buffer.rows == 0 and buffer.batches() == []
    assert buffer.offsets() == {("t", 0): 7}
    clock.now += 1.0
    assert buffer.due()  # so the offsets are committed even on a topic whose events are all skipped


def test_rows_are_batched_per_table_topic_and_partition_with_first_and_last_offsets() -> None:
    buffer = Buffer(max_rows=100, max_s=60.0, clock=Clock())
    buffer.add("a", 0, 10, "quality", row(1))
    buffer.add("a", 0, 11, "recordings", row(2))
    buffer.add("a", 0, 12)  # skipped event between two quality rows
    buffer.add("a", 0, 13, "quality", row(3))
    buffer.add("a", 1, 4, "quality", row(4))
    buffer.add("b", 0, 7, "quality", row(5))
    got = {
        (b.table, b.topic, b.partition): (b.first, b.last, [r["n"] for r in b.rows]) for b in buffer.batches()
    }
    assert got == {
        ("quality", "a", 0): (10, 13, [1, 3]),
        ("recordings", "a", 0): (11, 11, [2]),
        ("quality", "a", 1): (4, 4, [4]),
        ("quality", "b", 0): (7, 7, [5]),
    }
    assert buffer.offsets() == {("a", 0): 14, ("a", 1): 5, ("b", 0): 8}


def test_a_batch_token_names_topic_partition_offsets_and_table_deterministically() -> None:
    batch = Batch("quality", "stt.quality.v1", 2, 100, 149)
    assert batch.token == "stt.quality.v1/2/100-149/quality"
    assert batch.token == Batch("quality", "stt.quality.v1", 2, 100, 149, [row()]).token
    others = {
        Batch("recordings", "stt.quality.v1", 2, 100, 149).token,
        Batch("quality", "stt.quality.v1", 3, 100, 149).token,
        Batch("quality", "stt.quality.v1", 2, 100, 150).token,
        Batch("quality", "stt.other.v1", 2, 100, 149).token,
    }
    assert batch.token not in others and len(others) == 4


def test_the_same_messages_buffered_twice_give_the_same_tokens() -> None:
    def fill() -> list[str]:
        buffer = Buffer(max_rows=100, max_s=60.0, clock=Clock())
        for offset in range(20, 30):
            buffer.add("t", offset % 2, offset, "quality" if offset % 3 else "recordings", row(offset))
        return sorted(b.token for b in buffer.batches())

    assert fill() == fill()


def test_an_offset_read_again_does_not_move_the_next_offset_back() -> None:
    buffer = Buffer(max_rows=100, max_s=60.0, clock=Clock())
    buffer.add("t", 0, 9)
    buffer.add("t", 0, 3)
    assert buffer.offsets() == {("t", 0): 10}


def test_clear_forgets_rows_offsets_and_the_clock() -> None:
    clock = Clock()
    buffer = Buffer(max_rows=100, max_s=1.0, clock=clock)
    buffer.add("t", 0, 0, "quality", row())
    buffer.clear()
    clock.now += 10
    assert buffer.empty and not buffer.due() and buffer.rows == 0
    assert buffer.batches() == [] and buffer.offsets() == {}


def test_drop_forgets_the_revoked_partitions_rows_and_offsets_only() -> None:
    buffer = Buffer(max_rows=100, max_s=60.0, clock=Clock())
    buffer.add("t", 0, 0, "quality", row(1))
    buffer.add("t", 0, 1, "recordings", row(2))
    buffer.add("t", 1, 0, "quality", row(3))
    buffer.add("u", 0, 5)
    buffer.drop([("t", 0), ("u", 0)])
    assert [(b.topic, b.partition, b.table) for b in buffer.batches()] == [("t", 1, "quality")]
    assert buffer.rows == 1
    assert buffer.offsets() == {("t", 1): 1}
    assert not buffer.empty


def test_dropping_every_partition_leaves_an_empty_buffer_that_is_not_due() -> None:
    clock = Clock()
    buffer = Buffer(max_rows=2, max_s=1.0, clock=clock)
    buffer.add("t", 0, 0, "quality", row())
    buffer.add("t", 1, 0, "quality", row())
    buffer.drop([("t", 0), ("t", 1)])
    clock.now += 5
    assert buffer.empty and buffer.rows == 0 and not buffer.due()


def test_dropping_a_partition_the_buffer_never_saw_changes_nothing() -> None:
    buffer = Buffer(max_rows=100, max_s=60.0, clock=Clock())
    buffer.add("t", 0, 0, "quality", row())
    buffer.drop([("t", 7)])
    assert buffer.rows == 1 and buffer.offsets() == {("t", 0): 1}


# -- backoff -----------------------------------------------------------------------------------


def test_backoff_doubles_from_the_first_wait_up_to_the_cap() -> None:
    backoff = Backoff(first_s=0.5, max_s=5.0, clock=Clock())
    assert [backoff.failed() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert backoff.failures == 7


def test_backoff_is_ready_only_once_its_wait_has_passed() -> None:
    clock = Clock()
    backoff = Backoff(first_s=1.0, max_s=30.0, clock=clock)
    assert backoff.ready()
    backoff.failed()
    assert not backoff.ready()
    clock.now += 0.999
    assert not backoff.ready()
    clock.now += 0.001
    assert backoff.ready()
    wait = backoff.failed()
    assert wait == 2.0 and backoff.next_at == pytest.approx(clock.now + 2.0)


def test_a_reset_backoff_starts_again_from_the_first_wait() -> None:
    clock = Clock()
    backoff = Backoff(first_s=0.5, max_s=30.0, clock=clock)
    for _ in range(4):
        backoff.failed()
    backoff.reset()
    assert backoff.ready() and backoff.failures == 0
    assert backoff.failed() == 0.5

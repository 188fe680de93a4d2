"""What the sink holds between inserts: rows per (table, partition), and the offsets they cover.

Bounded by size and by time: ``due()`` once ``max_rows`` rows wait or the oldest waited
``max_s``, so a busy topic inserts big batches and a quiet one still shows up within seconds,
and ClickHouse never sees a stream of tiny inserts (each insert is a part to merge).

A batch is one table's rows from one topic partition, ``[first, last]`` offsets; its
deduplication token names exactly that, the idea behind the exactly-once design of
ClickHouse's own Kafka connector. No Kafka imports here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Partition = tuple[str, int]


@dataclass
class Batch:
    table: str
    topic: str
    partition: int
    first: int
    last: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def token(self) -> str:
        return f"{self.topic}/{self.partition}/{self.first}-{self.last}/{self.table}"


class Buffer:
    def __init__(self, max_rows: int, max_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_rows, self.max_s, self._clock = max_rows, max_s, clock
        self._batches: dict[tuple[str, str, int], Batch] = {}
        self._next: dict[Partition, int] = {}
        self._since: float | None = None
        self.rows = 0

    def add(
        self,
        topic: str,
        partition: int,
        offset: int,
        table: str | None = None,
        row: dict[str, Any] | None = None,
    ) -> None:
        """A consumed message: its row (if it makes one) and its offset, which is committed
        with the next insert even when it made no row."""
        if self._since is None:
            self._since = self._clock()
        self._next[(topic, partition)] = max(offset + 1, self._next.get((topic, partition), 0))
        if table is None or row is None:
            return
        key = (table, topic, partition)
        batch = self._batches.get(key)
        if batch is None:
            batch = self._batches[key] = Batch(table, topic, partition, offset, offset)
        batch.last = offset
        batch.rows.append(row)
        self.rows += 1

    def due(self) -> bool:
        if self._since is None:
            return False
        return self.rows >= self.max_rows or self._clock() - self._since >= self.max_s

    @property
    def empty(self) -> bool:
        return self._since is None

    def batches(self) -> list[Batch]:
        return list(self._batches.values())

    def offsets(self) -> dict[Partition, int]:
        """The next offset to read per partition, once every batch is inserted."""
        return dict(self._next)

    def clear(self) -> None:
        self._batches.clear()
        self._next.clear()
        self._since, self.rows = None, 0

    def drop(self, partitions: Iterable[Partition]) -> None:
        """Forget revoked partitions: their next owner re-reads them from the committed offset."""
        gone = set(partitions)
        for key in [k for k in self._batches if (k[1], k[2]) in gone]:
            self.rows -= len(self._batches.pop(key).rows)
        for tp in gone:
            self._next.pop(tp, None)
        if not self._next:
            self._since, self.rows = None, 0


class Backoff:
    """Waits between attempts at a store that is down: doubling, capped, reset on success."""

    def __init__(self, first_s: float, max_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.first_s, self.max_s, self._clock = first_s, max_s, clock
        self.failures = 0
        self.next_at = 0.0

    def failed(self) -> float:
        wait = min(self.first_s * 2**self.failures, self.max_s)
        self.failures += 1
        self.next_at = self._clock() + wait
        return wait

    def ready(self) -> bool:
        return self._clock() >= self.next_at

    def reset(self) -> None:
        self.failures, self.next_at = 0, 0.0

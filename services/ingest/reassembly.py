"""Put a recording back together from its RecordingParts.

Kafka caps message size, so producers send a file as numbered parts. Delivery is at least
once and producers retry, so parts can come duplicated and, across producer restarts, out of
order; a producer can also die half-way. This class is pure (no Kafka, an injectable clock):
it buffers parts per recording, hands back the bytes once every part is in, fails a recording
whose parts stop arriving, and caps the bytes it holds so a flood of unfinished uploads
cannot exhaust memory. It is thread-safe, so a timer thread may call ``expire``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Complete:
    """Every part arrived; ``header`` is part 0's fields without its data."""

    recording_id: str
    data: bytes
    header: dict[str, Any]


@dataclass(frozen=True)
class Pending:
    recording_id: str
    received: int
    part_count: int
    duplicate: bool = False


@dataclass(frozen=True)
class Rejected:
    """The recording is given up; it should be reported as failed."""

    recording_id: str
    error_type: str
    reason: str
    header: dict[str, Any]
    received_bytes: int = 0


@dataclass(frozen=True)
class Ignored:
    """A part of a recording already completed (a redelivery); nothing to do."""

    recording_id: str
    reason: str


Outcome = Complete | Pending | Rejected | Ignored


@dataclass
class _Buffer:
    part_count: int
    header: dict[str, Any]
    last_seen: float
    parts: dict[int, bytes] = field(default_factory=dict)
    size: int = 0


class PartAssembler:
    def __init__(
        self,
        *,
        max_buffered_bytes: int,
        max_recording_bytes: int,
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
        remember: int = 10_000,
    ) -> None:
        self.max_buffered_bytes = max_buffered_bytes
        self.max_recording_bytes = max_recording_bytes
        self.timeout_s = timeout_s
        self.clock = clock
        self._buffers: dict[str, _Buffer] = {}
        self._completed: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self._buffered = 0
        self._lock = threading.Lock()

    @property
    def buffered_bytes(self) -> int:
        return self._buffered

    @property
    def pending(self) -> int:
        return len(self._buffers)

    def add(self, part: Mapping[str, Any]) -> Outcome:
        with self._lock:
            return self._add(part)

    def expire(self) -> list[Rejected]:
        """Give up on recordings with no new part for ``timeout_s``."""
        now = self.clock()
        with self._lock:
            stale = [rid for rid, buf in self._buffers.items() if now - buf.last_seen > self.timeout_s]
            return [self._reject(rid, "missing_parts", self._missing(rid)) for rid in stale]

    def _add(self, part: Mapping[str, Any]) -> Outcome:
        rid, index, count = part["recording_id"], part["part"], part["part_count"]
        data: bytes = part["data"]
        header = {k: v for k, v in part.items() if k != "data"}
        if rid in self._completed:
            return Ignored(rid, f"recording {rid} was already assembled")
        if not 0 <= index < count:
            return self._reject(rid, "invalid_parts", f"part {index} of {count} is out of range", header)
        buf = self._buffers.get(rid)
        if buf is None:
            if count == 1:
                return self._complete(rid, data, header)
            buf = self._buffers[rid] = _Buffer(count, header, self.clock())
        if count != buf.part_count:
            return self._reject(rid, "invalid_parts", f"part_count changed from {buf.part_count} to {count}")
        if index in buf.parts:
            return Pending(rid, len(buf.parts), count, duplicate=True)
        problem = self._size_problem(buf, len(data))
        if problem:
            return self._reject(rid, *problem)
        buf.parts[index] = data
        buf.size += len(data)
        buf.last_seen = self.clock()
        self._buffered += len(data)
        if index == 0:
            buf.header = header
        if len(buf.parts) < count:
            return Pending(rid, len(buf.parts), count)
        self._drop(rid)
        return self._complete(rid, b"".join(buf.parts[i] for i in range(count)), buf.header)

    def _size_problem(self, buf: _Buffer, incoming: int) -> tuple[str, str] | None:
        if buf.size + incoming > self.max_recording_bytes:
            return "too_large", (
                f"the recording exceeds the limit of {self.max_recording_bytes} "
                f"bytes after {len(buf.parts) + 1} of {buf.part_count} parts"
            )
        if self._buffered + incoming > self.max_buffered_bytes:
            return "buffer_full", (
                f"ingest already holds {self._buffered} bytes of unfinished "
                f"recordings (limit {self.max_buffered_bytes}); send it again "
                "later"
            )
        return None

    def _complete(self, rid: str, data: bytes, header: dict[str, Any]) -> Complete:
        self._completed[rid] = None
        while len(self._completed) > self._remember:
            self._completed.popitem(last=False)
        return Complete(rid, data, header)

    def _reject(
        self, rid: str, error_type: str, reason: str, header: dict[str, Any] | None = None
    ) -> Rejected:
        """Drop what is buffered; failed recordings are not remembered, so a resend works."""
        buf = self._drop(rid)
        header = buf.header if buf else (header or {"recording_id": rid})
        return Rejected(rid, error_type, reason, header, buf.size if buf else 0)

    def _drop(self, rid: str) -> _Buffer | None:
        buf = self._buffers.pop(rid, None)
        if buf:
            self._buffered -= buf.size
        return buf

    def _missing(self, rid: str) -> str:
        buf = self._buffers[rid]
        missing = [i for i in range(buf.part_count) if i not in buf.parts]
        shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
        return (
            f"received {len(buf.parts)} of {buf.part_count} parts, none for "
            f"{self.timeout_s:.0f} s; missing parts: {shown}"
        )

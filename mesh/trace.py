"""W3C trace context carried in Kafka headers.

A trace starts at ingest (one per recording); every derived event keeps its trace id and gets
a new span id. Headers are read and written through a getter/setter pair, the way
OpenTelemetry's Kafka instrumentations do, so no service parses ``traceparent`` itself. The
trace id is also copied into every payload so ClickHouse can join on it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

TRACEPARENT = "traceparent"
_TRACEPARENT_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_TRACE_ID_RE = re.compile(r"^[0-9a-f]{32}$")

Headers = Sequence[tuple[str, bytes | None]]


def new_trace_id() -> str:
    while True:
        tid = secrets.token_hex(16)
        if tid != "0" * 32:
            return tid


def new_span_id() -> str:
    return secrets.token_hex(8)


def is_trace_id(value: object) -> bool:
    return isinstance(value, str) and bool(_TRACE_ID_RE.match(value)) and value != "0" * 32


@dataclass(frozen=True, slots=True)
class TraceContext:
    trace_id: str
    span_id: str
    sampled: bool = True

    @classmethod
    def new(cls, trace_id: str | None = None) -> TraceContext:
        valid = trace_id if trace_id is not None and is_trace_id(trace_id) else new_trace_id()
        return cls(valid, new_span_id())

    def child(self) -> TraceContext:
        return TraceContext(self.trace_id, new_span_id(), self.sampled)

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    @classmethod
    def parse(cls, traceparent: str) -> TraceContext | None:
        match = _TRACEPARENT_RE.match(traceparent.strip().lower())
        if not match or match.group(1) == "0" * 32:
            return None
        return cls(match.group(1), match.group(2), int(match.group(3), 16) & 1 == 1)


def extract(headers: Headers | None) -> TraceContext | None:
    """Getter: the trace context in Kafka headers, or None."""
    for key, value in headers or ():
        if key == TRACEPARENT and value:
            return TraceContext.parse(value.decode("ascii", "replace"))
    return None


def inject(headers: list[tuple[str, bytes]], ctx: TraceContext) -> list[tuple[str, bytes]]:
    """Setter: replace any traceparent header with ``ctx``."""
    headers[:] = [(k, v) for k, v in headers if k != TRACEPARENT]
    headers.append((TRACEPARENT, ctx.traceparent.encode("ascii")))
    return headers

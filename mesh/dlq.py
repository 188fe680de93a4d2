"""Errors as data: a message that cannot be handled becomes a DeadLetter on ``<topic>.dlq``."""

from __future__ import annotations

import time
from typing import Any

from mesh import topics
from mesh.message import Output
from mesh.trace import extract


def dead_letter(raw: Any, exc: BaseException, service: str, retries: int = 0) -> Output:
    """Build the DeadLetter for a confluent-kafka message that failed with ``exc``."""
    headers = list(raw.headers() or [])
    trace = extract(headers)
    return dead_letter_for(
        raw.topic(),
        raw.partition(),
        raw.offset(),
        raw.key(),
        exc,
        service,
        retries=retries,
        headers=headers,
        payload=raw.value(),
        trace_id=trace.trace_id if trace else None,
    )


def dead_letter_for(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    exc: BaseException,
    service: str,
    *,
    retries: int = 0,
    headers: list[tuple[str, Any]] | None = None,
    payload: bytes | None = None,
    trace_id: str | None = None,
) -> Output:
    """The DeadLetter of the message at ``topic[partition]@offset`` (for a consumer that no
    longer holds the raw message, e.g. a sink whose store refused the row made from it)."""
    reason = str(exc) or type(exc).__name__
    value = {
        "reason": reason[:2000],
        "error_type": type(exc).__name__,
        "service": service,
        "source_topic": topic,
        "source_partition": partition,
        "source_offset": offset,
        "source_key": key,
        "headers": [{"key": k, "value": v} for k, v in headers or []],
        "payload": payload,
        "retries": retries,
        "trace_id": trace_id,
        "failed_at_ms": int(time.time() * 1000),
    }
    return Output(topics.dlq(topic), "DeadLetter", value, key=key)

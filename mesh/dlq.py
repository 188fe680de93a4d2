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
    reason = str(exc) or type(exc).__name__
    value = {
        "reason": reason[:2000],
        "error_type": type(exc).__name__,
        "service": service,
        "source_topic": raw.topic(),
        "source_partition": raw.partition(),
        "source_offset": raw.offset(),
        "source_key": raw.key(),
        "headers": [{"key": k, "value": v} for k, v in headers],
        "payload": raw.value(),
        "retries": retries,
        "trace_id": trace.trace_id if trace else None,
        "failed_at_ms": int(time.time() * 1000),
    }
    return Output(topics.dlq(raw.topic()), "DeadLetter", value, key=raw.key())

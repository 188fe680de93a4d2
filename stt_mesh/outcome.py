"""Report what a downstream LLM app made of a call: one ``stt.v1.LlmOutcome`` event.

The ClickHouse sink joins these outcomes to transcript quality, so analysts can ask whether
a bad transcript predicts a rejected summary. Values are validated here, before they reach
Kafka, because a wrong outcome (a trace id that joins nothing, a negative cost) cannot be
taken back once the sink has stored it.

Outcomes are **keyed by trace_id**, not recording_id like the rest of the contract: the trace
id is what every app downstream of the mesh is guaranteed to have (in the ``traceparent``
header and in every payload), it is the sink's join key, and all outcomes of one call (several
tasks, retried tasks) then land on one partition in the order they were produced, so "the
latest outcome of (trace_id, task)" is well defined.

Rules: ``task`` is a non-empty name; ``trace_id`` is a W3C trace id (32 hex digits, not all
zero; upper case is accepted and lowered); ``latency_ms`` and ``cost_usd`` are finite and not
negative; ``score`` is None or in [0, 1], so scores of different apps and tasks compare in one
SQL query (an app with another scale normalises it first); ``accepted`` is a real bool, so the
string "no" cannot become True.
"""

from __future__ import annotations

import math
import time
from typing import Any

from mesh import Output, Publisher, topics
from mesh.trace import TraceContext, is_trace_id

SCHEMA = "LlmOutcome"

__all__ = ["SCHEMA", "llm_outcome", "outcome_output", "publish_outcome"]


def llm_outcome(
    trace_id: str,
    *,
    task: str,
    accepted: bool,
    recording_id: str = "",
    tenant: str = "default",
    score: float | None = None,
    latency_ms: float = 0.0,
    cost_usd: float = 0.0,
    model: str | None = None,
    produced_at_ms: int | None = None,
) -> dict[str, Any]:
    """A validated LlmOutcome value; raises ``ValueError`` saying which field is wrong."""
    trace = trace_id.strip().lower() if isinstance(trace_id, str) else trace_id
    if not is_trace_id(trace):
        raise ValueError(f"trace_id must be 32 hex digits and not all zero, got {trace_id!r}")
    if not isinstance(task, str) or not task.strip():
        raise ValueError("task must be a non-empty name such as 'summary'")
    if not isinstance(accepted, bool):
        raise ValueError(f"accepted must be True or False, got {accepted!r}")
    if not isinstance(tenant, str) or not tenant.strip():
        raise ValueError("tenant must be a non-empty name")
    if score is not None and not (_finite(score) and 0.0 <= score <= 1.0):
        raise ValueError(f"score must be between 0 and 1 (or absent), got {score!r}")
    for name, value in (("latency_ms", latency_ms), ("cost_usd", cost_usd)):
        if not (_finite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return {
        "trace_id": trace,
        "recording_id": recording_id or "",
        "tenant": tenant.strip(),
        "task": task.strip(),
        "accepted": accepted,
        "score": None if score is None else float(score),
        "latency_ms": float(latency_ms),
        "cost_usd": float(cost_usd),
        "model": model or None,
        "produced_at_ms": int(time.time() * 1000) if produced_at_ms is None else int(produced_at_ms),
    }


def outcome_output(value: dict[str, Any]) -> Output:
    """The ``Output`` for a validated value: the outcomes topic, keyed by trace_id."""
    return Output(topics.LLM_OUTCOMES, SCHEMA, value, key=value["trace_id"])


def publish_outcome(publisher: Publisher, trace_id: str, **fields: Any) -> dict[str, Any]:
    """Validate and send one outcome (``fields`` as for ``llm_outcome``); returns the value.

    Sending is asynchronous: call ``publisher.flush()`` (or ``close()``) to wait for the
    acknowledgement. The ``traceparent`` header carries the call's trace, so the outcome
    shows up in the same trace as the transcript it judged.
    """
    value = llm_outcome(trace_id, **fields)
    publisher.send(outcome_output(value), TraceContext.new(value["trace_id"]))
    return value


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)

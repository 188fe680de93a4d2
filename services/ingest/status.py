"""What became of recordings submitted over HTTP, for ``GET /v1/recordings/{id}``.

The result store answers first: the sink's HTTP API computes a recording's status (queued,
processing, completed, failed) from ClickHouse, with its transcript and QualityReport once
completed, so every intake replica gives the same answer and a restart forgets nothing. It is
asked over HTTP with the stdlib (services never import each other, and ingest needs no HTTP
client dependency for one GET).

``StatusStore`` is an in-process, bounded LRU map of what *this* replica accepted or refused:
a short-lived cache, not the record. It bridges the second or two before the sink has the
recording (answered as ``queued``), answers while the result store is unreachable (saying so),
and backs the duplicate-upload check, which is therefore per replica.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from services.ingest.worker import IngestResult

MAX_ANSWER_BYTES = 64 * 1024 * 1024  # a long call's transcript, with room to spare
# The sink is an internal service: a proxy from the environment must not sit in between.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def status_of(result: IngestResult) -> dict[str, Any]:
    """The public status of an ingest result, as this replica knows it."""
    status: dict[str, Any] = {"recording_id": result.recording_id, "trace_id": result.trace_id}
    if result.failed is not None:
        return {
            **status,
            "status": "failed",
            "error_type": result.failed["error_type"],
            "reason": result.failed["reason"],
            "chunk_count": 0,
            "duration_s": None,
        }
    meta = result.metadata or {}
    return {
        **status,
        "status": "queued",
        "error_type": None,
        "reason": None,
        "chunk_count": meta.get("chunk_count", len(result.chunks)),
        "duration_s": meta.get("duration_s"),
        "priority": result.priority,
    }


class StatusStore:
    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, recording_id: str, status: dict[str, Any]) -> None:
        with self._lock:
            self._items[recording_id] = status
            self._items.move_to_end(recording_id)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def get(self, recording_id: str) -> dict[str, Any] | None:
        with self._lock:
            status = self._items.get(recording_id)
            if status is not None:
                self._items.move_to_end(recording_id)
            return status


@dataclass(frozen=True)
class StoreAnswer:
    """What the result store said: ``answered`` (with its body), ``not_found``,
    ``unavailable`` (unreachable, 5xx or not JSON; ``detail`` says which) or ``disabled``."""

    state: str
    body: dict[str, Any] = field(default_factory=dict)
    detail: str = ""


def ask_result_store(base_url: str | None, recording_id: str, timeout_s: float) -> StoreAnswer:
    """``GET {base_url}/v1/recordings/{id}`` on the sink; blocking, so run it in a thread."""
    if not base_url:
        return StoreAnswer("disabled")
    url = f"{base_url}/v1/recordings/{quote(recording_id, safe='')}"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            code, raw = response.status, response.read(MAX_ANSWER_BYTES)
    except urllib.error.HTTPError as exc:
        code, raw = exc.code, b""
        exc.close()
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return StoreAnswer("unavailable", detail=f"the result store cannot be reached: {exc}")
    if code == 404:
        return StoreAnswer("not_found")
    if code != 200:
        return StoreAnswer("unavailable", detail=f"the result store answered HTTP {code}")
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return StoreAnswer("unavailable", detail="the result store's answer is not a JSON object")
    return StoreAnswer("answered", body)


def merge(recording_id: str, answer: StoreAnswer, local: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
    """The HTTP status and body of ``GET /v1/recordings/{id}``.

    The store's answer wins; memory adds only fields the store lacks. Memory alone answers
    while the store has not heard of the recording yet or cannot be asked, and
    ``result_store`` says which of these happened."""
    if answer.state == "answered":
        extra = {k: v for k, v in (local or {}).items() if k not in answer.body and v is not None}
        return 200, {**answer.body, **extra, "result_store": "answered"}
    state = "not_yet" if answer.state == "not_found" else answer.state
    if local is not None:
        detail = {"result_store_detail": answer.detail} if answer.detail else {}
        return 200, {**local, "result_store": state, **detail}
    if answer.state == "unavailable":
        return 503, {
            "error": "unavailable",
            "detail": f"{answer.detail}; this replica has no record of {recording_id} either",
        }
    where = "here" if answer.state == "disabled" else "to the result store or to this replica"
    return 404, {"error": "not_found", "detail": f"no recording {recording_id} is known {where}"}

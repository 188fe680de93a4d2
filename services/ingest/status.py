"""What became of recordings submitted over HTTP, for ``GET /v1/recordings/{id}``.

An in-process, bounded LRU map: the authoritative record is the RecordingMetadata or
RecordingFailed event on Kafka (and in ClickHouse); this only answers the submitter quickly.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from services.ingest.worker import IngestResult


def status_of(result: IngestResult) -> dict[str, Any]:
    """The public status of an ingest result."""
    status: dict[str, Any] = {"recording_id": result.recording_id, "trace_id": result.trace_id}
    if result.failed is not None:
        return {**status, "status": "failed", "error_type": result.failed["error_type"],
                "reason": result.failed["reason"], "chunk_count": 0, "duration_s": None}
    meta = result.metadata or {}
    return {**status, "status": "accepted", "error_type": None, "reason": None,
            "chunk_count": meta.get("chunk_count", len(result.chunks)),
            "duration_s": meta.get("duration_s"), "priority": result.priority}


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


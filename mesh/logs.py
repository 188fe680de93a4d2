"""Service logs: one format for every service, with the trace_id and recording_id of the
message in hand on every line logged while it is handled.

The consumer loop sets the ids (``handling(msg)``) around the handler of each message (for a
batch, the batch's recordings), and a logging filter copies them onto every record, so a
handler's own ``log.warning(...)`` needs no ids passed by hand. ``STT_LOG_FORMAT=json`` gives
one JSON object per line (for a log pipeline), ``text`` (default) the usual line with the ids
appended; ``STT_LOG_LEVEL`` sets the level.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

from mesh.settings import MeshSettings

_ids: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar("stt_ids", default=("", ""))
TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s%(ids)s"


@contextlib.contextmanager
def handling(trace_id: str | Sequence[str], recording_id: str | Sequence[str]) -> Iterator[None]:
    """Log lines inside carry these ids (a batch: its distinct ids, comma separated)."""

    def one(value: str | Sequence[str]) -> str:
        return value if isinstance(value, str) else ",".join(dict.fromkeys(v for v in value if v))

    token = _ids.set((one(trace_id), one(recording_id)))
    try:
        yield
    finally:
        _ids.reset(token)


class _Ids(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        trace_id, recording_id = _ids.get()
        record.trace_id, record.recording_id = trace_id, recording_id
        record.ids = f" trace_id={trace_id} recording_id={recording_id}" if trace_id or recording_id else ""
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        out: dict[str, Any] = {
            "ts": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            "trace_id": getattr(record, "trace_id", "") or None,
            "recording_id": getattr(record, "recording_id", "") or None,
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure(service: str, settings: MeshSettings | None = None) -> None:
    """Set up the root logger of a service process (call once, in ``main``)."""
    settings = settings or MeshSettings()
    level, fmt = settings.log_level, settings.log_format
    handler = logging.StreamHandler()
    handler.addFilter(_Ids())
    handler.setFormatter(JsonFormatter(service) if fmt == "json" else logging.Formatter(TEXT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())

"""The sink's HTTP port: read-only SQL and recording results, served by the process that
holds the store (embedded chDB admits one process per data directory).

    POST /v1/query                {"sql": "...", "parameters": {...}}  -> {"columns", "rows"}
    GET  /v1/recordings/{id}      status, and the transcript and QualityReport once completed
    GET  /healthz                 the sink's loop is alive

Queries run on a reader client with ``readonly=1``: ClickHouse itself refuses any write,
DDL or setting change, so no SQL filtering is attempted here. A wrong query is a 400 with
ClickHouse's message; a store that does not answer is a 503.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from mesh.health import BackgroundServer, Health
from services.sink.config import SinkSettings
from services.sink.results import jsonable, recording_result
from services.sink.store import QueryError, Store, StoreError

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024


class QueryServer(BackgroundServer):
    def __init__(
        self,
        store: Store,
        settings: SinkSettings,
        health: Health | None = None,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        super().__init__(
            _handler(store, settings, health, ready), settings.http_host, settings.http_port or 0, "sink-http"
        )


def run_query(store: Store, body: dict[str, Any], max_rows: int) -> dict[str, Any]:
    sql = body.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        raise QueryError('the body needs a non-empty "sql" string')
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise QueryError('"parameters" must be an object')
    columns, rows = store.query(sql, params, max_rows=max_rows)
    return {"columns": columns, "rows": jsonable(rows), "rows_returned": len(rows)}


def _handler(
    store: Store, settings: SinkSettings, health: Health | None, ready: Callable[[], bool]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0].rstrip("/")
            if path == "/healthz":
                ok = health is None or health.alive()
                self._send(200 if ok else 503, {"status": "ok" if ok else "unavailable"})
            elif path.startswith("/v1/recordings/") and path.count("/") == 3:
                rid = urllib.parse.unquote(path.rsplit("/", 1)[1])
                self._guard(lambda: self._recording(rid))
            else:
                self._send(404, {"error": "not_found", "detail": f"no route {path}"})

        def do_POST(self) -> None:
            if self.path.split("?")[0].rstrip("/") != "/v1/query":
                self._send(404, {"error": "not_found", "detail": f"no route {self.path}"})
                return
            self._guard(self._query)

        def _recording(self, rid: str) -> None:
            result = recording_result(store, rid)
            if result is None:
                self._send(
                    404,
                    {
                        "error": "not_found",
                        "detail": f"no recording {rid} is known to the result store (yet)",
                    },
                )
            else:
                self._send(200, result)

        def _query(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(413, {"error": "too_large", "detail": f"a query body is at most {MAX_BODY} bytes"})
                return
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"sql": raw.decode("utf-8", "replace")}  # a bare SQL body is fine too
            if not isinstance(body, dict):
                raise QueryError("the body must be a JSON object or plain SQL text")
            self._send(200, run_query(store, body, settings.query_max_rows))

        def _guard(self, action: Any) -> None:
            if not ready():
                self._send(503, {"error": "unavailable", "detail": "the store's schema is being migrated"})
                return
            try:
                action()
            except QueryError as exc:
                self._send(400, {"error": "bad_query", "detail": str(exc)})
            except StoreError as exc:
                log.warning("store unavailable: %s", exc)
                self._send(503, {"error": "unavailable", "detail": str(exc)})
            except Exception as exc:  # an answer, never a dropped connection
                log.exception("query failed")
                self._send(500, {"error": "internal", "detail": type(exc).__name__})

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler

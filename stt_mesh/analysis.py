"""Asking the result store from outside the sink: ``stt-mesh sql``, ``result`` and ``batch status``.

Embedded chDB admits one process per data directory, so while a sink runs it is the only
one that can open the store; it answers read-only queries on its HTTP port. A client here
therefore asks the running sink first (``STT_SINK_URL``, default http://127.0.0.1:8090) and,
when no sink answers, opens the store itself: a ClickHouse server through its DSN, or the
embedded directory (read-only, possible only while no sink holds it).
"""

from __future__ import annotations

import csv
import io
import json
import os
import urllib.error
import urllib.request
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8090"


class ResultStoreError(Exception):
    """No store could answer, or it refused the query (the message says which)."""


class Results:
    def __init__(self, url: str | None = None, dsn: str | None = None, timeout_s: float = 30.0) -> None:
        self.url = (url or os.environ.get("STT_SINK_URL") or DEFAULT_URL).rstrip("/")
        self.dsn, self.timeout_s = dsn, timeout_s
        self.database = os.environ.get("STT_SINK_DATABASE", "stt")
        self._store: Any = None

    # -- the running sink --------------------------------------------------------------------
    def _http(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any] | None:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"{self.url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                return exc.code, json.loads(exc.read() or b"null")
            except ValueError:
                return exc.code, {"detail": str(exc)}
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None  # no sink there: open the store directly

    # -- the store itself -------------------------------------------------------------------
    def _direct(self) -> Any:
        if self._store is None:
            from services.sink.config import SinkSettings
            from services.sink.store import Store, StoreError

            settings = SinkSettings(dsn=self.dsn) if self.dsn else SinkSettings()
            store = Store(settings.resolved_dsn(), settings.database, readonly=True)
            try:
                store.client  # noqa: B018 - opening is what can fail
            except StoreError as exc:
                hint = (
                    " (a running sink holds the embedded store: query it through its HTTP port, "
                    f"STT_SINK_URL={self.url})"
                    if "lock" in str(exc).lower()
                    else ""
                )
                raise ResultStoreError(f"no sink answered at {self.url} and {exc}{hint}") from exc
            self._store = store
        return self._store

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> tuple[list[str], list[list[Any]]]:
        answer = self._http("POST", "/v1/query", {"sql": sql, "parameters": parameters or {}})
        if answer is not None:
            status, body = answer
            if status != 200:
                raise ResultStoreError(f"{status}: {(body or {}).get('detail', body)}")
            return body["columns"], body["rows"]
        from services.sink.results import jsonable
        from services.sink.store import StoreError

        try:
            columns, rows = self._direct().query(sql, parameters)
        except StoreError as exc:
            raise ResultStoreError(str(exc)) from exc
        return columns, jsonable(rows)

    def recording(self, recording_id: str) -> dict[str, Any] | None:
        answer = self._http("GET", f"/v1/recordings/{recording_id}")
        if answer is not None:
            status, body = answer
            if status == 404:
                return None
            if status != 200:
                raise ResultStoreError(f"{status}: {(body or {}).get('detail', body)}")
            return body
        from services.sink.results import recording_result

        return recording_result(self._direct(), recording_id)

    def dicts(self, sql: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        columns, rows = self.query(sql, parameters)
        return [dict(zip(columns, row, strict=True)) for row in rows]


def render(columns: list[str], rows: list[list[Any]], fmt: str = "table") -> str:
    """Rows as an aligned text table, JSON lines or CSV."""
    if fmt == "json":
        return "\n".join(json.dumps(dict(zip(columns, r, strict=True)), default=str) for r in rows)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows(rows)
        return out.getvalue().rstrip("\n")
    cells = [[_cell(v) for v in r] for r in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join([*lines, f"({len(rows)} row{'s' if len(rows) != 1 else ''})"])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return "NULL" if value is None else str(value)

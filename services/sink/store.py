"""The ClickHouse store behind the sink: one clickhouse-connect client per role.

Embedded chDB locks its data directory for one process, so the sink process is the one that
opens it; in that process a writer client inserts and a separate reader client answers
queries with ``readonly=1`` (in chDB the setting sticks to the client's session, which is why
the two never share one). Against a ClickHouse server both are plain HTTP clients.

Inserts carry ``insert_deduplication_token``: ClickHouse drops an insert whose token it has
seen within the table's deduplication window (``non_replicated_deduplication_window`` on a
single server, the replicated log on a cluster), so retrying an insert whose outcome was
unknown (a timeout, a dropped connection) never doubles its rows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.exceptions import ClickHouseError, DataError

log = logging.getLogger(__name__)


class StoreError(Exception):
    """The store could not be reached or refused a statement."""


class QueryError(StoreError):
    """A query was wrong (syntax, unknown column, not read-only): the caller's fault."""


class RowError(Exception):
    """ClickHouse (or the client, converting it) refused the data itself: retrying the same
    rows can never succeed. Not a StoreError: the store is fine."""


class Store:
    def __init__(self, dsn: str, database: str = "stt", *, readonly: bool = False) -> None:
        self.dsn, self.database, self.readonly = dsn, database, readonly
        self._client: Any = None
        self._session_readonly = False
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                self._client = clickhouse_connect.get_client(dsn=self.dsn)
            except Exception as exc:
                raise StoreError(f"cannot open {redacted_dsn(self.dsn)}: {exc}") from exc
        return self._client

    def reader(self) -> Store:
        """A second client on the same store for read-only queries."""
        return Store(self.dsn, self.database, readonly=True)

    def command(self, sql: str) -> None:
        with self._lock:
            try:
                self.client.command(sql)
            except ClickHouseError as exc:
                raise StoreError(str(exc)) from exc

    def insert(
        self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str], token: str | None = None
    ) -> None:
        settings = {"insert_deduplication_token": token} if token else None
        name = table if "." in table else f"{self.database}.{table}"
        with self._lock:
            try:
                self.client.insert(name, list(rows), column_names=list(columns), settings=settings)
            except DataError as exc:  # the client could not convert a value to its column's type
                raise RowError(f"insert into {table} refused its data: {_first_line(str(exc))}") from exc
            except ClickHouseError as exc:
                if any(code in str(exc) for code in _DATA_ERRORS):
                    raise RowError(f"insert into {table} refused its data: {_first_line(str(exc))}") from exc
                raise StoreError(f"insert into {table} failed: {exc}") from exc
            except (TypeError, ValueError, OverflowError) as exc:
                raise RowError(f"insert into {table} refused its data: {exc}") from exc
            except Exception as exc:  # connection errors and the like: the store's problem
                raise StoreError(f"insert into {table} failed: {exc}") from exc

    def query(
        self, sql: str, parameters: dict[str, Any] | None = None, max_rows: int | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and rows; ``QueryError`` when the query itself is at fault."""
        with self._lock:
            try:
                result = self.client.query(sql, parameters=parameters, settings=self._settings(max_rows))
            except ClickHouseError as exc:
                raise _classify(exc) from exc
            except Exception as exc:
                raise StoreError(f"query failed: {exc}") from exc
        rows = [tuple(r) for r in result.result_rows]
        return list(result.column_names), rows[:max_rows] if max_rows else rows

    def _settings(self, max_rows: int | None) -> dict[str, Any] | None:
        """A reader's limits. A server gets them with every query (readonly=2: no writes, no
        DDL, and the query cannot lift it). Embedded chDB keeps settings in the client's
        session and its readonly=1 sticks there, so a reader's session is made read-only once,
        with its result cap, and its queries carry no settings at all."""
        limits = {"max_result_rows": max_rows or 100_000, "result_overflow_mode": "break"}
        if not self.readonly:
            return limits if max_rows else None
        if not self.dsn.startswith("chdb://"):
            return {**limits, "readonly": 2}
        if not self._session_readonly:
            for name, value in [*limits.items(), ("readonly", 1)]:  # readonly last: it freezes the rest
                self.client.command(f"SET {name} = {value!r}")
            self._session_readonly = True
        return None

    def dicts(self, sql: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        names, rows = self.query(sql, parameters)
        return [dict(zip(names, row, strict=True)) for row in rows]

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                try:
                    self._client.close()
                except Exception:
                    log.debug("closing the store client failed", exc_info=True)
                self._client = None


# server-side codes that mean the rows themselves are wrong, not that the server is unwell
_DATA_ERRORS = (
    "CANNOT_PARSE",
    "TYPE_MISMATCH",
    "VALUE_IS_OUT_OF_RANGE",
    "TOO_LARGE_STRING_SIZE",
    "CANNOT_CONVERT_TYPE",
    "INCORRECT_DATA",
    "ILLEGAL_COLUMN",
    "NO_SUCH_COLUMN_IN_TABLE",
    "THERE_IS_NO_COLUMN",
    "NOT_FOUND_COLUMN_IN_BLOCK",
)
_TRANSIENT = (
    "MEMORY_LIMIT_EXCEEDED",
    "TIMEOUT_EXCEEDED",
    "TOO_MANY_SIMULTANEOUS_QUERIES",
    "NETWORK_ERROR",
    "SOCKET_TIMEOUT",
    "ABORTED",
    "TABLE_IS_READ_ONLY",
    "KEEPER_EXCEPTION",
)


def _classify(exc: Exception) -> StoreError:
    """ClickHouse refused the query itself (a DB::Exception that is not about load or the
    network): the caller's fault. Anything else: the store's."""
    text = str(exc)
    if "DB::Exception" in text and not any(code in text for code in _TRANSIENT):
        return QueryError(_first_line(text))
    return StoreError(_first_line(text))


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return line[:1000]


def redacted_dsn(dsn: str) -> str:
    """The DSN without its password, for logs."""
    if "@" not in dsn or "://" not in dsn:
        return dsn
    scheme, rest = dsn.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"

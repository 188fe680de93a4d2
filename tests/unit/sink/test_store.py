"""The store on the session's embedded ClickHouse: an insert retried with its deduplication
token lands once, a reader is read-only, and errors are told apart."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.sink.store import QueryError, Store, StoreError, redacted_dsn


def outcome_rows(trace: str, n: int) -> tuple[list[list[object]], list[str]]:
    columns = [
        "trace_id",
        "recording_id",
        "tenant",
        "task",
        "accepted",
        "latency_ms",
        "produced_at",
        "version",
    ]
    now = datetime.now(UTC)  # rows past the table's TTL would be dropped on insert
    return [[trace, f"r{i}", "acme", f"task-{i}", True, 1.0, now, i] for i in range(n)], columns


def count(store: Store, trace: str) -> int:
    _, rows = store.query("SELECT count() FROM stt.llm_outcomes WHERE trace_id = {t:String}", {"t": trace})
    return rows[0][0]


def test_an_insert_repeated_with_its_token_lands_once(store: Store) -> None:
    trace = uuid.uuid4().hex
    rows, columns = outcome_rows(trace, 3)
    token = f"stt.test.v1/0/0-2/llm_outcomes/{trace}"
    store.insert("llm_outcomes", rows, columns, token=token)
    store.insert("llm_outcomes", rows, columns, token=token)
    assert count(store, trace) == 3


def test_the_same_rows_under_another_token_land_again(store: Store) -> None:
    trace = uuid.uuid4().hex
    rows, columns = outcome_rows(trace, 2)
    store.insert("llm_outcomes", rows, columns, token=f"a-{trace}")
    store.insert("llm_outcomes", rows, columns, token=f"b-{trace}")
    assert count(store, trace) == 4


def test_an_insert_into_a_missing_table_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no_such_table"):
        store.insert("no_such_table", [[1]], ["x"])


def test_a_reader_refuses_writes_as_query_errors(reader: Store) -> None:
    with pytest.raises(QueryError, match="readonly"):
        reader.query("INSERT INTO stt.llm_outcomes (trace_id) VALUES ('nope')")
    assert reader.query("SELECT 1 AS x") == (["x"], [(1,)])


def test_a_query_at_fault_is_a_query_error(store: Store) -> None:
    with pytest.raises(QueryError):
        store.query("SELECT nope FROM stt.quality")


def test_query_max_rows_caps_the_rows_returned(store: Store) -> None:
    names, rows = store.query("SELECT number FROM numbers(50)", max_rows=7)
    assert names == ["number"] and len(rows) == 7


def test_a_dsn_is_logged_without_its_password() -> None:
    assert redacted_dsn("https://sink:s3cret@ch.example:8443/db") == "https://sink:***@ch.example:8443/db"
    assert redacted_dsn("chdb:///var/lib/stt") == "chdb:///var/lib/stt"

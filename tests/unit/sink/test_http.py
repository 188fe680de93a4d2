"""The sink's HTTP port against the session's embedded store, through a read-only reader client:
SQL queries, refused writes, and recording results built from rows the sink would insert."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from services.sink.config import SinkSettings
from services.sink.http import QueryServer
from services.sink.store import Store
from tests import sink_events as ev

MAX_ROWS = 3


class Client:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def request(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
        data = raw if raw is not None else json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def sql(self, sql: str, **params: Any) -> tuple[int, Any]:
        return self.request("POST", "/v1/query", {"sql": sql, "parameters": params})

    def recording(self, rid: str) -> tuple[int, Any]:
        return self.request("GET", f"/v1/recordings/{rid}")


@pytest.fixture(scope="module")
def api(store: Store) -> Iterator[Client]:
    reader = store.reader()
    server = QueryServer(reader, SinkSettings(http_port=0, query_max_rows=MAX_ROWS)).start()
    yield Client(server.port)
    server.stop()
    reader.close()


def test_a_query_returns_its_columns_and_rows(api: Client) -> None:
    status, body = api.sql("SELECT 1 AS one, 'x' AS s, [1, 2] AS a")
    assert status == 200
    assert body["columns"] == ["one", "s", "a"] and body["rows"] == [[1, "x", [1, 2]]]


def test_a_query_takes_parameters(api: Client) -> None:
    status, body = api.sql("SELECT {n:UInt32} + 1 AS n, {s:String} AS s", n=41, s="hi")
    assert status == 200 and body["rows"] == [[42, "hi"]]


def test_a_bare_sql_body_is_a_query_too(api: Client) -> None:
    status, body = api.request("POST", "/v1/query", raw=b"SELECT 7 AS seven")
    assert status == 200 and body["rows"] == [[7]]


def test_a_query_returns_at_most_query_max_rows(api: Client) -> None:
    status, body = api.sql("SELECT number FROM numbers(100)")
    assert status == 200 and len(body["rows"]) == MAX_ROWS and body["rows_returned"] == MAX_ROWS


def test_a_query_reads_what_the_writer_inserted(api: Client, put: Any, rid: str) -> None:
    put(*ev.failure(rid))
    status, body = api.sql(
        "SELECT recording_id, error_type FROM stt.recording_failures WHERE recording_id = {r:String}", r=rid
    )
    assert status == 200 and body["rows"] == [[rid, "unsupported_codec"]]


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE stt.quality",
        "INSERT INTO stt.llm_outcomes (trace_id, task) VALUES ('x', 'y')",
        "CREATE TABLE stt.intruder (x UInt8) ENGINE = Memory",
        "ALTER TABLE stt.quality DELETE WHERE 1",
        "TRUNCATE TABLE stt.quality",
        "SET readonly = 0",
    ],
)
def test_a_write_ddl_or_setting_change_is_refused_with_400(api: Client, store: Store, sql: str) -> None:
    status, body = api.sql(sql)
    assert status == 400, body
    assert body["error"] == "bad_query"
    tables = {r["name"] for r in store.dicts("SELECT name FROM system.tables WHERE database = 'stt'")}
    assert {"quality", "llm_outcomes"} <= tables and "intruder" not in tables
    _, rows = store.query("SELECT count() FROM stt.llm_outcomes WHERE trace_id = 'x'")
    assert rows == [(0,)]


def test_the_writer_still_inserts_after_the_reader_was_made_read_only(
    api: Client, put: Any, rid: str
) -> None:
    assert api.sql("SELECT 1")[0] == 200
    assert put(*ev.failure(rid)) is not None  # no "readonly" error on the writer's session


def test_an_unknown_column_is_a_400_naming_it(api: Client) -> None:
    status, body = api.sql("SELECT no_such_column FROM stt.quality")
    assert status == 400 and "no_such_column" in body["detail"]


def test_a_syntax_error_or_an_empty_body_is_a_400(api: Client) -> None:
    assert api.sql("SELEC 1")[0] == 400
    assert api.request("POST", "/v1/query", {"sql": "  "})[0] == 400
    assert api.request("POST", "/v1/query", {"sql": "SELECT 1", "parameters": [1]})[0] == 400


def test_unknown_routes_are_404(api: Client) -> None:
    assert api.request("GET", "/v1/nothing")[0] == 404
    assert api.request("POST", "/v1/other", {"sql": "SELECT 1"})[0] == 404


def test_healthz_without_a_loop_to_watch_is_ok(api: Client) -> None:
    assert api.request("GET", "/healthz") == (200, {"status": "ok"})


def test_an_unknown_recording_is_404(api: Client, rid: str) -> None:
    status, body = api.recording(rid)
    assert status == 404 and body["error"] == "not_found"


def test_a_complete_call_is_completed_with_its_transcript_and_quality_report(
    api: Client, put: Any, rid: str
) -> None:
    trace, events = ev.call(rid, text="Hello <PERSON>, this is the billing team.")
    keep = SinkSettings(store_redacted_text=True)
    for schema, value in [*events, ev.outcome(trace, rid)]:
        put(schema, value, keep)
    status, body = api.recording(rid)
    assert status == 200, body
    assert body["status"] == "completed"
    assert (body["recording_id"], body["trace_id"], body["tenant"]) == (rid, trace, "acme")
    transcript = body["transcript"]
    assert transcript["text"] == "Hello <PERSON>, this is the billing team." and transcript["text_kept"]
    assert transcript["segments"] == [
        {
            "speaker": "SPEAKER_00",
            "start_s": 0.0,
            "end_s": 1.0,
            "channel": 0,
            "text": "Hello <PERSON>, this is the billing team.",
        }
    ]
    assert transcript["entity_counts"] == {"PERSON": 1}
    quality = body["quality"]
    call_report = [v for s, v in events if s == "QualityReport"][-1]
    assert quality["recording_id"] == rid and quality["scope"] == "recording"
    assert quality["verdict"] == call_report["verdict"]
    assert quality["wer_proxy"] == pytest.approx(call_report["wer_proxy"])
    assert body["llm_outcomes"] == [{"task": "summary", "accepted": True, "score": 0.9}]
    assert body["audio"]["codec"] == "pcm_s16le"


def test_a_completed_call_without_kept_text_gives_segments_but_no_text(
    api: Client, put: Any, rid: str
) -> None:
    _, events = ev.call(rid)
    for schema, value in events:
        put(schema, value)
    status, body = api.recording(rid)
    assert status == 200 and body["status"] == "completed"
    transcript = body["transcript"]
    assert transcript["text"] is None and not transcript["text_kept"] and "note" in transcript
    assert [s["text"] for s in transcript["segments"]] == [None]
    assert transcript["segments"][0]["speaker"] == "SPEAKER_00"


def test_a_call_with_only_its_metadata_is_queued_and_one_with_a_chunk_report_processing(
    api: Client, put: Any, rid: str
) -> None:
    _, events = ev.call(rid)
    put(*events[0])
    assert api.recording(rid)[1]["status"] == "queued"
    put(*events[2])  # its speaker turns
    status, body = api.recording(rid)
    assert status == 200 and body["status"] == "processing" and "transcript" not in body


def test_a_failed_recording_is_failed_with_its_reason(api: Client, put: Any, rid: str) -> None:
    put(*ev.failure(rid))
    status, body = api.recording(rid)
    assert status == 200
    assert body["status"] == "failed"
    assert body["reason"] == "the file is not audio (text/plain)"
    assert body["error_type"] == "unsupported_codec"


def test_a_recording_known_only_by_its_dead_letter_is_failed(api: Client, put: Any, rid: str) -> None:
    put(*ev.dead_letter(rid), topic="stt.recordings.raw.v1.dlq")
    status, body = api.recording(rid)
    assert status == 200 and body["status"] == "failed"
    (letter,) = body["dead_letters"]
    assert letter["service"] == "ingest" and letter["error_type"] == "SerializationError"


def test_the_api_answers_503_until_the_schema_is_ready(store: Store) -> None:
    reader = store.reader()
    server = QueryServer(reader, SinkSettings(http_port=0), ready=lambda: False).start()
    try:
        status, body = Client(server.port).sql("SELECT 1")
        assert status == 503 and body["error"] == "unavailable"
        assert Client(server.port).request("GET", "/healthz")[0] == 200
    finally:
        server.stop()
        reader.close()

"""``stt-mesh sql`` / ``result``: rendering rows, and asking the sink first and the store itself
when no sink answers (here: the session's embedded store, the one data directory this process
may open)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.sink.config import SinkSettings
from services.sink.http import QueryServer
from services.sink.store import Store
from stt_mesh.analysis import Results, ResultStoreError, render
from tests import sink_events as ev

COLUMNS = ["model", "wer", "n", "slice", "note"]
ROWS = [["tiny.en", 0.123456, 10, {"codec": "pcm"}, None], ["base", 0.5, 2, ["a", "b"], "ok, fine"]]


def test_render_as_a_table_aligns_columns_and_counts_rows() -> None:
    lines = render(COLUMNS, ROWS, "table").splitlines()
    assert lines[0].split() == COLUMNS
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].split()[:3] == ["tiny.en", "0.1235", "10"]
    assert '{"codec": "pcm"}' in lines[2] and lines[2].rstrip().endswith("NULL")
    assert '["a", "b"]' in lines[3]
    assert lines[-1] == "(2 rows)"
    starts = [lines[0].index(c) for c in COLUMNS]
    assert all(line[s - 1] == " " for line in lines[2:4] for s in starts[1:])  # every cell in its column


def test_render_one_row_says_row() -> None:
    assert render(["x"], [[1]]).splitlines()[-1] == "(1 row)"
    assert render(["x"], []).splitlines()[-1] == "(0 rows)"


def test_render_as_json_gives_one_object_per_line() -> None:
    lines = render(COLUMNS, ROWS, "json").splitlines()
    assert [json.loads(line) for line in lines] == [dict(zip(COLUMNS, r, strict=True)) for r in ROWS]


def test_render_as_csv_quotes_what_needs_it() -> None:
    text = render(COLUMNS, ROWS, "csv")
    lines = text.splitlines()
    assert lines[0] == "model,wer,n,slice,note"
    assert lines[2].endswith(',"ok, fine"')
    assert not text.endswith("\n")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nobody listens once it is closed


@pytest.fixture
def direct(store: Store, store_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Results]:
    """Results pointed at a port where no sink answers, and at the session's data directory."""
    monkeypatch.delenv("STT_SINK_DATABASE", raising=False)
    results = Results(url=f"http://127.0.0.1:{closed_port()}", dsn=f"chdb://{store_path}", timeout_s=5)
    yield results
    if results._store is not None:
        results._store.close()


def test_when_no_sink_answers_then_a_query_goes_to_the_store_itself(
    direct: Results, put: Any, rid: str
) -> None:
    put(*ev.failure(rid))
    columns, rows = direct.query(
        "SELECT recording_id, failed_at FROM stt.recording_failures WHERE recording_id = {r:String}",
        {"r": rid},
    )
    assert columns == ["recording_id", "failed_at"]
    assert rows[0][0] == rid and isinstance(rows[0][1], str)  # plain JSON values, as the API gives
    assert direct._store is not None and direct._store.readonly


def test_when_no_sink_answers_then_a_recording_result_comes_from_the_store(
    direct: Results, put: Any, rid: str
) -> None:
    _, events = ev.call(rid)
    for schema, value in events:
        put(schema, value)
    result = direct.recording(rid)
    assert result is not None and result["status"] == "completed"
    assert result["quality"]["recording_id"] == rid
    assert direct.recording(f"{rid}-unknown") is None


def test_the_direct_store_is_read_only(direct: Results) -> None:
    with pytest.raises(ResultStoreError, match="readonly"):
        direct.query("DROP TABLE stt.quality")


def test_dicts_pairs_columns_with_values(direct: Results) -> None:
    assert direct.dicts("SELECT 1 AS a, 'x' AS b") == [{"a": 1, "b": "x"}]


@pytest.fixture
def running(store: Store) -> Iterator[Results]:
    reader = store.reader()
    server = QueryServer(reader, SinkSettings(http_port=0)).start()
    yield Results(url=f"http://127.0.0.1:{server.port}", dsn="chdb:///nonexistent/never-opened")
    server.stop()
    reader.close()


def test_when_a_sink_answers_then_it_is_asked_and_the_store_is_never_opened(
    running: Results, put: Any, rid: str
) -> None:
    put(*ev.failure(rid))
    columns, rows = running.query(
        "SELECT recording_id FROM stt.recording_failures WHERE recording_id = {r:String}", {"r": rid}
    )
    assert (columns, rows) == (["recording_id"], [[rid]])
    assert running.recording(rid)["status"] == "failed"
    assert running.recording(f"{rid}-unknown") is None
    assert running._store is None


def test_a_query_the_sink_refuses_is_an_error_with_its_status(running: Results) -> None:
    with pytest.raises(ResultStoreError, match=r"^400: "):
        running.query("SELECT nope FROM stt.quality")

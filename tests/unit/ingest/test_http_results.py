"""GET /v1/recordings/{id} asks the result store first: a stdlib HTTP server in a thread plays
the sink's results API (200 completed, 404, 500, slow, or a closed port)."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from services.ingest.config import IngestSettings
from services.ingest.http import create_app
from services.ingest.status import StatusStore

SR = 16000
COMPLETED = {
    "recording_id": "done-1",
    "trace_id": "ab" * 16,
    "tenant": "acme",
    "status": "completed",
    "priority": "batch",
    "job_id": None,
    "audio": {"duration_s": 3.0, "codec": "pcm_s16le", "channels": 1, "snr_db": 30.0},
    "transcript": {
        "text": "[PERSON] called about the bill",
        "text_kept": True,
        "partial": False,
        "segments": [
            {
                "speaker": "SPEAKER_00",
                "start_s": 0.0,
                "end_s": 3.0,
                "channel": 0,
                "text": "[PERSON] called about the bill",
            }
        ],
        "language": "en",
        "entity_counts": {"PERSON": 1},
    },
    "quality": {"recording_id": "done-1", "verdict": "accepted", "wer_proxy": 0.1},
    "llm_outcomes": [],
}


class FakeSink:
    """The sink's ``GET /v1/recordings/{id}``: known ids answer 200, others 404, unless
    ``mode`` is "500", "503", "garbage" or "slow"."""

    def __init__(self) -> None:
        self.results: dict[str, dict] = {}
        self.mode = "normal"
        self.paths: list[str] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                sink.paths.append(self.path)
                rid = self.path.rsplit("/", 1)[1]
                if sink.mode == "slow":
                    time.sleep(1.0)
                if sink.mode in ("500", "503"):
                    self._send(int(sink.mode), b'{"error": "internal", "detail": "boom"}')
                elif sink.mode == "garbage":
                    self._send(200, b"<html>a proxy page</html>")
                elif rid in sink.results:
                    self._send(200, json.dumps(sink.results[rid]).encode())
                else:
                    self._send(404, b'{"error": "not_found", "detail": "not known (yet)"}')

            def _send(self, code: int, data: bytes) -> None:
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the slow case: the client has given up
                    pass

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sink():
    fake = FakeSink()
    yield fake
    fake.close()


@pytest.fixture
def closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def client_for(make_worker):
    def make(results_url: str | None, **settings) -> TestClient:
        worker = make_worker(results_url=results_url, results_timeout_s=0.3, **settings)
        app = create_app(worker, [].append, StatusStore(100), worker.settings)
        return TestClient(app, raise_server_exceptions=False)

    return make


@pytest.fixture
def wav(kit) -> bytes:
    return kit.encode(kit.tone(440, 3.0), SR, "wav", "pcm_s16le")


def upload(client: TestClient, wav: bytes, rid: str, data: bytes | None = None):
    response = client.post(
        f"/v1/recordings?recording_id={rid}", content=data or wav, headers={"Content-Type": "audio/wav"}
    )
    assert response.status_code in (202, 422), response.text
    return response


def test_when_the_store_has_the_completed_recording_then_its_answer_is_returned(client_for, sink):
    sink.results["done-1"] = COMPLETED
    response = client_for(sink.url).get("/v1/recordings/done-1")
    assert response.status_code == 200
    body = response.json()
    assert body == {**COMPLETED, "result_store": "answered"}
    assert sink.paths == ["/v1/recordings/done-1"]


def test_when_both_know_it_then_the_store_wins_and_memory_adds_only_missing_fields(client_for, sink, wav):
    client = client_for(sink.url)
    upload(client, wav, "done-1")
    sink.results["done-1"] = COMPLETED
    body = client.get("/v1/recordings/done-1").json()
    assert (body["status"], body["trace_id"], body["priority"]) == ("completed", "ab" * 16, "batch")
    assert body["transcript"] == COMPLETED["transcript"]
    assert body["quality"] == COMPLETED["quality"]
    assert body["chunk_count"] == 1  # the store has no chunk_count; this replica does
    assert "error_type" not in body and "reason" not in body  # None in memory adds nothing
    assert body["result_store"] == "answered"


def test_when_the_store_lags_then_a_recording_accepted_here_is_queued(client_for, sink, wav):
    client = client_for(sink.url)
    accepted = upload(client, wav, "fresh-1").json()
    assert accepted["status"] == "queued"
    response = client.get("/v1/recordings/fresh-1")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["result_store"]) == ("queued", "not_yet")
    assert body["trace_id"] == accepted["trace_id"] and body["chunk_count"] == 1
    sink.results["fresh-1"] = {**COMPLETED, "recording_id": "fresh-1", "status": "processing"}
    assert client.get("/v1/recordings/fresh-1").json()["status"] == "processing"


def test_when_the_store_lags_then_a_refused_upload_is_failed(client_for, sink, wav):
    client = client_for(sink.url)
    upload(client, wav, "cut-1", data=wav[:5000])
    body = client.get("/v1/recordings/cut-1").json()
    assert (body["status"], body["error_type"], body["result_store"]) == ("failed", "truncated", "not_yet")


def test_when_neither_knows_it_then_404(client_for, sink):
    response = client_for(sink.url).get("/v1/recordings/nope")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found" and "nope" in response.json()["detail"]


@pytest.mark.parametrize("mode", ["500", "503", "garbage", "slow", "closed"])
def test_when_the_store_is_unavailable_then_memory_answers_and_says_so(
    client_for, sink, closed_url, wav, mode
):
    client = client_for(closed_url if mode == "closed" else sink.url)
    upload(client, wav, "known-1")
    sink.mode = mode
    response = client.get("/v1/recordings/known-1")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["result_store"]) == ("queued", "unavailable")
    assert body["result_store_detail"]


@pytest.mark.parametrize("mode", ["500", "503", "garbage", "slow", "closed"])
def test_when_the_store_is_unavailable_and_memory_has_nothing_then_503(client_for, sink, closed_url, mode):
    sink.mode = mode
    response = client_for(closed_url if mode == "closed" else sink.url).get("/v1/recordings/x")
    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "unavailable" and body["detail"]


@pytest.mark.parametrize("mode", ["normal", "500", "503", "garbage", "closed"])
@pytest.mark.parametrize("rid", ["done-1", "known-1", "nobody", "odd%3Fid", "%20"])
def test_no_answer_is_a_5xx_other_than_the_explicit_503(client_for, sink, closed_url, wav, mode, rid):
    sink.results["done-1"] = COMPLETED
    client = client_for(closed_url if mode == "closed" else sink.url)
    upload(client, wav, "known-1")
    sink.mode = mode
    response = client.get(f"/v1/recordings/{rid}")
    assert response.status_code in (200, 404, 503)
    if response.status_code == 503:
        assert response.json()["error"] == "unavailable"


def test_the_recording_id_is_quoted_in_the_store_url(client_for, sink):
    client_for(sink.url).get("/v1/recordings/a%3Fb%23c")
    assert sink.paths == ["/v1/recordings/a%3Fb%23c"]


def test_a_duplicate_upload_is_refused_from_memory_even_when_the_store_answers(client_for, sink, wav):
    client = client_for(sink.url)
    upload(client, wav, "dup-1")
    sink.results["dup-1"] = {**COMPLETED, "recording_id": "dup-1"}
    again = client.post(
        "/v1/recordings?recording_id=dup-1", content=wav, headers={"Content-Type": "audio/wav"}
    )
    assert again.status_code == 409
    assert sink.paths == []  # the check never asks the store


@pytest.mark.parametrize("value", ["", "none", "  "])
def test_an_empty_results_url_disables_the_store(monkeypatch, value):
    monkeypatch.setenv("STT_INGEST_RESULTS_URL", value)
    assert IngestSettings().results_url is None


def test_the_results_url_defaults_to_the_local_sink(monkeypatch):
    monkeypatch.delenv("STT_INGEST_RESULTS_URL", raising=False)
    assert IngestSettings().results_url == "http://127.0.0.1:8090"

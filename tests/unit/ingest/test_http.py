from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.ingest.http import create_app
from services.ingest.status import StatusStore

SR = 16000


class FakePublish:
    def __init__(self) -> None:
        self.results = []
        self.broken = False

    def __call__(self, result) -> None:
        if self.broken:
            raise RuntimeError("broker unreachable")
        self.results.append(result)


@pytest.fixture
def publish() -> FakePublish:
    return FakePublish()


@pytest.fixture
def client_for(make_worker, publish):
    def make(**settings) -> TestClient:
        worker = make_worker(**{"results_url": None, **settings})  # memory only, as one replica
        app = create_app(worker, publish, StatusStore(100), worker.settings)
        return TestClient(app, raise_server_exceptions=False)

    return make


@pytest.fixture
def client(client_for) -> TestClient:
    return client_for()


@pytest.fixture
def wav(kit) -> bytes:
    return kit.encode(kit.tone(440, 3.0), SR, "wav", "pcm_s16le")


def test_a_multipart_upload_is_accepted_and_its_status_can_be_read(client, publish, wav):
    response = client.post(
        "/v1/recordings",
        files={"file": ("call.wav", wav, "audio/wav")},
        data={"tenant": "acme", "language": "de", "num_speakers": "2"},
    )
    assert response.status_code == 202
    body = response.json()
    assert len(body["trace_id"]) == 32 and body["recording_id"]
    [result] = publish.results
    assert result.recording_id == body["recording_id"]
    meta = result.metadata
    assert (meta["tenant"], meta["source"], meta["hints"]["language"]) == ("acme", "http", "de")
    assert meta["hints"]["num_speakers"] == 2
    assert body["status"] == "queued"
    status = client.get(f"/v1/recordings/{body['recording_id']}").json()
    assert (status["status"], status["result_store"]) == ("queued", "disabled")
    assert status["chunk_count"] == 1
    assert status["duration_s"] == pytest.approx(3.0)


def test_a_raw_body_with_query_fields_is_accepted(client, publish, kit):
    stereo = kit.encode(kit.tone(440, 2.0)[None].repeat(2, 0), SR, "flac", "flac")
    response = client.post(
        "/v1/recordings?recording_id=call-7&priority=realtime&split_channels=true"
        "&channel_roles=agent,customer&metadata=%7B%22queue%22%3A%22billing%22%7D",
        content=stereo,
        headers={"Content-Type": "audio/flac"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["recording_id"] == "call-7"
    result = publish.results[0]
    assert result.priority == "realtime"
    assert [c["channel_role"] for c in result.chunks] == ["agent", "customer"]
    assert result.metadata["metadata"] == {"queue": "billing"}


def test_a_raw_mulaw_body_is_decoded_when_its_content_type_says_so(client, publish, kit):
    body = kit.encode(kit.tone(440, 2.0, 8000), 8000, "mulaw", "pcm_mulaw")
    response = client.post("/v1/recordings", content=body, headers={"Content-Type": "audio/basic"})
    assert response.status_code == 202
    assert publish.results[0].metadata["codec"] == "pcm_mulaw"


def test_a_producer_traceparent_header_carries_its_trace_id(client, wav):
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = client.post(
        "/v1/recordings",
        content=wav,
        headers={"Content-Type": "audio/wav", "traceparent": f"00-{trace}-00f067aa0ba902b7-01"},
    )
    assert response.json()["trace_id"] == trace


def test_when_the_upload_is_too_large_then_413(client_for, publish, wav):
    client = client_for(max_upload_bytes=len(wav) - 1)
    raw = client.post("/v1/recordings", content=wav, headers={"Content-Type": "audio/wav"})
    form = client.post("/v1/recordings", files={"file": ("a.wav", wav, "audio/wav")})
    for response in (raw, form):
        assert response.status_code == 413
        assert response.json()["error"] == "too_large"
    assert publish.results == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", "image/png"])
def test_when_the_media_type_is_not_audio_then_415(client, wav, content_type):
    response = client.post("/v1/recordings", content=wav, headers={"Content-Type": content_type})
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
    assert content_type in response.json()["detail"]


def test_when_the_codec_has_no_decoder_then_415(client, wav):
    fmt = wav.index(b"fmt ") + 8
    odd = wav[:fmt] + b"\x77\x77" + wav[fmt + 2 :]
    response = client.post("/v1/recordings", content=odd, headers={"Content-Type": "audio/wav"})
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_codec"


def test_when_the_file_is_truncated_then_422_and_the_failure_is_published(client, publish, wav):
    response = client.post(
        "/v1/recordings", files={"file": ("a.wav", wav[:5000], "audio/wav")}, data={"recording_id": "cut-1"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "truncated" and "declares" in body["detail"]
    assert publish.results[0].failed["error_type"] == "truncated"
    status = client.get("/v1/recordings/cut-1").json()
    assert (status["status"], status["error_type"]) == ("failed", "truncated")


@pytest.mark.parametrize(
    "query",
    [
        "priority=urgent",
        "num_speakers=two",
        "split_channels=maybe",
        "metadata=[1]",
        "min_speakers=3&max_speakers=2",
    ],
)
def test_when_a_field_is_invalid_then_422_names_it(client, wav, query):
    response = client.post(f"/v1/recordings?{query}", content=wav, headers={"Content-Type": "audio/wav"})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert query.split("=")[0].split("&")[0] in response.json()["detail"]


def test_when_a_multipart_upload_has_no_file_field_then_422(client):
    response = client.post(
        "/v1/recordings", data={"tenant": "acme"}, files={"other": ("a.txt", b"x", "text/plain")}
    )
    assert response.status_code == 422
    assert "'file'" in response.json()["detail"]


def test_when_publishing_fails_then_503_and_nothing_is_marked_queued(client, publish, wav):
    publish.broken = True
    response = client.post(
        "/v1/recordings?recording_id=r-9", content=wav, headers={"Content-Type": "audio/wav"}
    )
    assert response.status_code == 503
    assert client.get("/v1/recordings/r-9").status_code == 404


def test_when_a_recording_id_was_already_accepted_then_409(client, wav):
    first = client.post("/v1/recordings?recording_id=dup", content=wav, headers={"Content-Type": "audio/wav"})
    second = client.post(
        "/v1/recordings?recording_id=dup", content=wav, headers={"Content-Type": "audio/wav"}
    )
    assert (first.status_code, second.status_code) == (202, 409)


def test_an_unknown_recording_is_404(client):
    response = client.get("/v1/recordings/nope")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_the_status_store_forgets_the_least_recently_used_entries():
    store = StatusStore(capacity=2)
    store.put("a", {"status": "queued"})
    store.put("b", {"status": "queued"})
    store.get("a")
    store.put("c", {"status": "queued"})
    assert store.get("b") is None and store.get("a") and store.get("c")

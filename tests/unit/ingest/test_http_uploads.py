"""Uploads that never complete: a client that stops sending its body, or goes away mid-body.

Driven as raw ASGI calls, since a test client always sends the whole body: ``receive`` hands
out the first piece and then waits forever (a stall) or reports ``http.disconnect``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from services.ingest.http import create_app
from services.ingest.status import StatusStore


class Publish:
    def __init__(self) -> None:
        self.results: list[Any] = []

    def __call__(self, result: Any) -> None:
        self.results.append(result)


def call(
    app: Any, first_piece: bytes, then: str, declared: int, timeout_s: float = 10.0
) -> list[dict[str, Any]]:
    """POST a raw body: ``first_piece`` arrives, then the client stalls or disconnects."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/recordings",
        "raw_path": b"/v1/recordings",
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 1),
        "server": ("t", 80),
        "headers": [(b"content-type", b"audio/wav"), (b"content-length", str(declared).encode())],
    }
    sent: list[dict[str, Any]] = []
    given = False

    async def receive() -> dict[str, Any]:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": first_piece, "more_body": True}
        if then == "disconnect":
            return {"type": "http.disconnect"}
        await asyncio.Event().wait()  # the client never sends another byte
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        await asyncio.wait_for(app(scope, receive, send), timeout_s)

    asyncio.run(run())
    return sent


def answer(sent: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body)


@pytest.fixture
def publish() -> Publish:
    return Publish()


@pytest.fixture
def app_for(make_worker, publish):
    def make(**settings: Any) -> Any:
        worker = make_worker(**{"results_url": None, **settings})
        return create_app(worker, publish, StatusStore(10), worker.settings)

    return make


def test_when_an_upload_stops_sending_then_408_after_the_part_timeout(app_for, publish):
    app = app_for(part_timeout_s=0.5)
    status, body = answer(call(app, b"RIFF" + bytes(996), "stall", 100_000, timeout_s=10))
    assert status == 408 and body["error"] == "upload_stalled"
    assert "1000 of 100000 bytes" in body["detail"] and "0.5 s" in body["detail"]
    assert publish.results == []


def test_when_the_client_goes_away_mid_upload_then_nothing_is_ingested_or_raised(app_for, publish, caplog):
    app = app_for()
    with caplog.at_level(logging.INFO, logger="services.ingest.http"):
        sent = call(app, b"RIFF" + bytes(996), "disconnect", 100_000)
    status, body = answer(sent)
    assert status == 400 and body["error"] == "client_disconnected"
    assert "after 1000 of 100000 bytes" in body["detail"]
    assert publish.results == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

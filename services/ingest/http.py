"""HTTP intake: upload a recording, get 202 with its ids, ask for its status later.

The status comes from the result store (the sink's HTTP API over ClickHouse), so any replica
can answer it; this replica's memory of its own uploads only fills the gap (see ``status``).

Why decode before answering: a caller learns at once that a file is truncated or not audio
(422), too large (413) or of a type we cannot read (415), instead of finding a failure event
later. Chunks are then published through an injected ``publish`` callable, so this module knows
nothing about Kafka and tests can pass a list's ``append``. Every rejection is a JSON body
``{"error": <machine-readable>, "detail": <human-readable>}``.

An upload whose bytes stop arriving for ``part_timeout_s`` (the rule for stalled part uploads
on Kafka) is answered 408: uvicorn has no body timeout, so a stalled client would otherwise
hold its request, and the bytes it sent, forever.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect

from mesh.trace import TraceContext
from services.ingest import events
from services.ingest.config import IngestSettings
from services.ingest.events import IngestRequest
from services.ingest.sniff import media_type
from services.ingest.status import StatusStore, ask_result_store, merge, status_of
from services.ingest.worker import IngestResult, IngestWorker

log = logging.getLogger(__name__)

Publish = Callable[[IngestResult], None]
MULTIPART_SLACK = 1024 * 1024  # form fields and boundaries around the file
_BINARY_TYPES = {
    "",
    "application/octet-stream",
    "application/ogg",
    "video/mp4",
    "video/webm",
    "video/ogg",
    "video/quicktime",
    "video/x-matroska",
}
_STATUS_BY_ERROR = {"too_large": 413, "unsupported_codec": 415}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


class Rejection(Exception):
    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


def create_app(
    worker: IngestWorker,
    publish: Publish,
    status_store: StatusStore | None = None,
    settings: IngestSettings | None = None,
) -> FastAPI:
    settings = settings or worker.settings
    store = status_store if status_store is not None else StatusStore(settings.status_capacity)
    app = FastAPI(title="stt-mesh ingest", version="1")

    @app.exception_handler(Rejection)
    async def _rejected(_: Request, exc: Rejection) -> JSONResponse:
        return _error(exc.status, exc.error, exc.detail)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/recordings", status_code=202)
    async def submit(request: Request) -> JSONResponse:
        data, request_ = await _read_upload(request, settings.max_upload_bytes, settings.part_timeout_s)
        if _already_accepted(store, request_.recording_id):
            raise Rejection(
                409,
                "duplicate",
                f"recording {request_.recording_id} was already accepted; use a new recording_id",
            )
        result = await run_in_threadpool(worker.ingest, data, request_)
        if not result.ok:
            return await _refuse(result, publish, store)
        try:
            await run_in_threadpool(publish, result)
        except Exception as exc:
            log.exception("publishing %s failed", result.recording_id)
            raise Rejection(
                503, "unavailable", f"the recording could not be queued ({exc}); try again"
            ) from exc
        status = status_of(result)
        store.put(result.recording_id, status)
        return JSONResponse(status, status_code=202)

    @app.get("/v1/recordings/{recording_id}")
    async def recording_status(recording_id: str) -> JSONResponse:
        answer = await run_in_threadpool(
            ask_result_store, settings.results_url, recording_id, settings.results_timeout_s
        )
        code, body = merge(recording_id, answer, store.get(recording_id))
        return JSONResponse(body, status_code=code)

    return app


async def _read_upload(request: Request, limit: int, idle_timeout_s: float) -> tuple[bytes, IngestRequest]:
    """The file bytes and the request built from query, form fields and headers."""
    ctype = request.headers.get("content-type", "")
    multipart = media_type(ctype) == "multipart/form-data"
    body = await _read_capped(request, limit + (MULTIPART_SLACK if multipart else 0), idle_timeout_s)
    fields: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        fields.setdefault(key, []).append(value)
    filename = None
    if multipart:
        body, ctype, filename = await _file_part(request, body, fields)
    _check_media_type(ctype)
    if len(body) > limit:
        raise Rejection(413, "too_large", f"the file has {len(body)} bytes; the limit is {limit}")
    req = request_from_fields(fields, request.headers.get("traceparent"))
    req.content_type, req.filename = ctype or None, req.filename or filename
    return body, req


async def _read_capped(request: Request, cap: int, idle_timeout_s: float) -> bytes:
    """The whole body: 413 past ``cap``, 408 when no bytes come for ``idle_timeout_s``, 400
    (to nobody: the log is what remains) when the client goes away before the end."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise Rejection(413, "too_large", f"the body has {declared} bytes; the limit is {cap}")
    of = f" of {declared}" if declared.isdigit() else ""
    body = bytearray()
    pieces = request.stream().__aiter__()
    while True:
        try:
            piece = await asyncio.wait_for(pieces.__anext__(), idle_timeout_s)
        except StopAsyncIteration:
            return bytes(body)
        except TimeoutError:
            log.info("upload stalled after %d%s bytes", len(body), of)
            raise Rejection(
                408,
                "upload_stalled",
                f"no bytes arrived for {idle_timeout_s:g} s "
                f"after {len(body)}{of} bytes; send the "
                "recording again",
            ) from None
        except ClientDisconnect:
            log.info("client went away after %d%s bytes of its upload", len(body), of)
            raise Rejection(
                400, "client_disconnected", f"the client closed the connection after {len(body)}{of} bytes"
            ) from None
        body += piece
        if len(body) > cap:
            raise Rejection(413, "too_large", f"the body exceeds the limit of {cap} bytes")


async def _file_part(
    request: Request, body: bytes, fields: dict[str, list[str]]
) -> tuple[bytes, str, str | None]:
    """Parse an already-read multipart body; form fields override query parameters."""
    replay = Request(request.scope, _replay(body))
    try:
        form = await replay.form(max_files=1, max_fields=50)
    except Exception as exc:
        detail = f"the multipart body cannot be parsed: {exc}"
        raise Rejection(422, "invalid_request", detail) from exc
    try:  # the parsed form holds its files in spooled temporary files until closed
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Rejection(422, "invalid_request", "a multipart upload needs a 'file' field")
        form_fields: dict[str, list[str]] = {}
        for key, value in form.multi_items():
            if isinstance(value, str):
                form_fields.setdefault(key, []).append(value)
        fields.update(form_fields)
        data = await upload.read()
        return data, upload.content_type or "", upload.filename
    finally:
        await form.close()


def _replay(body: bytes) -> Callable[[], Any]:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _check_media_type(ctype: str) -> None:
    mime = media_type(ctype)
    if not (mime.startswith("audio/") or mime in _BINARY_TYPES):
        raise Rejection(
            415,
            "unsupported_media_type",
            f"cannot ingest {mime}; send an audio/* type or application/octet-stream",
        )


def request_from_fields(fields: Mapping[str, list[str]], traceparent: str | None) -> IngestRequest:
    """An IngestRequest from form/query fields; 422 ``Rejection`` when one is invalid."""
    one = {key: values[-1] for key, values in fields.items() if values}
    hints = events.make_hints(
        language=one.get("language") or None,
        num_speakers=_int(one, "num_speakers"),
        min_speakers=_int(one, "min_speakers"),
        max_speakers=_int(one, "max_speakers"),
        channel_roles=_roles(fields.get("channel_roles", [])),
    )
    req = IngestRequest(
        recording_id=one.get("recording_id") or events.new_recording_id(),
        trace_id=one.get("trace_id") or _trace_from_header(traceparent),
        tenant=one.get("tenant", "default"),
        source="http",
        filename=one.get("filename") or None,
        priority=one.get("priority", "batch"),
        split_channels=_bool(one, "split_channels"),
        hints=hints,
        metadata=_metadata(one.get("metadata")),
    )
    problem = events.request_problem(req)
    if problem:
        raise Rejection(422, "invalid_request", problem)
    return req


def _int(one: Mapping[str, str], name: str) -> int | None:
    value = one.get(name, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        detail = f"{name} must be an integer, not {value!r}"
        raise Rejection(422, "invalid_request", detail) from None


def _bool(one: Mapping[str, str], name: str) -> bool:
    value = one.get(name, "").strip().lower()
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise Rejection(422, "invalid_request", f"{name} must be true or false, not {value!r}")


def _roles(values: list[str]) -> list[str]:
    return [role.strip() for value in values for role in value.split(",") if role.strip()]


def _metadata(value: str | None) -> dict[str, str]:
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise Rejection(422, "invalid_request", "metadata must be a JSON object")
    return {str(k): str(v) for k, v in parsed.items()}


def _trace_from_header(traceparent: str | None) -> str | None:
    ctx = TraceContext.parse(traceparent) if traceparent else None
    return ctx.trace_id if ctx else None


def _already_accepted(store: StatusStore, recording_id: str) -> bool:
    """Whether this replica queued the id already. Per replica and from memory only: another
    replica, or this one after a restart or once the id left the LRU, accepts it again."""
    status = store.get(recording_id)
    return status is not None and status.get("status") == "queued"


async def _refuse(result: IngestResult, publish: Publish, store: StatusStore) -> JSONResponse:
    """Answer a failed ingest, and report the failure downstream (best effort)."""
    failed = result.failed or {}
    store.put(result.recording_id, status_of(result))
    try:
        await run_in_threadpool(publish, result)
    except Exception:
        log.warning("could not publish the failure of %s", result.recording_id, exc_info=True)
    status = _STATUS_BY_ERROR.get(failed.get("error_type", ""), 422)
    return _error(
        status,
        failed.get("error_type", "invalid"),
        failed.get("reason", ""),
        recording_id=result.recording_id,
        trace_id=result.trace_id,
    )


def _error(status: int, error: str, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail, **extra}, status_code=status)

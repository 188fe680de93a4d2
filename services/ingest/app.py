"""Wiring of the ingest service: the raw-topic consumer and the HTTP intake around one worker.

Kafka path: RecordingParts -> reassembly -> IngestWorker -> RecordingMetadata (or
RecordingFailed) on the recordings topic and AudioChunks on the priority's chunk topic.
Buffered parts live only in memory, so their messages are held (uncommitted) until the
recording completes or fails: a crash replays them instead of losing the recording. The
loop's tick fails recordings whose parts stopped arriving and releases their messages.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from mesh import MeshSettings, Message, Output, Processor, Publisher, topics
from mesh.logs import configure as configure_logs
from mesh.trace import is_trace_id
from services.ingest.config import IngestSettings
from services.ingest.events import IngestRequest, hints_from
from services.ingest.reassembly import Complete, PartAssembler, Pending, Rejected
from services.ingest.worker import IngestResult, IngestWorker

log = logging.getLogger(__name__)


def outputs_for(result: IngestResult) -> list[Output]:
    """The events of one ingest result, metadata (or failure) first."""
    if result.failed is not None:
        return [Output(topic=topics.RECORDINGS, schema="RecordingFailed", value=result.failed)]
    assert result.metadata is not None
    chunk_topic = topics.chunks_topic(result.priority)
    return [
        Output(topic=topics.RECORDINGS, schema="RecordingMetadata", value=result.metadata),
        *(Output(topic=chunk_topic, schema="AudioChunk", value=c) for c in result.chunks),
    ]


def request_from_part(header: dict[str, Any], trace_id: str | None = None) -> IngestRequest:
    """An IngestRequest from a RecordingPart's fields; the part's own trace id wins if valid."""
    own = header.get("trace_id")
    return IngestRequest(
        recording_id=header["recording_id"],
        trace_id=own if is_trace_id(own) else trace_id,
        tenant=header.get("tenant") or "default",
        source=header.get("source") or "kafka",
        filename=header.get("filename"),
        content_type=header.get("content_type"),
        priority=header.get("priority") or "batch",
        split_channels=bool(header.get("split_channels")),
        hints=hints_from(header.get("hints")),
        metadata=dict(header.get("metadata") or {}),
        submitted_at_ms=header.get("produced_at_ms"),
    )


class RawHandler:
    """Handler of the raw topic: buffer parts, ingest complete recordings."""

    def __init__(self, worker: IngestWorker, assembler: PartAssembler) -> None:
        self.worker = worker
        self.assembler = assembler
        self._keys: dict[str, bytes | None] = {}  # pending recording -> its Kafka key

    def __call__(self, msg: Message) -> list[Output]:
        outcome = self.assembler.add(msg.value)
        rid = msg.value["recording_id"]
        if isinstance(outcome, Complete):
            msg.release_key()
            self._keys.pop(rid, None)
            request = request_from_part(outcome.header, msg.trace_id)
            return outputs_for(self.worker.ingest(outcome.data, request))
        if isinstance(outcome, Rejected):
            msg.release_key()
            self._keys.pop(rid, None)
            return self._failed(outcome, msg.trace_id)
        if isinstance(outcome, Pending):
            msg.hold()
            self._keys[rid] = msg.key
        return []

    def tick(self, proc: Processor) -> list[Output]:
        """Fail recordings whose parts stopped arriving; commit past their messages."""
        outputs = []
        for rejected in self.assembler.expire():
            if rejected.recording_id in self._keys:
                proc.release(self._keys.pop(rejected.recording_id))
            outputs += self._failed(rejected)
        return outputs

    def _failed(self, rejected: Rejected, trace_id: str | None = None) -> list[Output]:
        request = request_from_part({"recording_id": rejected.recording_id, **rejected.header}, trace_id)
        result = self.worker.fail(
            request, rejected.error_type, rejected.reason, size_bytes=rejected.received_bytes
        )
        return outputs_for(result)


def build(settings: IngestSettings) -> tuple[IngestWorker, PartAssembler]:
    assembler = PartAssembler(
        max_buffered_bytes=settings.max_buffered_bytes,
        max_recording_bytes=settings.max_upload_bytes,
        timeout_s=settings.part_timeout_s,
    )
    return IngestWorker(settings), assembler


def main(argv: list[str] | None = None) -> None:
    """Consume the raw topic until SIGTERM/SIGINT (``http`` as argument: the HTTP intake)."""
    if argv and argv[0] == "http":
        serve_http()
        return
    configure_logs("ingest")
    mesh_settings, settings = MeshSettings(), IngestSettings()
    handler = RawHandler(*build(settings))
    proc = Processor(
        mesh_settings,
        service="ingest",
        topics=[topics.RAW],
        group_id="stt-ingest",
        handler=handler,
        tick=handler.tick,
        tick_interval_s=settings.expiry_interval_s,
    )
    proc.run()


def serve_http() -> None:
    """Run the HTTP intake (uvicorn), publishing through a Kafka producer."""
    import uvicorn

    from services.ingest.http import create_app
    from services.ingest.status import StatusStore

    configure_logs("ingest-http")
    mesh_settings, settings = MeshSettings(), IngestSettings()
    worker, _ = build(settings)
    publish = kafka_publish(Publisher(mesh_settings, service="ingest-http"))
    app = create_app(worker, publish, StatusStore(settings.status_capacity), settings)
    server = uvicorn.Server(uvicorn.Config(app, host=settings.http_host, port=settings.http_port))
    stop = health_beat(mesh_settings, server)
    try:
        server.run()
    finally:
        stop()


def kafka_publish(publisher: Publisher, flush_timeout_s: float = 30.0) -> Callable[[IngestResult], None]:
    """A ``publish`` for the HTTP intake: send every event, wait for Kafka's acknowledgement.
    Serialised, so a delivery failure is reported to the request that caused it."""
    lock = threading.Lock()

    def publish(result: IngestResult) -> None:
        with lock:
            for out in outputs_for(result):
                publisher.send(out)
            publisher.flush(timeout_s=flush_timeout_s)

    return publish


def health_beat(settings: MeshSettings, server: Any) -> Callable[[], None]:
    """Serve /healthz and /readyz on the metrics port while uvicorn runs; returns a stopper."""
    from prometheus_client import CollectorRegistry

    from mesh.health import Health, HealthServer

    if settings.metrics_port is None:
        return lambda: None
    health = Health()
    probe = HealthServer(health, CollectorRegistry(), settings.metrics_host, settings.metrics_port).start()
    done = threading.Event()

    def beat() -> None:
        while not done.wait(5.0):
            if server.started and not server.should_exit:
                health.beat()
                health.ready = True

    threading.Thread(target=beat, name="ingest-health", daemon=True).start()

    def stop() -> None:
        done.set()
        health.stopped = True
        probe.stop()

    return stop

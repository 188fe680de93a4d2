"""Wiring of the diarization service: AudioChunk topics in, SpeakerTurns out.

Both chunk topics (batch and realtime) feed one worker; a recording's chunks stay ordered on
one partition because every event is keyed by recording_id. The handler returns ``[]`` for a
chunk only after its audio is durably spilled (see assembly.py for the recovery rule), and one
SpeakerTurns per finished recording.

Recordings whose chunks stop arriving must close even when the topics go quiet, and the loop
calls the handler only when a message arrives; a small sweeper thread therefore closes timed
out recordings every ``sweep_interval_s`` and publishes their partial results itself. The
worker is not thread-safe, so handler and sweeper share one lock.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from mesh import MeshSettings, Message, Output, Processor, RetryableError, topics
from mesh.trace import TraceContext
from services.diarize.config import DiarizeSettings
from services.diarize.worker import DiarizeWorker

log = logging.getLogger(__name__)

SERVICE = "diarize"


def to_output(value: dict[str, Any]) -> Output:
    return Output(topic=topics.DIARIZATION, schema="SpeakerTurns", value=value,
                  key=value["recording_id"])


class Handler:
    def __init__(self, worker: DiarizeWorker, lock: threading.Lock) -> None:
        self.worker, self.lock = worker, lock

    def __call__(self, msg: Message) -> list[Output]:
        chunk = dict(msg.value)
        chunk["trace_id"] = chunk.get("trace_id") or msg.trace_id
        try:
            with self.lock:
                values = self.worker.handle_chunk(chunk)
        except OSError as exc:  # disk full, state volume gone: worth another try
            raise RetryableError(f"spill failed: {exc}") from exc
        return [to_output(v) for v in values]


class Sweeper(threading.Thread):
    """Closes timed-out recordings while no message arrives."""

    def __init__(self, worker: DiarizeWorker, lock: threading.Lock, proc: Processor,
                 interval_s: float) -> None:
        super().__init__(name="diarize-sweeper", daemon=True)
        self.worker, self.lock, self.proc, self.interval_s = worker, lock, proc, interval_s
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval_s):
            try:
                with self.lock:
                    values = self.worker.sweep()
                for value in values:
                    self.proc.publisher.send(to_output(value), TraceContext.new(value["trace_id"]))
                if values:
                    self.proc.publisher.flush()
            except Exception:
                log.exception("sweep failed")


def main() -> None:
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = MeshSettings()
    diarize_settings = DiarizeSettings()
    worker = DiarizeWorker(diarize_settings)
    lock = threading.Lock()
    proc = Processor(
        settings,
        service=SERVICE,
        topics=[topics.CHUNKS_BATCH, topics.CHUNKS_REALTIME],
        group_id="stt-diarize",
        handler=Handler(worker, lock),
    )
    sweeper = Sweeper(worker, lock, proc, diarize_settings.sweep_interval_s)
    log.info("diarize: pipeline=%s state_dir=%s open recordings=%d", diarize_settings.pipeline,
             diarize_settings.state_dir, len(worker.assembler.open_recordings()))
    sweeper.start()
    try:
        proc.run()
    finally:
        sweeper.stopped.set()

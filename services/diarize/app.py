"""Wiring of the diarization service: AudioChunk topics in, SpeakerTurns out.

Two pools, as in ASR: ``--pool realtime`` reads stt.audio.chunks.realtime.v1 and ``--pool
batch`` the batch topic, each in its own consumer group (``stt-diarize-<pool>``) and process
with its own state folder, so a backfill never delays a realtime call's turns. A recording's
chunks stay ordered on one partition because every event is keyed by recording_id. The
handler returns ``[]`` for a chunk only after its audio is durably spilled (see assembly.py
for the recovery rule), and one SpeakerTurns per finished recording.

Recordings whose chunks stop arriving must close even when the topics go quiet: the loop's
tick (every ``sweep_interval_s``, on the loop's work thread and never while the handler
runs, so the worker needs no lock) closes them and their partial results go out like any
other output.

A whole recording is diarized inside one handler call (its last chunk) or tick; past
``MeshSettings.pause_after_s()`` the loop pauses the partitions and keeps polling, so a call
longer than max.poll.interval.ms keeps its member and is diarized once (mesh/loop.py).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from typing import Any

from mesh import MeshSettings, Message, Output, Processor, RetryableError, topics
from mesh.logs import configure as configure_logs
from mesh.metrics import Sensor
from services.diarize.config import DiarizeSettings
from services.diarize.worker import DiarizeWorker

log = logging.getLogger(__name__)

SERVICE = "diarize"


def to_output(value: dict[str, Any]) -> Output:
    return Output(topic=topics.DIARIZATION, schema="SpeakerTurns", value=value, key=value["recording_id"])


def observe(sensor: Sensor | None, value: dict[str, Any]) -> None:
    """Per-recording figures as metrics: stt_diarize_rtf, _processing_seconds, _recordings."""
    if sensor is None:
        return
    labels = {"mode": value["mode"], "device": value["device"]}
    sensor.observe("diarize_rtf", value["rtf"], **labels)
    sensor.observe("diarize_processing_seconds", value["processing_ms"] / 1000.0, **labels)
    sensor.count("diarize_recordings", **labels, partial=str(value["partial"]).lower())


class Handler:
    def __init__(self, worker: DiarizeWorker, sensor: Sensor | None = None) -> None:
        self.worker = worker
        self.sensor = sensor

    def __call__(self, msg: Message) -> list[Output]:
        chunk = dict(msg.value)
        chunk["trace_id"] = chunk.get("trace_id") or msg.trace_id
        try:
            values = self.worker.handle_chunk(chunk)
        except OSError as exc:  # disk full, state volume gone: worth another try
            raise RetryableError(f"spill failed: {exc}") from exc
        for value in values:
            observe(self.sensor, value)
        return [to_output(v) for v in values]


def sweep(worker: DiarizeWorker) -> Callable[[Processor], list[Output]]:
    """The loop's tick: close recordings whose chunks stopped arriving (partial results)."""

    def tick(proc: Processor) -> list[Output]:
        values = worker.sweep()
        for value in values:
            observe(proc.sensor, value)
        return [to_output(v) for v in values]

    return tick


def group_id(pool: str) -> str:
    return f"stt-diarize-{pool}"


def pool_settings(settings: DiarizeSettings, pool: str | None) -> DiarizeSettings:
    """The settings of one pool: its topic choice and its own state folder."""
    pool = pool or settings.pool
    return settings.model_copy(update={"pool": pool, "state_dir": settings.state_dir / pool})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.diarize")
    parser.add_argument(
        "--pool",
        choices=["realtime", "batch"],
        default=None,
        help="the chunk topic to diarize (default STT_DIARIZE_POOL, realtime)",
    )
    args = parser.parse_args(argv)
    configure_logs(SERVICE)
    settings = MeshSettings()
    diarize_settings = pool_settings(DiarizeSettings(), args.pool)
    worker = DiarizeWorker(diarize_settings)
    # load before consuming: model loading must not count in the first recording's latency
    log.info("diarize: pipeline loaded and warmed up in %.1f s", worker.warm_up())
    handler = Handler(worker)
    proc = Processor(
        settings,
        service=SERVICE,
        topics=[topics.chunks_topic(diarize_settings.pool)],
        group_id=group_id(diarize_settings.pool),
        handler=handler,
        tick=sweep(worker),
        tick_interval_s=diarize_settings.sweep_interval_s,
    )
    handler.sensor = proc.sensor
    log.info(
        "diarize %s pool: pipeline=%s state_dir=%s open recordings=%d",
        diarize_settings.pool,
        diarize_settings.pipeline,
        diarize_settings.state_dir,
        len(worker.assembler.open_recordings()),
    )
    proc.run()

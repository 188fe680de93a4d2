"""Wiring of the ASR service: one consumer loop per pool around one worker.

``realtime`` consumes ``stt.audio.chunks.realtime.v1`` in small batches with a short wait;
``batch`` consumes ``stt.audio.chunks.batch.v1`` in large batches with a longer wait. Each
pool is its own consumer group and its own process, so a batch backlog never delays realtime
chunks and each pool scales on its own. Every AudioChunk gives one ChunkTranscript on
``stt.transcripts.v1`` (keyed by recording id, trace id copied), or a dead letter.

With a rollout candidate configured, the processor also runs a ``rollout.GateWatcher``: it
starts with the loop, follows ``stt.gates.v1`` in a thread of its own (so it never blocks
polling) and stops when the loop does.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from typing import Any

from mesh import MeshSettings, Message, Output, Processor, RetryableError, topics
from mesh.logs import configure as configure_logs
from services.asr.config import AsrSettings, Pool
from services.asr.rollout import GateWatcher, report
from services.asr.worker import AsrWorker, ChunkJob

log = logging.getLogger(__name__)

SERVICE = "asr"


class BatchHandler:
    """AudioChunk messages in, ``[Output]`` (or an error) per message out, same order."""

    def __init__(self, worker: AsrWorker, pool: Pool, sensor: Any = None) -> None:
        self.worker, self.pool, self.sensor = worker, pool, sensor

    def __call__(self, msgs: list[Message]) -> list[list[Output] | Exception]:
        return self.handle(msgs)

    def handle(self, msgs: Sequence[Message]) -> list[list[Output] | Exception]:
        jobs = [ChunkJob(m.value, m.trace_id, m.produced_at_ms, m.retries) for m in msgs]
        return [self._output(r) for r in self.worker.transcribe(jobs)]

    def _output(self, result: dict[str, Any] | Exception) -> list[Output] | Exception:
        if isinstance(result, TimeoutError):  # over budget with no way out: try again later
            return RetryableError(str(result))
        if isinstance(result, Exception):
            return result
        self._observe(result)
        return [
            Output(
                topic=topics.TRANSCRIPTS, schema="ChunkTranscript", value=result, key=result["recording_id"]
            )
        ]

    def _observe(self, event: dict[str, Any]) -> None:
        if self.sensor is None:
            return
        labels = {"pool": self.pool, "model": event["model"]["name"], "arm": event["arm"]}
        self.sensor.observe("asr_rtf", event["rtf"], **labels)
        self.sensor.observe("asr_queue_seconds", event["queue_ms"] / 1000.0, **labels)
        # counters are incremented by 0 too: each label set reads 0 from its first chunk, so a
        # rate() panel shows 0 rather than no data and a first fallback is an increase
        self.sensor.count("asr_fallbacks", 1.0 if event["fallback_used"] else 0.0, **labels)
        self._observe_coverage(event, labels)

    def _observe_coverage(self, event: dict[str, Any], labels: dict[str, str]) -> None:
        """Counters, so coverage aggregates over any window: 1 - uncovered / speech."""
        assert self.sensor is not None
        speech, share = event["speech_s"], event["speech_coverage"]
        if share is not None and speech > 0:
            self.sensor.count("asr_speech_seconds", speech, **labels)
            self.sensor.count("asr_uncovered_speech_seconds", speech * (1.0 - share), **labels)
        for field, name in (
            ("low_coverage", "asr_low_coverage_chunks"),
            ("redecodes", "asr_redecodes"),
            ("repetition_loops", "asr_repetition_loops"),
        ):
            self.sensor.count(name, float(event[field] or 0), **labels)


def group_id(pool: Pool) -> str:
    return f"stt-asr-{pool}"


class AsrProcessor(Processor):
    """The consumer loop, plus the gate watcher of the rollout (when there is a candidate)
    for as long as the loop runs."""

    gates: GateWatcher | None = None

    def run(self) -> None:
        if self.gates is not None:
            self.gates.start()
        try:
            super().run()
        finally:
            if self.gates is not None:
                self.gates.stop()


def build_processor(
    pool: Pool,
    settings: AsrSettings | None = None,
    mesh_settings: MeshSettings | None = None,
    worker: AsrWorker | None = None,
    *,
    gates_topic: str = topics.GATES,
    **processor_kwargs: Any,
) -> AsrProcessor:
    settings = settings or AsrSettings()
    mesh_settings = mesh_settings or MeshSettings()
    worker = worker or AsrWorker(settings=settings, pool=pool, work_budget_s=mesh_settings.work_budget_s())
    handler = BatchHandler(worker, pool)
    pool_settings = settings.pool_settings(pool)
    processor = AsrProcessor(
        mesh_settings,
        service=SERVICE,
        topics=[topics.chunks_topic(pool)],
        group_id=group_id(pool),
        handler=handler,
        batched=True,
        batch_size=pool_settings.batch_size,
        batch_timeout_ms=pool_settings.batch_timeout_ms,
        **processor_kwargs,
    )
    handler.sensor = processor.sensor
    if worker.router.enabled:
        processor.gates = GateWatcher(
            worker.router, processor.settings, topic=gates_topic, sensor=processor.sensor
        )
        report(worker.router, processor.sensor)
    return processor


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.asr", description=__doc__)
    parser.add_argument(
        "--pool",
        choices=["realtime", "batch"],
        default=None,
        help="which chunk topic to serve (default: STT_ASR_POOL or realtime)",
    )
    args = parser.parse_args(argv)
    configure_logs(SERVICE)
    settings = AsrSettings()
    pool: Pool = args.pool or settings.pool
    rollout = settings.rollout
    log.info(
        "asr %s pool: main=%s fallback=%s candidate=%s (share %.3f, tenants %s)",
        pool,
        settings.main_model(pool),
        settings.fallback_model,
        rollout.candidate_model,
        rollout.candidate_share,
        ",".join(rollout.candidate_tenants) or "none",
    )
    mesh_settings = MeshSettings()
    worker = AsrWorker(settings=settings, pool=pool, work_budget_s=mesh_settings.work_budget_s())
    log.info(
        "asr %s pool: decode budget %s s before the fallback (max.poll.interval.ms %d)",
        pool,
        f"{worker.timeout_s:g}" if worker.timeout_s else "none",
        mesh_settings.max_poll_interval_ms,
    )
    try:
        build_processor(pool, settings, mesh_settings, worker=worker).run()
    finally:
        worker.close()

"""Wiring of the redaction service: ChunkTranscripts and SpeakerTurns in, RedactedTranscripts
out on ``stt.transcripts.redacted.v1`` (keyed by recording id, trace id copied).

Raw text arrives only on ``stt.transcripts.v1``; everything this service produces is already
redacted, so the sink and the LLM apps never read raw text. Messages are handled in small
batches so the NER model sees several texts at once (``nlp.pipe``); with
``STT_REDACT_BATCH_SIZE=1`` the loop calls the handler once per message instead.

The recording-scope join keeps a recording's transcripts and turns in memory, so their
messages are held (left uncommitted) until the recording's output is produced or the
assembler gives up on it; after a crash Kafka replays them and the join is rebuilt.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from mesh import MeshSettings, Message, Output, Processor, topics
from mesh.groups import GroupWatch
from mesh.logs import configure as configure_logs
from services.redact.config import RedactSettings
from services.redact.worker import Redaction, RedactWorker

log = logging.getLogger(__name__)

SERVICE = "redact"
GROUP_ID = "stt-redact"


class Handler:
    """Message(s) in, ``[Output]`` (or an error) per message out, in order."""

    def __init__(self, worker: RedactWorker, sensor: Any = None) -> None:
        self.worker, self.sensor = worker, sensor
        self.proc: Processor | None = None
        self._held: set[str] = set()

    def __call__(self, msgs: list[Message]) -> list[list[Output] | Exception]:
        return self.handle(msgs)

    def handle(self, msgs: Sequence[Message]) -> list[list[Output] | Exception]:
        results = self.worker.handle([(m.schema, m.value) for m in msgs])
        pending = self.worker.assembler.pending_ids()
        for msg, result in zip(msgs, results, strict=True):
            if not isinstance(result, Exception):
                self._hold_or_release(msg, result, pending)
        self._release_abandoned(pending)
        return [
            r if isinstance(r, Exception) else [self._output(x) for x in r]
            for m, r in zip(msgs, results, strict=True)
        ]

    def tick(self, proc: Processor) -> list[Output]:
        """Recordings whose speaker turns timed out: emit them and commit past their messages."""
        outputs = []
        for redaction in self.worker.tick():
            outputs.append(self._output(redaction))
        self._release_abandoned(self.worker.assembler.pending_ids())
        return outputs

    def _hold_or_release(self, msg: Message, result: list[Redaction], pending: set[str]) -> None:
        rid = msg.value["recording_id"]
        if any(r.scope == "recording" and r.event["recording_id"] == rid for r in result):
            msg.release_key()
            self._held.discard(rid)
        elif rid in pending:
            msg.hold()
            self._held.add(rid)

    def _release_abandoned(self, pending: set[str]) -> None:
        """Recordings emitted by a tick or given up by the assembler: nothing left to replay."""
        for rid in self._held - pending:
            if self.proc is not None:
                self.proc.release(rid)
            self._held.discard(rid)

    def _output(self, redaction: Redaction) -> Output:
        event = redaction.event  # an empty trace_id is filled by the publisher from the message
        self._observe(redaction)
        return Output(
            topic=topics.REDACTED, schema="RedactedTranscript", value=event, key=event["recording_id"]
        )

    def _observe(self, redaction: Redaction) -> None:
        if self.sensor is None:
            return
        self.sensor.count("redact_outputs", scope=redaction.scope)
        for entity_type, n in redaction.entity_counts.items():
            self.sensor.count("redact_entities", n, scope=redaction.scope, entity_type=entity_type)


def build_processor(
    settings: RedactSettings | None = None,
    mesh_settings: MeshSettings | None = None,
    worker: RedactWorker | None = None,
    **processor_kwargs: Any,
) -> Processor:
    settings = settings or RedactSettings()
    mesh_settings = mesh_settings or MeshSettings()
    if worker is None:
        expect_turns = None
        if settings.diarization_enabled is None:  # wait for turns only while a diarizer runs
            watches = [
                GroupWatch(
                    mesh_settings, group, settings.diarizer_check_s, grace_s=settings.diarizer_grace_s
                ).start()
                for group in settings.diarizer_groups
            ]

            def expect_turns() -> bool:
                return any(w.active() for w in watches)

        worker = RedactWorker(settings, expect_turns=expect_turns)
    handler = Handler(worker)
    proc = Processor(
        mesh_settings,
        service=SERVICE,
        topics=[topics.TRANSCRIPTS, topics.DIARIZATION],
        group_id=GROUP_ID,
        handler=handler,
        batched=True,
        batch_size=settings.batch_size,
        batch_timeout_ms=settings.batch_timeout_ms,
        tick=handler.tick,
        **processor_kwargs,
    )
    handler.sensor, handler.proc = proc.sensor, proc
    return proc


def main(argv: Sequence[str] | None = None) -> None:
    configure_logs(SERVICE)
    build_processor().run()

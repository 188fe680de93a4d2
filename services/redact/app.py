"""Wiring of the redaction service: ChunkTranscripts and SpeakerTurns in, RedactedTranscripts
out on ``stt.transcripts.redacted.v1`` (keyed by recording id, trace id copied).

Raw text arrives only on ``stt.transcripts.v1``; everything this service produces is already
redacted, so the sink and the LLM apps never read raw text. Messages are handled in small
batches so the NER model sees several texts at once (``nlp.pipe``); with
``STT_REDACT_BATCH_SIZE=1`` the loop calls the handler once per message instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from mesh import MeshSettings, Message, Output, Processor, topics
from services.redact.config import RedactSettings
from services.redact.worker import Redaction, RedactWorker

log = logging.getLogger(__name__)

SERVICE = "redact"
GROUP_ID = "stt-redact"


class Handler:
    """Message(s) in, ``[Output]`` (or an error) per message out, in order."""

    def __init__(self, worker: RedactWorker, sensor: Any = None) -> None:
        self.worker, self.sensor = worker, sensor

    def __call__(self, msgs: list[Message] | Message) -> Any:
        if isinstance(msgs, Message):
            result = self.handle([msgs])[0]
            if isinstance(result, BaseException):
                raise result
            return result
        return self.handle(msgs)

    def handle(self, msgs: Sequence[Message]) -> list[list[Output] | Exception]:
        results = self.worker.handle([(m.schema, m.value) for m in msgs])
        return [r if isinstance(r, Exception) else [self._output(x, m) for x in r]
                for m, r in zip(msgs, results, strict=True)]

    def _output(self, redaction: Redaction, msg: Message) -> Output:
        event = redaction.event
        if not event.get("trace_id"):
            event["trace_id"] = msg.trace_id
        self._observe(redaction)
        return Output(topic=topics.REDACTED, schema="RedactedTranscript", value=event,
                      key=event["recording_id"])

    def _observe(self, redaction: Redaction) -> None:
        if self.sensor is None:
            return
        self.sensor.count("redact_outputs", scope=redaction.scope)
        for entity_type, n in redaction.entity_counts.items():
            self.sensor.count("redact_entities", n, scope=redaction.scope,
                              entity_type=entity_type)


def build_processor(settings: RedactSettings | None = None,
                    mesh_settings: MeshSettings | None = None,
                    worker: RedactWorker | None = None, **processor_kwargs: Any) -> Processor:
    settings = settings or RedactSettings()
    worker = worker or RedactWorker(settings)
    handler = Handler(worker)
    proc = Processor(
        mesh_settings or MeshSettings(), service=SERVICE,
        topics=[topics.TRANSCRIPTS, topics.DIARIZATION], group_id=GROUP_ID, handler=handler,
        batch_size=settings.batch_size, batch_timeout_ms=settings.batch_timeout_ms,
        **processor_kwargs)
    handler.sensor = proc.sensor
    return proc


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    build_processor().run()

"""The mesh handler with real Message/Output types and no broker."""

from __future__ import annotations

import pytest
from fastavro.validation import validate

import schemas
from mesh import Message, topics
from mesh.trace import TraceContext
from services.redact.app import Handler

pytestmark = pytest.mark.slow

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


class RecordingSensor:
    def __init__(self) -> None:
        self.counts: list[tuple[str, float, dict]] = []

    def count(self, name: str, amount: float = 1.0, **labels: str) -> None:
        self.counts.append((name, amount, labels))


def message(schema: str, value: dict, offset: int = 0) -> Message:
    topic = topics.TRANSCRIPTS if schema.endswith("ChunkTranscript") else topics.DIARIZATION
    return Message(topic, 0, offset, value["recording_id"].encode(), schema, value, [],
                   TraceContext.new(TRACE), 0)


def test_handler_maps_redactions_to_outputs_and_feeds_entity_metrics(
        make_worker, make_chunk, make_turns):
    sensor = RecordingSensor()
    handler = Handler(make_worker(), sensor)
    first = handler(message("stt.v1.ChunkTranscript",
                            make_chunk(0, 1, ["Hi, this is Sarah, call me at two one two, "
                                              "five five five, oh one nine eight."])))
    (out,) = first
    assert (out.topic, out.schema, out.key) == (topics.REDACTED, "RedactedTranscript", "call-1")
    assert validate(out.value, schemas.load("RedactedTranscript"))
    batch = handler([message("stt.v1.SpeakerTurns", make_turns("call-1", [("A", 0, 60)]), 1)])
    assert [o.value["scope"] for o in batch[0]] == ["recording"]
    assert ("redact_entities", 1, {"scope": "segment", "entity_type": "PHONE_NUMBER"}) in \
        sensor.counts
    assert ("redact_outputs", 1.0, {"scope": "recording"}) in sensor.counts


def test_handler_returns_the_error_of_an_unexpected_event(make_worker):
    handler = Handler(make_worker())
    (result,) = handler([message("stt.v1.AudioChunk", {"recording_id": "x"})])
    assert isinstance(result, ValueError)
    with pytest.raises(ValueError):
        handler(message("stt.v1.AudioChunk", {"recording_id": "x"}))

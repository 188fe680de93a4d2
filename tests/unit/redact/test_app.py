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
    return Message(
        topic, 0, offset, value["recording_id"].encode(), schema, value, [], TraceContext.new(TRACE), 0
    )


def test_handler_maps_redactions_to_outputs_and_feeds_entity_metrics(make_worker, make_chunk, make_turns):
    sensor = RecordingSensor()
    handler = Handler(make_worker(), sensor)
    [first] = handler(
        [
            message(
                "stt.v1.ChunkTranscript",
                make_chunk(
                    0, 1, ["Hi, this is Sarah, call me at two one two, five five five, oh one nine eight."]
                ),
            )
        ]
    )
    (out,) = first
    assert (out.topic, out.schema, out.key) == (topics.REDACTED, "RedactedTranscript", "call-1")
    assert validate(out.value, schemas.load("RedactedTranscript"))
    batch = handler([message("stt.v1.SpeakerTurns", make_turns("call-1", [("A", 0, 60)]), 1)])
    assert [o.value["scope"] for o in batch[0]] == ["recording"]
    assert ("redact_entities", 1, {"scope": "segment", "entity_type": "PHONE_NUMBER"}) in sensor.counts
    assert ("redact_outputs", 1.0, {"scope": "recording"}) in sensor.counts


def test_handler_returns_the_error_of_an_unexpected_event(make_worker):
    handler = Handler(make_worker())
    (result,) = handler([message("stt.v1.AudioChunk", {"recording_id": "x"})])
    assert isinstance(result, ValueError)


class Releases:
    def __init__(self) -> None:
        self.released: list = []

    def release(self, key) -> None:
        self.released.append(key)


def test_messages_of_a_recording_in_assembly_are_held_until_its_recording_output(
    make_worker, make_chunk, make_turns
):
    handler = Handler(make_worker())
    first = message("stt.v1.ChunkTranscript", make_chunk(0, 2, ["Hello there."]))
    second = message("stt.v1.ChunkTranscript", make_chunk(1, 2, ["Goodbye now."], t0=5.0), 1)
    turns = message("stt.v1.SpeakerTurns", make_turns("call-1", [("A", 0, 60)]), 2)
    handler([first])
    handler([second])
    assert first.held and second.held, "the join's memory must stay replayable"
    [outs] = handler([turns])
    assert [o.value["scope"] for o in outs] == ["recording"]
    assert turns.releases_key


def test_a_recording_emitted_by_a_timeout_tick_is_released(make_worker, make_chunk, clock):
    handler = Handler(make_worker(turns_timeout_s=5.0))
    handler.proc = proc = Releases()
    msg = message("stt.v1.ChunkTranscript", make_chunk(0, 1, ["Hello there."]))
    handler([msg])
    assert msg.held
    clock.now += 3600
    outs = handler.tick(proc)
    assert [o.value["scope"] for o in outs] == ["recording"]
    assert proc.released == ["call-1"]

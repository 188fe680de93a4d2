"""The raw-topic handler with mesh's Message/Output types and no broker."""

from __future__ import annotations

import pytest
from fastavro.validation import validate

import schemas
from mesh import Message, topics
from mesh.trace import TraceContext
from services.ingest.app import RawHandler, outputs_for
from services.ingest.events import make_hints
from services.ingest.reassembly import PartAssembler

SR = 16000
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def part_messages(data: bytes, size: int, **fields) -> list[Message]:
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    messages = []
    for i, piece in enumerate(pieces):
        value = {
            "recording_id": "call-1",
            "trace_id": TRACE,
            "tenant": "acme",
            "part": i,
            "part_count": len(pieces),
            "filename": "call.wav",
            "content_type": "audio/wav",
            "data": piece,
            "priority": "batch",
            "split_channels": False,
            "hints": make_hints(),
            "metadata": {},
            "produced_at_ms": 42,
            **fields,
        }
        messages.append(
            Message(
                topics.RAW, 0, i, b"call-1", "stt.v1.RecordingPart", value, [], TraceContext.new(TRACE), 42
            )
        )
    return messages


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def handler(make_worker, clock) -> RawHandler:
    assembler = PartAssembler(max_buffered_bytes=10**7, max_recording_bytes=10**7, timeout_s=30, clock=clock)
    return RawHandler(make_worker(), assembler)


def test_parts_become_metadata_then_chunks_on_the_priority_topic(handler, kit):
    data = kit.encode(
        kit.bursts([("speech", 25.0), ("pause", 1.0), ("speech", 20.0)]), SR, "wav", "pcm_s16le"
    )
    messages = part_messages(data, 400_000, priority="realtime")
    outputs = [handler(m) for m in messages]
    assert all(o == [] for o in outputs[:-1])
    assert all(m.held and not m.releases_key for m in messages[:-1]), "buffered parts stay uncommitted"
    assert messages[-1].releases_key
    final = outputs[-1]
    assert (final[0].topic, final[0].schema) == (topics.RECORDINGS, "RecordingMetadata")
    assert {o.topic for o in final[1:]} == {topics.CHUNKS_REALTIME}
    assert len(final) - 1 == final[0].value["chunk_count"] >= 2
    assert {o.value["trace_id"] for o in final} == {TRACE}
    assert final[0].value["submitted_at_ms"] == 42
    for out in final:
        assert out.key_bytes() == b"call-1"
        assert validate(out.value, schemas.load(out.schema))


def test_when_reassembled_bytes_are_not_audio_then_recording_failed_is_emitted(handler):
    [out] = handler(part_messages(b"not audio at all" * 10, 1000)[0])
    assert (out.topic, out.schema) == (topics.RECORDINGS, "RecordingFailed")
    assert out.value["error_type"] == "not_audio" and out.value["trace_id"] == TRACE
    assert validate(out.value, schemas.load("RecordingFailed"))


class FakeProcessor:
    def __init__(self) -> None:
        self.released: list[tuple] = []

    def release(self, key) -> None:
        self.released.append(key)


def test_when_parts_stop_arriving_then_expiry_emits_missing_parts(handler, clock, kit):
    messages = part_messages(kit.encode(kit.tone(440, 5.0), SR, "wav", "pcm_s16le"), 50_000)
    handler(messages[0])
    proc = FakeProcessor()
    assert handler.tick(proc) == []
    clock.now += 31
    [out] = handler.tick(proc)
    assert proc.released == [messages[0].key]
    assert out.schema == "RecordingFailed"
    assert out.value["error_type"] == "missing_parts"
    assert (out.value["tenant"], out.value["filename"], out.value["trace_id"]) == ("acme", "call.wav", TRACE)
    assert out.value["size_bytes"] == 50_000
    assert validate(out.value, schemas.load("RecordingFailed"))


def test_a_failed_result_maps_to_one_recording_failed_output(make_worker):
    from services.ingest.events import IngestRequest

    result = make_worker().ingest(b"", IngestRequest(recording_id="r"))
    [out] = outputs_for(result)
    assert (out.topic, out.value["error_type"]) == (topics.RECORDINGS, "empty")

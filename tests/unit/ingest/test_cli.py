from __future__ import annotations

import pytest
from fastavro.validation import validate

import schemas
from mesh import topics
from services.ingest.cli import publish_files
from services.ingest.reassembly import Complete, PartAssembler


class FakePublisher:
    def __init__(self) -> None:
        self.sent = []
        self.flushed = 0

    def send(self, out) -> None:
        self.sent.append(out)

    def flush(self) -> None:
        self.flushed += 1


def test_files_are_split_into_parts_that_reassemble_to_the_original_bytes(tmp_path):
    first, second = tmp_path / "a.wav", tmp_path / "b.ul"
    first.write_bytes(bytes(range(256)) * 100)  # 25,600 bytes
    second.write_bytes(b"\x7f" * 1000)
    publisher = FakePublisher()
    ids = publish_files(
        [first, second],
        publisher,
        tenant="acme",
        priority="realtime",
        language="en",
        channel_roles=["agent", "customer"],
        split_channels=True,
        metadata={"batch": "7"},
        part_size=4096,
        progress=False,
    )
    assert len(ids) == 2 and ids[0] != ids[1]
    assert publisher.flushed == 1
    assert {out.topic for out in publisher.sent} == {topics.RAW}
    assembler = PartAssembler(max_buffered_bytes=10**6, max_recording_bytes=10**6, timeout_s=60)
    done = {}
    for out in publisher.sent:
        part = out.value
        assert out.schema == "RecordingPart"
        assert len(part["data"]) <= 4096
        assert validate(part, schemas.load("RecordingPart"))
        outcome = assembler.add(part)
        if isinstance(outcome, Complete):
            done[outcome.recording_id] = outcome
    a, b = done[ids[0][0]], done[ids[1][0]]
    assert a.data == first.read_bytes() and b.data == second.read_bytes()
    assert a.header["part_count"] == 7 and a.header["trace_id"] == ids[0][1]
    assert a.header["content_type"] == "audio/x-wav" and b.header["content_type"] == "audio/basic"
    assert a.header["hints"]["channel_roles"] == ["agent", "customer"]
    assert (a.header["tenant"], a.header["priority"], a.header["metadata"]) == (
        "acme",
        "realtime",
        {"batch": "7"},
    )
    assert a.header["source"] == "cli"


def test_an_empty_file_is_sent_as_one_empty_part(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    publisher = FakePublisher()
    publish_files([empty], publisher, progress=False)
    [out] = publisher.sent
    assert (out.value["part"], out.value["part_count"], out.value["data"]) == (0, 1, b"")


@pytest.mark.parametrize(
    "kwargs", [{"part_size": 2 * 1024 * 1024}, {"priority": "urgent"}, {"min_speakers": 4, "max_speakers": 2}]
)
def test_when_options_are_invalid_then_nothing_is_sent(tmp_path, kwargs):
    path = tmp_path / "a.wav"
    path.write_bytes(b"RIFF")
    publisher = FakePublisher()
    with pytest.raises(ValueError):
        publish_files([path], publisher, progress=False, **kwargs)
    assert publisher.sent == []

from __future__ import annotations

import pytest

from services.ingest.reassembly import Complete, Ignored, PartAssembler, Pending, Rejected


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def parts(recording_id: str, data: bytes, size: int, **fields) -> list[dict]:
    pieces = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
    return [
        {
            "recording_id": recording_id,
            "trace_id": "ab" * 16,
            "part": i,
            "part_count": len(pieces),
            "data": piece,
            "filename": "call.wav",
            **fields,
        }
        for i, piece in enumerate(pieces)
    ]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def assembler(clock: Clock) -> PartAssembler:
    return PartAssembler(max_buffered_bytes=10_000, max_recording_bytes=5_000, timeout_s=60, clock=clock)


def test_when_parts_arrive_shuffled_and_duplicated_then_the_file_is_restored(assembler):
    data = bytes(range(256)) * 10
    ps = parts("r1", data, 300)
    order = [ps[i] for i in (5, 2, 2, 8, 0, 1, 5, 3, 4, 7, 6)]
    outcomes = [assembler.add(p) for p in order]
    assert all(isinstance(o, Pending) for o in outcomes[:-1])
    assert [o.duplicate for o in outcomes[:-1]].count(True) == 2
    done = outcomes[-1]
    assert isinstance(done, Complete) and done.data == data
    assert done.header["part"] == 0 and "data" not in done.header
    assert assembler.buffered_bytes == 0 and assembler.pending == 0


def test_a_single_part_recording_completes_at_once_without_buffering(assembler):
    outcome = assembler.add(parts("r1", b"abc", 10)[0])
    assert isinstance(outcome, Complete) and outcome.data == b"abc"
    assert assembler.buffered_bytes == 0


def test_when_parts_stop_arriving_then_the_recording_fails_as_missing_parts(assembler, clock):
    ps = parts("r1", bytes(1000), 100)
    for p in ps[:4] + ps[6:]:
        assembler.add(p)
    clock.now += 59
    assert assembler.expire() == []
    clock.now += 2
    [failed] = assembler.expire()
    assert failed.error_type == "missing_parts"
    assert "8 of 10" in failed.reason and "4, 5" in failed.reason
    assert failed.header["filename"] == "call.wav"
    assert assembler.buffered_bytes == 0
    assert assembler.expire() == []


def test_the_timeout_counts_from_the_latest_part_not_the_first(assembler, clock):
    ps = parts("r1", bytes(300), 100)
    assembler.add(ps[0])
    clock.now += 50
    assembler.add(ps[1])
    clock.now += 50
    assert assembler.expire() == []


def test_when_a_part_of_a_completed_recording_is_redelivered_then_it_is_ignored(assembler):
    ps = parts("r1", bytes(300), 100)
    for p in ps:
        assembler.add(p)
    assert isinstance(assembler.add(ps[1]), Ignored)
    assert assembler.pending == 0


def test_when_a_recording_grows_beyond_its_limit_then_it_is_rejected_and_freed(assembler):
    ps = parts("big", bytes(6000), 1000)
    outcomes = [assembler.add(p) for p in ps]
    rejected = [o for o in outcomes if isinstance(o, Rejected)]
    assert rejected[0].error_type == "too_large"
    assert "5000 bytes" in rejected[0].reason
    assert assembler.buffered_bytes == 0


def test_when_the_buffer_is_full_then_the_next_recording_is_rejected_with_a_reason(assembler):
    for rid in ("a", "b"):
        for p in parts(rid, bytes(6000), 1500)[:3]:
            assert isinstance(assembler.add(p), Pending)
    outcome = assembler.add(parts("c", bytes(4000), 2000)[0])
    assert isinstance(outcome, Rejected) and outcome.error_type == "buffer_full"
    assert "10000" in outcome.reason
    assert assembler.buffered_bytes == 9000  # the others are untouched


def test_when_part_count_changes_midway_then_the_recording_is_rejected(assembler):
    assembler.add(parts("r1", bytes(300), 100)[0])
    outcome = assembler.add({**parts("r1", bytes(400), 100)[1]})
    assert isinstance(outcome, Rejected) and outcome.error_type == "invalid_parts"
    assert assembler.buffered_bytes == 0


def test_when_a_part_index_is_out_of_range_then_the_recording_is_rejected(assembler):
    bad = {**parts("r1", bytes(300), 100)[0], "part": 3}
    outcome = assembler.add(bad)
    assert isinstance(outcome, Rejected) and outcome.error_type == "invalid_parts"


def test_after_a_recording_failed_it_can_be_sent_again(assembler, clock):
    ps = parts("r1", b"x" * 300, 100)
    assembler.add(ps[0])
    clock.now += 120
    assert [f.error_type for f in assembler.expire()] == ["missing_parts"]
    outcomes = [assembler.add(p) for p in ps]
    assert isinstance(outcomes[-1], Complete) and outcomes[-1].data == b"x" * 300

"""Spill files, overlapping chunks, duplicates, restart recovery, timeouts."""

from __future__ import annotations

import numpy as np
import pytest

from services.diarize.assembly import Assembler

SR = 16000


def ramp(start: int, stop: int) -> np.ndarray:
    """Samples whose value encodes their absolute index (exact in int16)."""
    return (np.arange(start, stop) % 20000).astype(np.float32) / 32767


def as_index(audio: np.ndarray) -> np.ndarray:
    return np.round(audio * 32768).astype(np.int64)


def test_when_chunks_overlap_then_only_their_keep_windows_are_written(tmp_path, chunk_factory):
    asm = Assembler(tmp_path)
    # payloads [0, 1.5) and [1.0, 2.5): keep windows [0, 1.25) and [1.25, 2.5)
    first = chunk_factory(seq=0, start_s=0.0, samples=ramp(0, 24000), keep_until_s=1.25, chunk_count=2)
    second = chunk_factory(
        seq=1, start_s=1.0, samples=ramp(16000, 40000), keep_from_s=1.25, is_last=True, chunk_count=2
    )
    assert asm.add(first).ready is None
    ready = asm.add(second).ready
    assert ready is not None and not ready.partial
    audio = ready.channels[0]
    assert audio.num_samples == 40000
    assert audio.file_samples() == 40000  # no duplicated overlap
    got = as_index(audio.read(0, 40000))
    assert np.array_equal(got, np.arange(40000) % 20000)


def test_when_chunks_leave_a_gap_then_it_reads_back_as_silence(tmp_path, chunk_factory):
    asm = Assembler(tmp_path)
    asm.add(chunk_factory(seq=0, start_s=0.0, samples=np.full(SR, 0.5, np.float32), chunk_count=2))
    ready = asm.add(
        chunk_factory(seq=1, start_s=3.0, samples=np.full(SR, 0.5, np.float32), is_last=True, chunk_count=2)
    ).ready
    audio = ready.channels[0].read(0, 4 * SR)
    assert np.all(audio[SR : 3 * SR] == 0)
    assert np.allclose(audio[3 * SR :], 0.5, atol=1e-3)


def test_when_a_chunk_is_redelivered_then_it_is_ignored(tmp_path, chunk_factory):
    asm = Assembler(tmp_path)
    chunk = chunk_factory(seq=0, chunk_count=2)
    asm.add(chunk)
    assert asm.add(chunk).ready is None
    ready = asm.add(chunk_factory(seq=1, start_s=1.0, is_last=True, chunk_count=2)).ready
    assert ready.chunks_received == 2 and not ready.partial


def test_when_the_process_restarts_then_the_recording_continues_from_disk(tmp_path, clock, chunk_factory):
    asm = Assembler(tmp_path, clock=clock)
    asm.add(chunk_factory(seq=0, samples=ramp(0, SR), chunk_count=2))
    restarted = Assembler(tmp_path, clock=clock)
    assert restarted.open_recordings() == ["rec-1"]
    restarted.add(chunk_factory(seq=0, samples=ramp(0, SR), chunk_count=2))  # redelivery
    ready = restarted.add(
        chunk_factory(seq=1, start_s=1.0, samples=ramp(SR, 2 * SR), is_last=True, chunk_count=2)
    ).ready
    assert ready.chunks_received == 2 and not ready.partial
    assert np.array_equal(as_index(ready.channels[0].read(0, 2 * SR)), np.arange(2 * SR) % 20000)


def test_when_chunks_stop_arriving_then_the_recording_closes_as_partial(tmp_path, clock, chunk_factory):
    asm = Assembler(tmp_path, timeout_s=60, clock=clock)
    asm.add(chunk_factory(seq=0, chunk_count=5))
    clock.advance(59)
    assert asm.expired() == []
    clock.advance(2)
    (closed,) = asm.expired()
    assert closed.partial and closed.reason == "timeout"
    assert closed.chunks_received == 1 and closed.chunk_count == 5


def test_when_chunks_are_missing_at_is_last_then_the_result_is_partial(tmp_path, chunk_factory):
    asm = Assembler(tmp_path)
    asm.add(chunk_factory(seq=0, chunk_count=3))
    ready = asm.add(chunk_factory(seq=2, start_s=2.0, is_last=True, chunk_count=3)).ready
    assert ready.partial and ready.reason == "last"


def test_when_is_last_is_redelivered_after_completion_then_the_stored_result_is_replayed(
    tmp_path, chunk_factory
):
    asm = Assembler(tmp_path)
    last = chunk_factory(seq=0, is_last=True)
    assert asm.add(last).ready is not None
    asm.complete("rec-1", {"recording_id": "rec-1", "turns": []}, "last")
    again = Assembler(tmp_path).add(last)  # even after a restart
    assert again.ready is None and again.replay == {"recording_id": "rec-1", "turns": []}


def test_when_diarization_crashed_at_is_last_then_the_redelivery_retries_it(tmp_path, chunk_factory):
    asm = Assembler(tmp_path)
    last = chunk_factory(seq=0, is_last=True)
    asm.add(last)  # ... and the process died before completing
    assert Assembler(tmp_path).add(last).ready is not None


def test_when_a_chunk_arrives_after_a_timeout_then_the_recording_reopens(tmp_path, clock, chunk_factory):
    asm = Assembler(tmp_path, timeout_s=10, clock=clock)
    asm.add(chunk_factory(seq=0, chunk_count=2))
    clock.advance(11)
    (closed,) = asm.expired()
    asm.complete("rec-1", {"partial": True}, closed.reason)
    ready = asm.add(chunk_factory(seq=1, start_s=1.0, is_last=True, chunk_count=2)).ready
    assert ready is not None and not ready.partial


def test_when_retention_passes_then_finished_state_is_deleted(tmp_path, clock, chunk_factory):
    asm = Assembler(tmp_path, done_retention_s=100, clock=clock)
    asm.add(chunk_factory(seq=0, is_last=True))
    asm.complete("rec-1", {}, "last")
    assert asm.collect_garbage() == []
    clock.advance(101)
    assert asm.collect_garbage() == ["rec-1"]
    assert list(tmp_path.iterdir()) == []


def test_when_audio_is_not_16k_s16le_then_it_is_refused(tmp_path, chunk_factory):
    chunk = chunk_factory()
    chunk["sample_rate"] = 8000
    with pytest.raises(ValueError, match="16 kHz"):
        Assembler(tmp_path).add(chunk)


def test_channels_are_spilled_separately_and_named_by_role(tmp_path, chunk_factory):
    asm = Assembler(tmp_path)
    asm.add(
        chunk_factory(
            seq=0, channel=0, channel_role="caller", chunk_count=2, channel_roles=["agent", "customer"]
        )
    )
    ready = asm.add(
        chunk_factory(seq=1, channel=1, is_last=True, chunk_count=2, channel_roles=["agent", "customer"])
    ).ready
    assert sorted(ready.channels) == [0, 1]
    assert ready.channels[0].role == "caller"  # the chunk's own role wins
    assert ready.channels[1].role == "customer"  # else the recording's hints

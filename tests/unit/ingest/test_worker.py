from __future__ import annotations

import hashlib
import itertools
import struct

import numpy as np
import pytest
from fastavro.validation import validate

import schemas
from services.ingest.events import IngestRequest, make_hints

SR = 16000


def request(**overrides) -> IngestRequest:
    return IngestRequest(**{"recording_id": "rec-1", **overrides})


def dominant_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.argmax(spectrum) * SR / len(samples))


def pcm(chunk: dict) -> np.ndarray:
    return np.frombuffer(chunk["pcm"], dtype="<i2").astype(np.float32) / 32767


@pytest.fixture
def call_audio(kit):
    layout = [
        ("speech", 12.0),
        ("pause", 0.7),
        ("speech", 14.0),
        ("pause", 0.9),
        ("speech", 11.0),
        ("pause", 0.6),
        ("speech", 9.0),
    ]
    return kit.bursts(layout), kit.pause_spans(layout)


def test_a_recording_becomes_metadata_and_chunks_that_match_the_contract(make_worker, kit, call_audio):
    audio, _ = call_audio
    data = kit.encode(audio, SR, "flac", "flac")
    hints = make_hints(language="en", num_speakers=2)
    result = make_worker().ingest(
        data,
        request(
            tenant="acme", priority="realtime", hints=hints, metadata={"campaign": "q4"}, submitted_at_ms=123
        ),
    )
    assert result.ok
    meta = result.metadata
    assert validate(meta, schemas.load("RecordingMetadata"))
    assert (meta["codec"], meta["container"], meta["original_sample_rate"]) == ("flac", "flac", SR)
    assert meta["sha256"] == hashlib.sha256(data).hexdigest()
    assert meta["size_bytes"] == len(data)
    assert meta["duration_s"] == pytest.approx(len(audio) / SR)
    assert meta["chunk_count"] == len(result.chunks) >= 2
    assert (meta["tenant"], meta["priority"], meta["metadata"]) == ("acme", "realtime", {"campaign": "q4"})
    assert meta["hints"]["language"] == "en" and meta["hints"]["num_speakers"] == 2
    assert (meta["submitted_at_ms"], meta["ingested_at_ms"]) == (123, 1_700_000_000_000)
    for chunk in result.chunks:
        assert validate(chunk, schemas.load("AudioChunk"))


def test_chunks_are_numbered_flagged_and_sized_for_the_asr(make_worker, kit, call_audio):
    audio, pauses = call_audio
    result = make_worker().ingest(kit.encode(audio, SR, "wav", "pcm_s16le"), request())
    chunks = result.chunks
    assert [c["seq"] for c in chunks] == list(range(len(chunks)))
    assert [c["is_last"] for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert {c["chunk_count"] for c in chunks} == {len(chunks)}
    for chunk in chunks:
        start = round(chunk["start_s"] * SR)
        carried = np.frombuffer(chunk["pcm"], "<i2").astype(np.float32) / 32768
        assert np.allclose(carried, audio[start : start + len(carried)], atol=3 / 32768)  # the right audio
        assert chunk["duration_s"] <= 30.0
        assert (chunk["encoding"], chunk["sample_rate"]) == ("s16le", SR)
    for before, after in itertools.pairwise(chunks):
        assert before["keep_until_s"] == after["keep_from_s"]
        assert any(a <= before["keep_until_s"] <= b for a, b in pauses)
    assert chunks[-1]["keep_until_s"] == pytest.approx(len(audio) / SR)


def test_chunk_offsets_are_absolute_within_the_recording(make_worker, kit):
    layout = [("speech", 15.0), ("pause", 1.0), ("speech", 15.0), ("pause", 1.0), ("speech", 15.0)]
    audio = kit.bursts(layout)
    beep_at = 40.0
    audio[int(beep_at * SR) : int((beep_at + 0.2) * SR)] = kit.tone(3000, 0.2, amp=0.9)
    result = make_worker().ingest(kit.encode(audio, SR, "wav", "pcm_s16le"), request())
    chunk = next(c for c in result.chunks if c["keep_from_s"] <= beep_at < c["keep_until_s"])
    assert chunk["start_s"] > 0
    samples = pcm(chunk)
    local = int((beep_at - chunk["start_s"]) * SR)
    assert dominant_hz(samples[local : local + 3200]) == pytest.approx(3000, abs=10)
    assert dominant_hz(samples[local - 4800 : local - 1600]) != pytest.approx(3000, abs=10)


def test_when_channels_are_split_then_each_channel_is_its_own_chunk_stream(make_worker, kit):
    left = kit.bursts([("speech", 20.0), ("pause", 1.0), ("speech", 19.0)], seed=1)
    right = kit.bursts([("pause", 10.0), ("speech", 25.0), ("pause", 1.0), ("speech", 4.0)], seed=2)
    data = kit.encode(np.stack([left, right]), SR, "wav", "pcm_s16le")
    hints = make_hints(channel_roles=["agent", "customer"])
    result = make_worker().ingest(data, request(split_channels=True, hints=hints))
    assert result.metadata["channels"] == 2 and result.metadata["split_channels"]
    by_channel = {0: [], 1: []}
    for chunk in result.chunks:
        by_channel[chunk["channel"]].append(chunk)
        assert chunk["channel_role"] == ["agent", "customer"][chunk["channel"]]
    assert [c["seq"] for c in result.chunks] == list(range(len(result.chunks)))
    for chunks in by_channel.values():
        assert chunks and chunks[0]["keep_from_s"] == 0.0
        assert chunks[-1]["keep_until_s"] == pytest.approx(40.0)
        for before, after in itertools.pairwise(chunks):
            assert before["keep_until_s"] == after["keep_from_s"]
    first_right = by_channel[1][0]
    assert first_right["stats"]["silence_ratio"] > 0.3  # the right channel starts silent


def test_when_channels_are_not_split_then_they_are_mixed_into_channel_zero(make_worker, kit):
    stereo = np.stack([kit.tone(440, 3.0), kit.tone(660, 3.0)])
    result = make_worker().ingest(kit.encode(stereo, SR, "wav", "pcm_s16le"), request())
    assert result.metadata["channels"] == 2
    assert [(c["channel"], c["channel_role"]) for c in result.chunks] == [(0, None)]


def test_when_a_recording_is_pure_silence_then_it_still_yields_a_chunk(make_worker, kit):
    silence = np.zeros(SR * 45, np.float32)
    result = make_worker().ingest(kit.encode(silence, SR, "wav", "pcm_s16le"), request())
    assert result.ok and len(result.chunks) >= 1
    assert result.chunks[-1]["is_last"]
    assert result.metadata["stats"]["silence_ratio"] == 1.0


def test_recording_stats_report_clipping_and_silence(make_worker, kit):
    loud = np.clip(kit.tone(440, 2.0, amp=2.0), -1, 1)
    audio = np.concatenate([loud, np.zeros(2 * SR, np.float32)])
    stats = make_worker().ingest(kit.encode(audio, SR, "wav", "pcm_f32le"), request()).metadata["stats"]
    assert stats["clipping_ratio"] == pytest.approx(0.33, abs=0.03)
    assert stats["silence_ratio"] == pytest.approx(0.5, abs=0.02)
    assert stats["peak_dbfs"] == pytest.approx(0.0, abs=0.01)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("4bf92f3577b34da6a3ce929d0e0e4736", True),
        ("4BF92F3577B34DA6A3CE929D0E0E4736", True),
        ("not-a-trace", False),
        ("0" * 32, False),
        (None, False),
    ],
)
def test_a_valid_producer_trace_id_is_kept_and_anything_else_replaced(make_worker, kit, given, kept):
    data = kit.encode(kit.tone(440, 1.0), SR, "wav", "pcm_s16le")
    result = make_worker().ingest(data, request(trace_id=given))
    assert len(result.trace_id) == 32 and int(result.trace_id, 16) > 0
    assert (result.trace_id == (given or "").lower()) is kept
    assert {c["trace_id"] for c in result.chunks} == {result.trace_id}
    assert result.metadata["trace_id"] == result.trace_id


def _bad_inputs(kit) -> dict[str, tuple[bytes, dict, str]]:
    wav = kit.encode(kit.tone(440, 4.0), SR, "wav", "pcm_s16le")
    fmt = wav.index(b"fmt ") + 8
    mp3 = kit.encode(kit.tone(440, 4.0), SR, "mp3", "libmp3lame")
    m4a = kit.encode(kit.tone(440, 4.0, 44100), 44100, "ipod", "aac")
    ogg = kit.encode(kit.tone(440, 4.0, 48000), 48000, "ogg", "libopus")
    png = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + bytes(64)
    return {
        "empty": (b"", {}, "empty"),
        "truncated_wav": (wav[: len(wav) // 2], {}, "truncated"),
        "truncated_mp3": (mp3[: len(mp3) // 2], {}, "truncated"),
        "truncated_m4a": (m4a[: len(m4a) // 2], {}, "truncated"),
        "truncated_ogg": (ogg[: len(ogg) - 700], {}, "truncated"),
        "text": (b"name,amount\nalice,3\n" * 40, {"filename": "data.csv"}, "not_audio"),
        "image": (png, {"content_type": "image/png"}, "not_audio"),
        "unknown_wav_codec": (
            wav[:fmt] + struct.pack("<H", 0x7777) + wav[fmt + 2 :],
            {},
            "unsupported_codec",
        ),
        "zero_rate_header": (wav[: fmt + 4] + struct.pack("<I", 0) + wav[fmt + 8 :], {}, "unreadable_header"),
        "zero_channel_header": (
            wav[: fmt + 2] + struct.pack("<H", 0) + wav[fmt + 4 :],
            {},
            "unreadable_header",
        ),
        "bad_priority": (wav, {"priority": "urgent"}, "invalid_request"),
        "bad_recording_id": (wav, {"recording_id": "a/b"}, "invalid_request"),
        "speaker_range": (wav, {"hints": make_hints(min_speakers=3, max_speakers=2)}, "invalid_request"),
    }


@pytest.mark.parametrize("case", ["empty", "truncated_wav", "truncated_mp3", "truncated_m4a",
                                  "truncated_ogg", "text", "image", "unknown_wav_codec",
                                  "zero_rate_header", "zero_channel_header", "bad_priority",
                                  "bad_recording_id", "speaker_range"])  # fmt: skip
def test_when_input_is_bad_then_recording_fails_with_its_error_type(make_worker, kit, case):
    data, fields, error_type = _bad_inputs(kit)[case]
    result = make_worker().ingest(data, request(**fields))
    assert not result.ok and result.chunks == [] and result.metadata is None
    assert result.failed["error_type"] == error_type
    assert len(result.failed["reason"]) > 10
    assert result.failed["size_bytes"] == len(data)
    assert validate(result.failed, schemas.load("RecordingFailed"))


def test_when_the_file_is_longer_than_allowed_then_recording_fails_as_too_long(make_worker, kit):
    data = kit.encode(kit.tone(440, 12.0), SR, "wav", "pcm_s16le")
    result = make_worker(max_duration_s=10.0).ingest(data, request())
    assert result.failed["error_type"] == "too_long"
    assert "10 s" in result.failed["reason"]


def test_when_the_file_is_larger_than_allowed_then_recording_fails_as_too_large(make_worker, kit):
    data = kit.encode(kit.tone(440, 2.0), SR, "wav", "pcm_s16le")
    result = make_worker(max_upload_bytes=len(data) - 1).ingest(data, request())
    assert result.failed["error_type"] == "too_large"


def test_when_the_decoder_breaks_unexpectedly_then_the_recording_fails_instead(make_worker, kit):
    def broken_vad(audio, sample_rate):
        raise RuntimeError("onnxruntime session lost")

    worker = make_worker()
    worker.vad = broken_vad
    data = kit.encode(kit.tone(440, 40.0), SR, "wav", "pcm_s16le")
    result = worker.ingest(data, request())
    assert result.failed["error_type"] == "internal_error"
    assert "onnxruntime session lost" in result.failed["reason"]


@pytest.mark.slow
def test_ingest_of_the_pyannote_sample_call_with_silero(kit):
    from importlib.util import find_spec
    from pathlib import Path

    from services.ingest.worker import IngestWorker

    spec = find_spec("pyannote.audio")  # locates the package without importing torch
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pyannote.audio is not installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    data = (folder / "sample" / "sample.wav").read_bytes()
    result = IngestWorker().ingest(data, request())
    assert result.ok
    assert result.metadata["duration_s"] == pytest.approx(30.0, abs=0.01)
    assert result.metadata["stats"]["snr_db"] > 20

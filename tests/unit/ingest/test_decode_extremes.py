"""Legitimate but extreme inputs: many channels, a sample rate too low for speech.

The channel test decodes in a child process: the failure it guards against was a native crash
(PyAV reading planar frames of 8 or more channels), which would otherwise take the whole test
run down instead of failing one test.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import wave

import numpy as np
import pytest

from services.ingest.decode import DecodeError, DecodeLimits, decode

CHILD = r"""
import io, json, sys, wave
import numpy as np
from services.ingest.decode import DecodeLimits, decode

out = {}
for channels in (8, 10, 16):
    rate, n = 16000, 16000
    t = np.arange(n) / rate
    # channel c carries a tone of amplitude 0.05 * (c + 1): each row must keep its own
    rows = np.stack([0.05 * (c + 1) * np.sin(2 * np.pi * 300 * t) for c in range(channels)])
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels); w.setsampwidth(2); w.setframerate(rate)
        w.writeframes((rows.T * 32767).astype("<i2").tobytes())
    split = decode(buf.getvalue(), keep_channels=True, limits=DecodeLimits(max_channels=16))
    mixed = decode(buf.getvalue())
    peaks = np.abs(split.samples).max(axis=1)
    out[channels] = {"split": list(split.samples.shape), "mixed": list(mixed.samples.shape),
                     "peaks": [round(float(p), 3) for p in peaks], "channels": split.channels}
print(json.dumps(out))
"""


def test_recordings_of_8_10_and_16_channels_decode_split_and_mixed_without_crashing():
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"decoder died with {proc.returncode}: {proc.stderr[-2000:]}"
    out = json.loads(proc.stdout)
    for channels in (8, 10, 16):
        got = out[str(channels)]
        assert got["channels"] == channels
        assert got["split"][0] == channels and abs(got["split"][1] - 16000) <= 16
        assert got["mixed"][0] == 1 and abs(got["mixed"][1] - 16000) <= 16
        expected = [0.05 * (c + 1) for c in range(channels)]
        assert got["peaks"] == pytest.approx(expected, abs=0.01), "channels were mixed up"


def _wav(rate: int, seconds: float = 1.0) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((0.3 * np.sin(2 * np.pi * 200 * t) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


@pytest.mark.parametrize("rate", [1000, 4000, 7999])
def test_when_the_sample_rate_is_below_telephone_speech_then_it_is_refused(rate):
    with pytest.raises(DecodeError) as info:
        decode(_wav(rate))
    assert info.value.error_type == "sample_rate_too_low"
    assert f"{rate} Hz" in info.value.reason and "8000 Hz" in info.value.reason


@pytest.mark.parametrize("rate", [8000, 11025, 48000])
def test_telephone_and_higher_sample_rates_are_accepted(rate):
    assert decode(_wav(rate)).original_sample_rate == rate


def test_the_minimum_sample_rate_is_a_limit_of_its_own():
    assert decode(_wav(1000), limits=DecodeLimits(min_sample_rate=1000)).duration_s == pytest.approx(
        1.0, abs=0.01
    )


def test_the_worker_reports_a_too_low_rate_as_a_failure_with_its_setting(make_worker):
    from services.ingest.events import IngestRequest

    failed = make_worker().ingest(_wav(1000), IngestRequest(recording_id="r-1khz")).failed
    assert failed is not None and failed["error_type"] == "sample_rate_too_low"
    assert make_worker(min_sample_rate=1000).ingest(_wav(1000), IngestRequest(recording_id="r-ok")).ok


def video_only_mp4(frames: int = 10) -> bytes:
    """An MP4 holding one short MPEG-4 video track and no audio."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            image = np.full((48, 64, 3), i * 20, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def test_a_video_without_audio_is_not_audio_and_the_reason_names_the_container():
    with pytest.raises(DecodeError) as info:
        decode(video_only_mp4(), filename="clip.mp4")
    assert info.value.error_type == "not_audio"
    assert info.value.reason == "the mp4 file holds video but no audio stream"

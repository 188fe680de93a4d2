"""Audio made inside the tests: real encoded files (PyAV), speech-like bursts with known
pauses, and a small energy VAD so that most tests run without loading Silero."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from services.ingest.config import IngestSettings
from services.ingest.worker import IngestWorker

SR = 16000


def encode_audio(
    samples: np.ndarray, rate: int, container: str, codec: str, options: dict[str, str] | None = None
) -> bytes:
    """Encode float audio shaped (channels, n) or (n,) into a real file in memory."""
    rows = np.atleast_2d(np.asarray(samples, dtype=np.float32))
    layout = "mono" if rows.shape[0] == 1 else "stereo"
    buf = io.BytesIO()
    with av.open(buf, "w", format=container, options=options or {}) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        codec_format = stream.codec_context.codec.audio_formats[0].name
        resampler = av.AudioResampler(format=codec_format, layout=layout, rate=rate)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(rows), format="fltp", layout=layout)
        frame.sample_rate, frame.pts = rate, 0
        for converted in resampler.resample(frame):
            converted.pts = None
            for packet in stream.encode(converted):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def tone(freq: float, seconds: float, rate: int = SR, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def bursts(layout: list[tuple[str, float]], rate: int = SR, seed: int = 0) -> np.ndarray:
    """Concatenate ("speech", s) / ("pause", s) pieces: speech is syllable-modulated noise,
    a pause is faint noise (-70 dBFS)."""
    rng = np.random.default_rng(seed)
    pieces = []
    for kind, seconds in layout:
        n = round(seconds * rate)
        if kind == "speech":
            envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * np.arange(n) / rate)
            pieces.append(0.2 * envelope * rng.standard_normal(n))
        else:
            pieces.append(0.0003 * rng.standard_normal(n))
    return np.concatenate(pieces).astype(np.float32)


def pause_spans(layout: list[tuple[str, float]]) -> list[tuple[float, float]]:
    spans, t = [], 0.0
    for kind, seconds in layout:
        if kind == "pause":
            spans.append((t, t + seconds))
        t += seconds
    return spans


class EnergyVad:
    """Frames louder than -40 dBFS are speech; enough for synthetic bursts."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, audio: np.ndarray, sample_rate: int) -> list[tuple[float, float]]:
        self.calls += 1
        frame = sample_rate // 100
        count = len(audio) // frame
        power = np.mean(audio[: count * frame].reshape(count, frame) ** 2, axis=1)
        loud = power > 1e-4
        spans, start = [], None
        for i, is_loud in enumerate([*loud, False]):
            if is_loud and start is None:
                start = i
            elif not is_loud and start is not None:
                spans.append((start * frame / sample_rate, i * frame / sample_rate))
                start = None
        return spans


@pytest.fixture
def energy_vad() -> EnergyVad:
    return EnergyVad()


@pytest.fixture
def make_worker(energy_vad: EnergyVad) -> Callable[..., IngestWorker]:
    def make(**overrides: object) -> IngestWorker:
        settings = IngestSettings(**overrides)
        return IngestWorker(settings, vad=energy_vad, clock=lambda: 1_700_000_000.0)

    return make


@pytest.fixture
def espeak(tmp_path: Path) -> Callable[[str], np.ndarray]:
    """Synthetic speech of known text at 16 kHz (espeak-ng writes 22.05 kHz WAV)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")

    def speak(text: str) -> np.ndarray:
        path = tmp_path / "speech.wav"
        subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
        from services.ingest.decode import decode

        return decode(path.read_bytes()).samples[0]

    return speak


class AudioKit:
    """The helpers above, handed to tests as a fixture (conftest is not importable)."""

    SR = SR
    encode = staticmethod(encode_audio)
    tone = staticmethod(tone)
    bursts = staticmethod(bursts)
    pause_spans = staticmethod(pause_spans)


@pytest.fixture
def kit() -> type[AudioKit]:
    return AudioKit

"""PCM payload decoding and signal levels."""

from __future__ import annotations

import numpy as np
import pytest

from mesh.audio import to_s16le
from services.asr.audio import AudioFormatError, dbfs, pcm_to_float


def test_s16le_round_trips_within_one_step():
    audio = np.linspace(-1, 1, 1001, dtype=np.float32)
    assert np.max(np.abs(pcm_to_float(to_s16le(audio)) - audio)) < 1 / 16000


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"encoding": "f32le"}, "encoding"),
        ({"sample_rate": 8000}, "sample rate"),
    ],
)
def test_other_formats_are_refused(kwargs, match):
    with pytest.raises(AudioFormatError, match=match):
        pcm_to_float(b"\x00\x00", **kwargs)


def test_full_scale_sine_is_minus_three_dbfs():
    sine = np.sin(2 * np.pi * 100 * np.arange(16000) / 16000)
    assert dbfs(sine) == pytest.approx(-3.01, abs=0.01)

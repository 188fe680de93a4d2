from __future__ import annotations

import math

import numpy as np
import pytest

from services.ingest.stats import compute_stats

SR = 16000


def test_a_full_scale_sine_reads_minus_3_dbfs_rms_and_0_dbfs_peak(kit):
    stats = compute_stats(kit.tone(440, 1.0, amp=1.0))
    assert stats.rms_dbfs == pytest.approx(-3.01, abs=0.01)
    assert stats.peak_dbfs == pytest.approx(0.0, abs=0.01)
    assert stats.duration_s == 1.0


def test_snr_compares_loud_frames_with_the_noise_floor(kit):
    rng = np.random.default_rng(0)
    noise = (0.001 * rng.standard_normal(SR)).astype(np.float32)
    speech = kit.tone(300, 1.0, amp=0.1) + noise
    stats = compute_stats(np.concatenate([noise, speech]))
    expected = 10 * math.log10((0.1**2 / 2) / 0.001**2)  # about 37 dB
    assert stats.snr_db == pytest.approx(expected, abs=1.0)
    assert stats.silence_ratio == pytest.approx(0.5, abs=0.02)


def test_digital_silence_has_finite_floor_values():
    stats = compute_stats(np.zeros(SR, np.float32))
    assert (stats.rms_dbfs, stats.peak_dbfs, stats.snr_db, stats.silence_ratio) == (-120.0, -120.0, 0.0, 1.0)
    assert all(math.isfinite(v) for v in stats.to_dict().values())


def test_clipping_ratio_counts_samples_at_full_scale(kit):
    clipped = np.clip(kit.tone(440, 1.0, amp=10.0), -1, 1)
    assert compute_stats(clipped).clipping_ratio > 0.9
    assert compute_stats(kit.tone(440, 1.0, amp=0.5)).clipping_ratio == 0.0


def test_stats_of_split_channels_cover_both_rows(kit):
    both = np.stack([kit.tone(440, 1.0), np.zeros(SR, np.float32)])
    stats = compute_stats(both)
    assert stats.duration_s == 1.0
    assert stats.silence_ratio == pytest.approx(0.5, abs=0.01)

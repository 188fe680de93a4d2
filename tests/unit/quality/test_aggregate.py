"""Slice keys and the tumbling-window aggregates of one slice."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from services.quality.aggregate import BUCKET_BASE, SliceWindow, slice_key

DIMS = {
    "model": "tiny.en@1",
    "arm": "control",
    "language": "en",
    "codec": "pcm_mulaw",
    "channels": "mono",
    "tenant": "acme",
    "snr_band": "10-20dB",
    "duration_band": "30s-2m",
    "priority": "batch",
    "region": "eu-west",
    "client_version": "4.2",
}


def test_slice_key_is_stable_and_independent_of_the_order_of_the_dimensions() -> None:
    key = slice_key(DIMS)
    assert key.startswith(
        "model=tiny.en@1|arm=control|language=en|codec=pcm_mulaw|channels=mono|"
        "tenant=acme|snr_band=10-20dB|duration_band=30s-2m|"
    )
    assert key.endswith("|client_version=4.2|priority=batch|region=eu-west")  # the others, sorted
    items = list(DIMS.items())
    for perm in itertools.islice(itertools.permutations(items), 0, 5000, 97):
        assert slice_key(dict(perm)) == key
    assert slice_key(dict(reversed(items))) == key


def test_slice_keys_differ_when_a_dimension_differs() -> None:
    assert slice_key(DIMS) != slice_key({**DIMS, "region": "us-east"})
    assert slice_key(DIMS) != slice_key({k: v for k, v in DIMS.items() if k != "region"})
    assert slice_key({}) == ""


def sample(accepted=True, proxy=0.1, wer=None, latency=1.0, hallucinated=0):
    return {
        "accepted": accepted,
        "wer_proxy": proxy,
        "true_wer": wer,
        "latency_s": latency,
        "hallucinated_words": hallucinated,
    }


def test_slice_window_accumulates() -> None:
    w = SliceWindow()
    assert (w.accepted_rate, w.mean_proxy, w.hallucination_rate) == (0.0, 0.0, 0.0)
    assert w.latency_quantile(0.95) is None
    w.add(sample(accepted=True, proxy=0.1, wer=0.2, latency=2.0))
    w.add(sample(accepted=False, proxy=0.5, wer=None, latency=None, hallucinated=3))
    w.add(sample(accepted=True, proxy=0.3, wer=0.4, latency=8.0))
    w.add(sample(accepted=False, proxy=0.1, wer=0.0, latency=4.0))
    assert w.reports == 4 and w.accepted == 2
    assert w.accepted_rate == 0.5
    assert w.mean_proxy == pytest.approx(0.25)
    assert w.wer_n == 3 and w.wer_sum == pytest.approx(0.6)
    assert w.hallucination_rate == 0.25
    assert sum(w.latency.values()) == 3  # the report without a latency is not in the histogram


def test_slice_window_survives_its_json() -> None:
    w = SliceWindow()
    for i in range(10):
        w.add(sample(accepted=i % 3 == 0, proxy=i / 10, wer=i / 20, latency=0.5 * i, hallucinated=i % 4))
    doc = json.loads(json.dumps(w.to_json()))  # the windowed table stores it as JSON
    back = SliceWindow.from_json(doc)
    assert back == w
    back.add(sample())
    assert back.reports == 11 and w.reports == 10
    assert SliceWindow.from_json({}) == SliceWindow()


@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.99])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_latency_quantile_is_within_a_bucket_of_numpy(q: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    latencies = rng.lognormal(mean=1.0, sigma=0.8, size=2000)  # seconds, a long right tail
    w = SliceWindow()
    for x in latencies:
        w.add(sample(latency=float(x)))
    exact = float(np.quantile(latencies, q))
    estimate = w.latency_quantile(q)
    assert estimate is not None
    # the upper edge of the bucket holding the quantile: never under it by more than rounding,
    # over it by less than one bucket (12 %)
    assert exact / BUCKET_BASE <= estimate <= exact * BUCKET_BASE
    assert abs(estimate - exact) / exact <= 0.12


def test_latency_quantile_of_tiny_and_exact_latencies() -> None:
    w = SliceWindow()
    for _ in range(10):
        w.add(sample(latency=0.0))  # under the 10 ms floor
    assert w.latency_quantile(0.95) == pytest.approx(0.01)
    w = SliceWindow()
    w.add(sample(latency=3.0))
    assert 3.0 * (1 - 1e-9) <= w.latency_quantile(0.5) < 3.0 * BUCKET_BASE

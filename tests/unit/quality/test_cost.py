"""Unit cost per accepted transcript and the drivers of a cost regression."""

from __future__ import annotations

import math

import pytest

from services.quality.cost import (
    CostPolicy,
    UnitCost,
    Window,
    cost_regression,
    cost_usd,
    device_kind,
)

POLICY = CostPolicy(price_per_cpu_second=0.001, price_per_gpu_second=0.01)


def test_cost_is_seconds_times_device_price() -> None:
    assert POLICY.cost_usd(10.0, "cpu") == pytest.approx(0.01)
    assert POLICY.cost_usd(10.0, "cuda") == pytest.approx(0.1)
    assert cost_usd(10.0, "cuda:1", POLICY) == pytest.approx(0.1)
    assert device_kind("GPU") == "gpu"
    with pytest.raises(ValueError):
        POLICY.cost_usd(1.0, "tpu")
    with pytest.raises(ValueError):
        POLICY.cost_usd(-1.0, "cpu")


def test_default_prices_are_the_documented_hourly_placeholders() -> None:
    policy = CostPolicy()
    assert policy.cost_usd(3600, "cpu") == pytest.approx(0.05)
    assert policy.cost_usd(3600, "cuda") == pytest.approx(2.50)
    assert policy.tolerance == 0.10


def test_per_accepted_spreads_all_spend_over_accepted_transcripts() -> None:
    unit = UnitCost(POLICY)
    unit.add("acme", "tiny@1", processing_s=10, device="cpu", accepted=True)
    unit.add("acme", "tiny@1", processing_s=10, device="cpu", accepted=True)
    unit.add("acme", "tiny@1", processing_s=20, device="cpu", accepted=False)  # paid for, not delivered
    unit.add("globex", "base@1", processing_s=5, device="cuda", accepted=True)
    assert unit.per_accepted("acme", "tiny@1") == pytest.approx(0.04 / 2)
    assert unit.per_accepted("globex") == pytest.approx(0.05)
    assert unit.per_accepted() == pytest.approx(0.09 / 3)
    assert unit.keys() == [("acme", "tiny@1"), ("globex", "base@1")]
    assert unit.by_key() == {
        ("acme", "tiny@1"): pytest.approx(0.02),
        ("globex", "base@1"): pytest.approx(0.05),
    }
    assert unit.per_accepted("initech") == 0.0


def test_nothing_accepted_is_infinite_unit_cost() -> None:
    unit = UnitCost(POLICY)
    unit.add("acme", "tiny@1", processing_s=1, device="cpu", accepted=False)
    assert unit.per_accepted() == math.inf


def test_reported_cost_overrides_the_price() -> None:
    unit = UnitCost(POLICY)
    assert unit.add("acme", "tiny@1", processing_s=10, device="cpu", accepted=True, cost_usd=1.0) == 1.0
    assert unit.per_accepted() == 1.0


def test_window_shares() -> None:
    unit = UnitCost(POLICY)
    unit.add(
        "a",
        "m",
        processing_s=1,
        device="cpu",
        accepted=True,
        retries=2,
        fallback_used=True,
        arm="candidate",
        rtf=0.2,
    )
    unit.add("a", "m", processing_s=1, device="cpu", accepted=True, fallback_used=0.5, rtf=0.4)
    unit.add("a", "m", processing_s=1, device="cpu", accepted=False, arm="shadow")
    w = unit.window()
    assert w.reports == 3
    assert w.retry_rate == pytest.approx(2 / 3)
    assert w.fallback_share == pytest.approx(1.5 / 3)
    assert w.candidate_share == pytest.approx(2 / 3)
    assert w.rejected_share == pytest.approx(1 / 3)
    assert w.rtf == pytest.approx(0.3)  # the report without an RTF is not averaged in
    with pytest.raises(ValueError):
        unit.add("a", "m", processing_s=1, device="cpu", accepted=True, arm="canary")
    with pytest.raises(ValueError):
        unit.add("a", "m", processing_s=1, device="cpu", accepted=True, fallback_used=1.5)


def window(
    n: int,
    *,
    retries_every: int = 0,
    fallback_every: int = 0,
    candidate_every: int = 0,
    rejected_every: int = 0,
    processing_s: float = 10.0,
    rtf: float = 0.1,
) -> Window:
    """n reports; every k-th has the property (0: none); a retry costs another processing_s."""
    unit = UnitCost(POLICY)
    for i in range(n):
        retried = bool(retries_every) and i % retries_every == 0
        unit.add(
            "acme",
            "tiny@1",
            processing_s=processing_s * (2 if retried else 1),
            device="cpu",
            accepted=not (rejected_every and i % rejected_every == 0),
            retries=int(retried),
            fallback_used=bool(fallback_every) and i % fallback_every == 0,
            arm="candidate" if candidate_every and i % candidate_every == 0 else "control",
            rtf=rtf,
        )
    return unit.window("acme", "tiny@1")


def test_no_regression_within_tolerance() -> None:
    old = window(100)
    assert cost_regression(old, window(100), 0.10) is None
    assert cost_regression(old, window(100, processing_s=10.9), 0.10) is None
    assert cost_regression(old, window(100, processing_s=9.0), 0.10) is None  # cheaper


def test_regression_names_retries_as_the_driver() -> None:
    old = window(100, retries_every=20)  # 5 % retried
    new = window(100, retries_every=4)  # 25 % retried
    regression = cost_regression(old, new, 0.10)
    assert regression is not None
    assert regression.relative == pytest.approx(1.25 / 1.05 - 1)
    assert [d.name for d in regression.drivers] == ["retry_rate"]
    driver = regression.drivers[0]
    assert (driver.old, driver.new) == (pytest.approx(0.05), pytest.approx(0.25))
    assert "retry_rate 0.05 -> 0.25" in regression.reason
    assert regression.reason.startswith("unit cost +19.0%")


def test_regression_names_every_driver_that_rose_largest_rise_first() -> None:
    old = window(100, fallback_every=20, candidate_every=10, rtf=0.1)
    new = window(100, fallback_every=5, candidate_every=5, rejected_every=4, processing_s=12.0, rtf=0.12)
    regression = cost_regression(old, new, 0.10)
    assert regression is not None
    names = [d.name for d in regression.drivers]
    assert set(names) == {"fallback_share", "candidate_share", "rtf", "rejected_share"}
    assert names[0] == "rejected_share"  # rose from 0: an infinite relative rise
    assert names.index("fallback_share") < names.index("candidate_share") < names.index("rtf")
    assert "retry_rate" not in names


def test_regression_without_a_tracked_driver_says_so() -> None:
    regression = cost_regression(window(100), window(100, processing_s=20.0, rtf=0.1), 0.10)
    assert regression is not None and regression.drivers == []
    assert "no tracked driver rose" in regression.reason


def test_no_baseline_no_regression_and_nothing_accepted_now_is_infinite() -> None:
    assert cost_regression(Window(), window(10), 0.10) is None
    regression = cost_regression(window(10), window(10, rejected_every=1), 0.10)
    assert regression is not None
    assert regression.new_unit_cost == math.inf and regression.relative == math.inf
    assert regression.reason.startswith("unit cost +inf%")


def test_windows_merge() -> None:
    merged = window(10, retries_every=2).merge(window(30))
    assert merged.reports == 40 and merged.retries == 5
    assert merged.retry_rate == pytest.approx(5 / 40)

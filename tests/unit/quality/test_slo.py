"""Multi-window burn rate on synthetic timelines (one observation per second)."""

from __future__ import annotations

import pytest

from services.quality.slo import BurnRate, SloPolicy

GOOD, BAD = 1.0, 30.0


def feed(tracker: BurnRate, start: int, end: int, bad_every: int | None = None, **labels: str) -> None:
    """One observation per second in [start, end); every ``bad_every``-th is bad (None: none;
    1: all)."""
    for t in range(start, end):
        bad = bad_every is not None and t % bad_every == 0
        tracker.observe(float(t), BAD if bad else GOOD, **labels)


def test_burn_rate_is_bad_fraction_over_budget() -> None:
    tracker = BurnRate(SloPolicy(objective=0.99))
    feed(tracker, 0, 3600, bad_every=50)  # 2 % bad, budget 1 %
    short, long = tracker.rates(3599.0)
    assert short == pytest.approx(2.0)
    assert long == pytest.approx(2.0)
    assert not tracker.paging(3599.0)


def test_threshold_is_exclusive() -> None:
    tracker = BurnRate(SloPolicy(threshold_s=5.0))
    tracker.observe(0.0, 5.0)
    assert tracker.rates(0.0) == (0.0, 0.0)
    tracker.observe(1.0, 5.01)
    assert tracker.rates(1.0) == (pytest.approx(50.0), pytest.approx(50.0))


def test_short_spike_pages_only_if_the_long_window_burns_too() -> None:
    tracker = BurnRate()
    feed(tracker, 0, 7200)  # two healthy hours
    feed(tracker, 7200, 7500, bad_every=1)  # five minutes where every chunk waits too long
    short, long = tracker.rates(7499.0)
    assert short == pytest.approx(100.0)
    assert long == pytest.approx(300 / 3600 * 100)  # 8.3: below 14.4
    assert not tracker.paging(7499.0)


def test_sustained_burn_pages_and_clears_when_the_short_window_recovers() -> None:
    tracker = BurnRate()
    feed(tracker, 0, 3600)
    feed(tracker, 3600, 7200, bad_every=5)  # 20 % bad for an hour: burn 20
    assert tracker.rates(7199.0) == (pytest.approx(20.0, rel=0.01), pytest.approx(20.0, rel=0.01))
    assert tracker.paging(7199.0)
    feed(tracker, 7200, 7500)  # five good minutes
    short, long = tracker.rates(7499.0)
    assert short == 0.0 and long > 14.4  # the long window still remembers
    assert not tracker.paging(7499.0)


def test_spike_long_enough_for_the_long_window_pages() -> None:
    tracker = BurnRate()
    feed(tracker, 0, 7200)
    feed(tracker, 7200, 7800, bad_every=1)  # ten bad minutes: long window 600/3600 -> burn 16.7
    assert tracker.paging(7799.0)


def test_old_buckets_expire_and_memory_is_bounded() -> None:
    policy = SloPolicy()
    tracker = BurnRate(policy)
    feed(tracker, 0, 300, bad_every=1)
    assert tracker.paging(299.0)
    assert tracker.rates(4000.0) == (0.0, 0.0)  # out of both windows
    feed(tracker, 300, 3 * 3600)
    assert tracker.bucket_count() <= policy.long_window_s / policy.bucket_s
    assert tracker.rates(3 * 3600 - 1.0) == (0.0, 0.0)
    # an observation older than the long window is dropped, not counted
    tracker.observe(10.0, BAD)
    assert tracker.rates(3 * 3600 - 1.0) == (0.0, 0.0)


def test_late_observation_inside_the_window_counts() -> None:
    tracker = BurnRate()
    feed(tracker, 0, 100)
    tracker.observe(50.0, BAD)  # arrives late, still inside both windows
    short, long = tracker.rates(99.0)
    assert short == long == pytest.approx(1 / 101 * 100)


def test_no_traffic_burns_nothing() -> None:
    tracker = BurnRate()
    assert tracker.rates(1000.0) == (0.0, 0.0)
    assert not tracker.paging(1000.0)


def test_labels_select_series() -> None:
    tracker = BurnRate()
    for t in range(3600):
        tracker.observe(float(t), BAD if t % 2 else GOOD, tenant="acme", pool="realtime")
        tracker.observe(float(t), GOOD, tenant="globex", pool="realtime")
    assert tracker.rates(3599.0, tenant="acme") == (pytest.approx(50.0), pytest.approx(50.0))
    assert tracker.rates(3599.0, tenant="globex") == (0.0, 0.0)
    assert tracker.rates(3599.0, pool="realtime") == (pytest.approx(25.0), pytest.approx(25.0))
    assert tracker.rates(3599.0) == tracker.rates(3599.0, pool="realtime")
    assert tracker.paging(3599.0, tenant="acme")
    assert not tracker.paging(3599.0, tenant="globex")
    assert tracker.rates(3599.0, tenant="initech") == (0.0, 0.0)


def test_min_events_keeps_a_single_slow_chunk_from_paging() -> None:
    lone = BurnRate(SloPolicy())
    lone.observe(0.0, BAD)
    assert lone.paging(0.0)  # 1 of 1 bad burns at 100 in both windows
    guarded = BurnRate(SloPolicy(min_events=10))
    guarded.observe(0.0, BAD)
    assert not guarded.paging(0.0)


def test_policy_validation() -> None:
    with pytest.raises(ValueError):
        SloPolicy(short_window_s=3600, long_window_s=300)
    with pytest.raises(ValueError):
        SloPolicy(objective=1.0)
    assert SloPolicy(objective=0.999).budget == pytest.approx(0.001)

"""Multi-window burn-rate alerting for the queue-time SLO.

The SLO: at least ``objective`` (e.g. 99 %) of chunks wait at most ``threshold_s`` in the
queue. The error budget is the allowed bad fraction, ``1 - objective``. The **burn rate** of a
window is the window's bad fraction divided by that budget: 1 spends the budget exactly over
the SLO period, 14.4 spends 2 % of a 30-day budget in one hour.

Paging on one window is either slow (a long window reacts late) or noisy (a short one fires
on a blip). The multi-window rule (Google SRE workbook, "Alerting on SLOs") pages only while
**both** a long window (1 h) and a short window (5 min) burn faster than ``page_burn_rate``:
the long window proves the budget is really being spent, the short window that it still is
(so the page clears soon after recovery).

Memory is bounded: observations are counted in buckets of ``bucket_s`` seconds per label set,
and buckets older than the long window are dropped. A window covers the ``ceil(window /
bucket_s)`` buckets ending with the one that holds ``now``, so its edge is accurate to one
bucket. A window without observations burns at 0 (no traffic spends no budget).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import BaseModel, Field, model_validator

LabelSet = frozenset[tuple[str, str]]


class SloPolicy(BaseModel):
    threshold_s: float = Field(default=5.0, gt=0, description="Queue time above this is bad.")
    objective: float = Field(default=0.99, gt=0, lt=1, description="Share of chunks that must be good.")
    short_window_s: float = Field(default=300.0, gt=0)
    long_window_s: float = Field(default=3600.0, gt=0)
    page_burn_rate: float = Field(default=14.4, gt=0, description="Both windows above it page.")
    bucket_s: float = Field(default=10.0, gt=0, description="Resolution of the windows.")
    min_events: int = Field(
        default=0,
        ge=0,
        description="Fewest observations in the long window before it can page (0: any); "
        "keeps one slow chunk on an idle tenant from paging.",
    )

    @model_validator(mode="after")
    def _windows(self) -> SloPolicy:
        if self.short_window_s >= self.long_window_s:
            raise ValueError("short_window_s must be shorter than long_window_s")
        if self.bucket_s > self.short_window_s:
            raise ValueError("bucket_s must not exceed short_window_s")
        return self

    @property
    def budget(self) -> float:
        """Allowed bad fraction."""
        return 1.0 - self.objective


@dataclass(slots=True)
class _Bucket:
    total: int = 0
    bad: int = 0


class BurnRate:
    """Counts good and bad queue times per label set and reports burn rates.

    ``rates`` and ``paging`` take labels as a filter: every label set that contains the given
    labels is summed (no labels: everything observed).
    """

    def __init__(self, policy: SloPolicy | None = None) -> None:
        self.policy = policy or SloPolicy()
        self._series: dict[LabelSet, dict[int, _Bucket]] = {}
        self._latest: int | None = None  # newest bucket index seen
        self._long_n = math.ceil(self.policy.long_window_s / self.policy.bucket_s)
        self._short_n = math.ceil(self.policy.short_window_s / self.policy.bucket_s)

    def _index(self, t_s: float) -> int:
        return math.floor(t_s / self.policy.bucket_s)

    def observe(self, t_s: float, queue_s: float, **labels: str) -> None:
        """Record one chunk that waited ``queue_s`` seconds, observed at time ``t_s``.

        Observations older than the long window (relative to the newest one seen) are dropped.
        """
        index = self._index(t_s)
        if self._latest is None or index > self._latest:
            self._latest = index
            self._expire(index)
        if index <= self._latest - self._long_n:
            return
        key: LabelSet = frozenset(labels.items())
        bucket = self._series.setdefault(key, {}).setdefault(index, _Bucket())
        bucket.total += 1
        bucket.bad += queue_s > self.policy.threshold_s

    def _expire(self, newest: int) -> None:
        oldest_kept = newest - self._long_n + 1
        for key in list(self._series):
            buckets = self._series[key]
            for index in [i for i in buckets if i < oldest_kept]:
                del buckets[index]
            if not buckets:
                del self._series[key]

    def _matching(self, labels: dict[str, str]) -> Iterator[dict[int, _Bucket]]:
        wanted = set(labels.items())
        for key, buckets in self._series.items():
            if wanted <= key:
                yield buckets

    def _counts(self, now_s: float, n_buckets: int, labels: dict[str, str]) -> tuple[int, int]:
        last = self._index(now_s)
        first = last - n_buckets + 1
        total = bad = 0
        for buckets in self._matching(labels):
            for index, bucket in buckets.items():
                if first <= index <= last:
                    total += bucket.total
                    bad += bucket.bad
        return total, bad

    def _rate(self, total: int, bad: int) -> float:
        return 0.0 if total == 0 else (bad / total) / self.policy.budget

    def rates(self, now_s: float, **labels: str) -> tuple[float, float]:
        """(short, long) burn rates at ``now_s``."""
        short = self._rate(*self._counts(now_s, self._short_n, labels))
        long = self._rate(*self._counts(now_s, self._long_n, labels))
        return short, long

    def paging(self, now_s: float, **labels: str) -> bool:
        """True while both windows burn faster than ``page_burn_rate``."""
        long_total, long_bad = self._counts(now_s, self._long_n, labels)
        if long_total < max(self.policy.min_events, 1):
            return False
        short = self._rate(*self._counts(now_s, self._short_n, labels))
        long = self._rate(long_total, long_bad)
        return short > self.policy.page_burn_rate and long > self.policy.page_burn_rate

    def bucket_count(self) -> int:
        """Buckets held, over all label sets (what memory is bounded by)."""
        return sum(len(b) for b in self._series.values())

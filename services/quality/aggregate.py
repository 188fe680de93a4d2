"""Tumbling-window aggregates per slice: accepted rate, mean proxy, p95 latency, hallucinations.

A slice is the cross product of the report's slice dimensions (model x language x codec x
channels x tenant x SNR band x duration band x configured metadata keys), so a regression of
one region or one client version shows in its own row instead of hiding in the average.
Latency is kept as counts in fixed log-spaced buckets (about 12 % wide), so the window's p95
costs constant memory however many recordings it holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

BUCKET_BASE = 1.12  # bucket i holds latencies in [BASE**(i-1), BASE**i) * 0.01 s
BUCKET_FLOOR_S = 0.01
SLICE_ORDER = ("model", "arm", "language", "codec", "channels", "tenant", "snr_band", "duration_band")


def slice_key(dims: Mapping[str, str]) -> str:
    """One stable string per slice: the fixed dimensions first, then the others sorted."""
    rest = sorted(k for k in dims if k not in SLICE_ORDER)
    return "|".join(f"{k}={dims[k]}" for k in (*[k for k in SLICE_ORDER if k in dims], *rest))


def _bucket(seconds: float) -> int:
    return max(0, math.ceil(math.log(max(seconds, BUCKET_FLOOR_S) / BUCKET_FLOOR_S, BUCKET_BASE)))


@dataclass
class SliceWindow:
    reports: int = 0
    accepted: int = 0
    proxy_sum: float = 0.0
    wer_sum: float = 0.0
    wer_n: int = 0
    hallucinating: int = 0
    latency: dict[str, int] = field(default_factory=dict)  # bucket index (str: JSON keys) -> count

    def add(self, sample: Mapping[str, Any]) -> None:
        self.reports += 1
        self.accepted += bool(sample["accepted"])
        self.proxy_sum += float(sample["wer_proxy"])
        if sample.get("true_wer") is not None:
            self.wer_sum += float(sample["true_wer"])
            self.wer_n += 1
        self.hallucinating += bool(sample.get("hallucinated_words"))
        if sample.get("latency_s") is not None:
            b = str(_bucket(float(sample["latency_s"])))
            self.latency[b] = self.latency.get(b, 0) + 1

    @property
    def accepted_rate(self) -> float:
        return self.accepted / self.reports if self.reports else 0.0

    @property
    def mean_proxy(self) -> float:
        return self.proxy_sum / self.reports if self.reports else 0.0

    @property
    def hallucination_rate(self) -> float:
        return self.hallucinating / self.reports if self.reports else 0.0

    def latency_quantile(self, q: float) -> float | None:
        """Upper edge of the bucket holding the q-quantile (overestimates by < 12 %)."""
        total = sum(self.latency.values())
        if not total:
            return None
        seen = 0
        for b in sorted(self.latency, key=int):
            seen += self.latency[b]
            if seen >= q * total:
                return BUCKET_FLOOR_S * BUCKET_BASE ** int(b)
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "reports": self.reports,
            "accepted": self.accepted,
            "proxy_sum": self.proxy_sum,
            "wer_sum": self.wer_sum,
            "wer_n": self.wer_n,
            "hallucinating": self.hallucinating,
            "latency": dict(self.latency),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> SliceWindow:
        fields: dict[str, Any] = {k: (dict(v) if k == "latency" else v) for k, v in doc.items()}
        return cls(**fields)

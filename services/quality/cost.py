"""Unit cost (USD per accepted transcript) and what made it rise.

Cost is ``processing_s`` (compute seconds spent on a recording, retries and re-decodes
included) times the price of one second of the device it ran on. The unit that matters to the
business is cost per *accepted* transcript: work on a recording that ends up needing review,
on retries, on the fallback model or on a candidate/shadow arm is paid for all the same.

When unit cost rises beyond ``tolerance`` between two windows, ``cost_regression`` names the
drivers that rose, so the cause can be read off the regression: more retries per recording,
a larger share on the fallback model, more traffic on a candidate or shadow arm (often run
on top of control), a higher real-time factor (slower compute per audio second), or a larger
share of transcripts that were not accepted (fewer transcripts to spread the cost over).

The default prices are **placeholders**, round figures of the order of public on-demand cloud
prices, not quotes: about $0.05 per vCPU-hour (a general-purpose instance's hourly price
divided by its vCPUs) and about $2.50 per GPU-hour (one data-centre inference GPU). Configure
the prices you actually pay. A "CPU second" is one second of the CPU a worker is given; set
``price_per_cpu_second`` to the vCPU price times the worker's thread count if it uses several.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from pydantic import BaseModel, Field

CPU_HOUR_USD = 0.05  # placeholder: per vCPU-hour
GPU_HOUR_USD = 2.50  # placeholder: per GPU-hour
ARMS = ("control", "candidate", "shadow")


def device_kind(device: str) -> str:
    """'cpu' or 'gpu' for a ModelInfo.device string ('cpu', 'cuda', 'cuda:1', 'gpu')."""
    name = device.strip().lower()
    if name == "cpu":
        return "cpu"
    if name == "gpu" or name == "cuda" or name.startswith("cuda:"):
        return "gpu"
    raise ValueError(f"unknown device {device!r}: expected cpu, cuda[:N] or gpu")


class CostPolicy(BaseModel):
    price_per_cpu_second: float = Field(
        default=CPU_HOUR_USD / 3600, ge=0, description="USD per CPU-second (placeholder default)."
    )
    price_per_gpu_second: float = Field(
        default=GPU_HOUR_USD / 3600, ge=0, description="USD per GPU-second (placeholder default)."
    )
    tolerance: float = Field(
        default=0.10, ge=0, description="Relative rise of unit cost that counts as a regression."
    )

    def cost_usd(self, processing_s: float, device: str) -> float:
        if processing_s < 0 or not math.isfinite(processing_s):
            raise ValueError(f"processing_s must be a finite number >= 0, not {processing_s!r}")
        price = self.price_per_gpu_second if device_kind(device) == "gpu" else self.price_per_cpu_second
        return processing_s * price


def cost_usd(processing_s: float, device: str, policy: CostPolicy | None = None) -> float:
    """Processing seconds times the price of a second of ``device``."""
    return (policy or CostPolicy()).cost_usd(processing_s, device)


@dataclass(slots=True)
class Window:
    """Totals over the reports of one window (one key, or several merged)."""

    reports: int = 0
    accepted: int = 0
    cost_usd: float = 0.0
    processing_s: float = 0.0
    retries: int = 0
    fallback: float = 0.0  # sum of per-report fallback shares
    candidate: int = 0  # reports served on the candidate or shadow arm
    rtf_sum: float = 0.0
    rtf_n: int = 0

    def merge(self, other: Window) -> Window:
        return Window(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    @property
    def per_accepted(self) -> float:
        """USD per accepted transcript; inf if something was spent and nothing accepted."""
        if self.accepted:
            return self.cost_usd / self.accepted
        return math.inf if self.cost_usd > 0 else 0.0

    def _share(self, x: float) -> float:
        return x / self.reports if self.reports else 0.0

    @property
    def retry_rate(self) -> float:
        """Retries per report."""
        return self._share(self.retries)

    @property
    def fallback_share(self) -> float:
        return self._share(self.fallback)

    @property
    def candidate_share(self) -> float:
        return self._share(self.candidate)

    @property
    def rejected_share(self) -> float:
        return self._share(self.reports - self.accepted)

    @property
    def rtf(self) -> float:
        """Mean real-time factor (processing seconds per audio second) of reports that had one."""
        return self.rtf_sum / self.rtf_n if self.rtf_n else 0.0

    def drivers(self) -> dict[str, float]:
        return {
            "retry_rate": self.retry_rate,
            "fallback_share": self.fallback_share,
            "candidate_share": self.candidate_share,
            "rtf": self.rtf,
            "rejected_share": self.rejected_share,
        }


class UnitCost:
    """Accumulates cost and outcomes per (tenant, model)."""

    def __init__(self, policy: CostPolicy | None = None) -> None:
        self.policy = policy or CostPolicy()
        self._windows: dict[tuple[str, str], Window] = {}

    def add(
        self,
        tenant: str,
        model: str,
        *,
        processing_s: float,
        device: str,
        accepted: bool,
        retries: int = 0,
        fallback_used: float = 0.0,
        arm: str = "control",
        rtf: float | None = None,
        cost_usd: float | None = None,
    ) -> float:
        """Add one report and return its cost.

        ``fallback_used`` is the share of the recording's chunks decoded by the fallback model
        (a bool counts as 0 or 1); ``cost_usd`` overrides the priced cost (e.g. the value a
        QualityReport already carries).
        """
        if arm not in ARMS:
            raise ValueError(f"arm must be one of {ARMS}, not {arm!r}")
        if not 0.0 <= float(fallback_used) <= 1.0:
            raise ValueError("fallback_used must be a share in [0, 1]")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        cost = self.policy.cost_usd(processing_s, device) if cost_usd is None else cost_usd
        w = self._windows.setdefault((tenant, model), Window())
        w.reports += 1
        w.accepted += bool(accepted)
        w.cost_usd += cost
        w.processing_s += processing_s
        w.retries += retries
        w.fallback += float(fallback_used)
        w.candidate += arm != "control"
        if rtf is not None:
            w.rtf_sum += rtf
            w.rtf_n += 1
        return cost

    def keys(self) -> list[tuple[str, str]]:
        return sorted(self._windows)

    def window(self, tenant: str | None = None, model: str | None = None) -> Window:
        """Totals of the keys matching ``tenant`` and ``model`` (None matches any)."""
        total = Window()
        for (t, m), w in self._windows.items():
            if (tenant is None or t == tenant) and (model is None or m == model):
                total = total.merge(w)
        return total

    def per_accepted(self, tenant: str | None = None, model: str | None = None) -> float:
        """USD per accepted transcript over the matching keys."""
        return self.window(tenant, model).per_accepted

    def by_key(self) -> dict[tuple[str, str], float]:
        return {key: self._windows[key].per_accepted for key in self.keys()}


@dataclass(frozen=True, slots=True)
class Driver:
    name: str
    old: float
    new: float


@dataclass(frozen=True, slots=True)
class Regression:
    old_unit_cost: float
    new_unit_cost: float
    relative: float
    drivers: list[Driver] = field(default_factory=list)

    @property
    def reason(self) -> str:
        rise = f"{self.relative * 100:+.1f}%" if math.isfinite(self.relative) else "+inf%"
        head = (
            f"unit cost {rise} ({self.old_unit_cost:.6g} -> {self.new_unit_cost:.6g} "
            f"USD per accepted transcript)"
        )
        if not self.drivers:
            return head + "; no tracked driver rose (price or mix change?)"
        return head + "; drivers: " + ", ".join(f"{d.name} {d.old:.4g} -> {d.new:.4g}" for d in self.drivers)


def _rise(old: float, new: float) -> float:
    return (new - old) / old if old else math.inf


def cost_regression(old: Window, new: Window, tolerance: float = 0.10) -> Regression | None:
    """A Regression when unit cost rose more than ``tolerance`` (relative) from ``old`` to
    ``new``, naming the drivers that rose, largest relative rise first; None otherwise, and
    None when ``old`` accepted nothing (no baseline to compare with)."""
    if old.accepted == 0:
        return None
    before, after = old.per_accepted, new.per_accepted
    if after <= before * (1 + tolerance):
        return None
    relative = _rise(before, after) if math.isfinite(after) else math.inf
    old_d, new_d = old.drivers(), new.drivers()
    rose: Iterable[Driver] = (
        Driver(name, old_d[name], new_d[name]) for name in old_d if new_d[name] > old_d[name] + 1e-12
    )
    drivers = sorted(rose, key=lambda d: _rise(d.old, d.new), reverse=True)
    return Regression(old_unit_cost=before, new_unit_cost=after, relative=relative, drivers=drivers)

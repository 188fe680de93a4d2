"""Rollout gate: is a candidate (canary) model worse than control, overall or on a slice?

In the spirit of canary analysis (Kayenta, Argo Rollouts analysis, Flagger): samples of both
arms are compared per slice of the traffic, and the verdict is one of

* ``rollback`` -- the candidate leaked personal data, regressed on a protected slice (or on
  ``all``), or its p95 latency regressed;
* ``pause`` -- nothing says roll back, but a protected slice (or ``all``) has too few samples
  in an arm to tell;
* ``continue`` -- otherwise. A regression on an unprotected slice is reported (verdict
  ``regressed`` and a reason) but only informs: a rollout is not stopped by a slice nobody
  declared important, since with many slices some will look worse by chance.

Statistics, per slice and metric (lower WER is better, so "worse" means larger):

* **Mann-Whitney U**, one-sided (``alternative="greater"``: candidate values tend to be
  larger). It compares ranks, so it needs no normality (WER per recording is bounded, skewed
  and full of zeros) and it does not need the samples to be paired. Live traffic routes
  *different* recordings to each arm, so there are no pairs to use. The golden set does send
  the same recordings to both arms, and there a paired test (Wilcoxon signed-rank on the
  per-recording differences) would have more power. It is not used here so that golden and
  live go through one rule, and so that a golden run where some recordings failed in one
  arm can still be judged. A paired mode is an option to add if golden runs are too small to
  be conclusive.
* **Cliff's delta** = P(candidate > control) - P(candidate < control), in [-1, 1], from the
  same U statistic: ``2 U / (n_candidate n_control) - 1``. It is an effect size: with enough
  samples any difference becomes significant, so a regression must also be at least
  ``min_effect`` (0.147 is the usual "small" threshold, Romano et al. 2006).
* **relative delta** of the means, ``(candidate - control) / control``, against the slice's
  allowed bound; and the **absolute** delta against ``abs_floor``, because on a nearly perfect
  slice 0.000 -> 0.001 is an "infinite" relative regression that means nothing.

A slice regresses only when all four hold: p < alpha, Cliff's delta >= min_effect, relative
delta > bound and absolute delta > abs_floor. No multiple-comparison correction is applied.
Each slice that acts (``all`` and every protected one) is a test at level alpha, and when the
bound is small against the noise of the slice's mean the other conditions barely filter, so
with two candidates drawn from the same distribution each acting slice rolls back with
probability up to alpha. With k protected slices the false-rollback rate is up to (k + 1) alpha;
a policy that protects many slices should lower ``alpha`` (Bonferroni: alpha / (k + 1)).
Informational lines on unprotected slices are false alarms at about the same rate per slice.

Latency is judged on ``all`` only: candidate p95 over control p95 beyond ``latency_bound``
*and* a one-sided Mann-Whitney test on the latencies with p < alpha. Samples without a latency
are left out of it; too few latencies make the comparison inconclusive but do not pause (WER
decides whether there is enough traffic).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, field_validator, model_validator
from scipy.stats import mannwhitneyu

Arm = Literal["control", "candidate"]
Verdict = Literal["ok", "regressed", "inconclusive"]
DecisionKind = Literal["continue", "pause", "rollback"]

ALL = "all"
ARMS: tuple[str, ...] = ("control", "candidate")
DEFAULT_DIMENSIONS = ("slice", "language", "codec", "snr_band", "tenant")


@dataclass(frozen=True, slots=True)
class Sample:
    """One scored recording (or chunk) of one arm.

    ``wer`` is the true WER on golden runs and the WER proxy on live traffic; ``slice`` holds
    the slice dimensions (``{"language": "en", "codec": "pcm_mulaw", ...}``).
    """

    arm: str
    model: str
    slice: Mapping[str, str] = field(default_factory=dict, hash=False)
    wer: float = 0.0
    latency_s: float | None = None
    privacy_errors: int = 0

    def __post_init__(self) -> None:
        if self.arm not in ARMS:
            raise ValueError(f"arm must be control or candidate, not {self.arm!r}")
        if not math.isfinite(self.wer) or self.wer < 0:
            raise ValueError(f"wer must be a finite number >= 0, not {self.wer!r}")
        if self.latency_s is not None and not (math.isfinite(self.latency_s) and self.latency_s >= 0):
            raise ValueError(f"latency_s must be a finite number >= 0, not {self.latency_s!r}")
        if self.privacy_errors < 0:
            raise ValueError("privacy_errors must be >= 0")


class GatePolicy(BaseModel):
    """What the gate compares and how much regression it allows (relative bounds are fractions:
    0.03 allows the candidate's mean WER to be 3 % above control's)."""

    min_samples: int = Field(default=5, ge=2, description="Fewest samples per arm per slice to judge it.")
    alpha: float = Field(default=0.05, gt=0, lt=1, description="Significance level of the one-sided test.")
    min_effect: float = Field(
        default=0.147, ge=0, le=1, description="Smallest Cliff's delta that counts (0.147: 'small')."
    )
    default_bound: float = Field(
        default=0.10, ge=0, description="Allowed relative WER regression on 'all' and on unprotected slices."
    )
    protected: dict[str, float] = Field(
        default_factory=dict,
        description="Slice label ('dimension=value', or 'all') -> allowed relative regression; "
        "a regression there rolls back.",
    )
    dimensions: list[str] = Field(
        default_factory=lambda: list(DEFAULT_DIMENSIONS), description="Slice dimensions compared."
    )
    latency_bound: float = Field(
        default=0.2, ge=0, description="Allowed relative increase of p95 latency (on 'all')."
    )
    abs_floor: float = Field(
        default=0.005,
        ge=0,
        description="Absolute WER delta at or below which a relative regression is ignored, so that "
        "0.000 -> 0.001 on a near-perfect slice is not an 'infinite' regression.",
    )

    @field_validator("protected")
    @classmethod
    def _labels(cls, value: dict[str, float]) -> dict[str, float]:
        for label, bound in value.items():
            if label != ALL and "=" not in label:
                raise ValueError(f"protected slice {label!r} must be 'all' or 'dimension=value'")
            if bound < 0:
                raise ValueError(f"bound of {label!r} must be >= 0")
        return value

    @model_validator(mode="after")
    def _no_blank_dimension(self) -> GatePolicy:
        if any(not d or "=" in d for d in self.dimensions):
            raise ValueError("dimensions must be non-empty names without '='")
        return self

    def bound(self, label: str) -> float:
        return self.protected.get(label, self.default_bound)

    def is_protected(self, label: str) -> bool:
        return label == ALL or label in self.protected


@dataclass(slots=True)
class Decision:
    """The gate's verdict. ``comparisons`` are SliceComparison records (Avro field names);
    ``slice_deltas`` maps a slice label to candidate mean - control mean WER, for every slice
    that has samples in both arms ("all" included)."""

    decision: DecisionKind
    reasons: list[str] = field(default_factory=list)
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    slice_deltas: dict[str, float] = field(default_factory=dict)
    control_model: str | None = None
    candidate_model: str | None = None

    @property
    def reason(self) -> str:
        """One line for GateDecision.reason."""
        return "; ".join(self.reasons) if self.reasons else "no regression"


@dataclass(frozen=True, slots=True)
class _Test:
    p_value: float
    cliffs_delta: float


def label(dimension: str, value: str) -> str:
    return f"{dimension}={value}"


def mann_whitney_greater(candidate: Sequence[float], control: Sequence[float]) -> _Test:
    """One-sided Mann-Whitney U (candidate stochastically greater) and Cliff's delta.

    scipy's U is the candidate's count of (candidate, control) pairs where the candidate is
    larger, ties counting one half, so Cliff's delta is ``2 U / (n1 n2) - 1``. With every value
    tied the p-value is 1 (there is no evidence of a shift).
    """
    x = np.asarray(candidate, dtype=float)
    y = np.asarray(control, dtype=float)
    result = mannwhitneyu(x, y, alternative="greater")
    delta = 2.0 * float(result.statistic) / (len(x) * len(y)) - 1.0
    p = float(result.pvalue)
    return _Test(p_value=1.0 if math.isnan(p) else p, cliffs_delta=delta)


def relative(candidate: float, control: float) -> float:
    """(candidate - control) / control; +inf when control is 0 and the candidate is not."""
    if control == 0:
        return 0.0 if candidate == 0 else math.copysign(math.inf, candidate)
    return (candidate - control) / control


def _pct(x: float) -> str:
    return f"{x * 100:+.1f}%" if math.isfinite(x) else ("+inf%" if x > 0 else "-inf%")


def _bound_pct(x: float) -> str:
    return f"+{x * 100:g}%"


def _slices(samples: Sequence[Sample], policy: GatePolicy) -> list[str]:
    """'all', then every observed value of every configured dimension, then protected labels
    that were not observed (they are judged, and come out inconclusive)."""
    labels = [ALL]
    for dim in policy.dimensions:
        values = sorted({s.slice[dim] for s in samples if dim in s.slice})
        labels.extend(label(dim, v) for v in values)
    seen = set(labels)
    labels.extend(p for p in policy.protected if p not in seen)
    return labels


def _in_slice(sample: Sample, slice_label: str) -> bool:
    if slice_label == ALL:
        return True
    dim, _, value = slice_label.partition("=")
    return sample.slice.get(dim) == value


def _single_model(samples: Iterable[Sample], arm: str) -> str | None:
    models = {s.model for s in samples if s.arm == arm}
    if len(models) > 1:
        raise ValueError(f"{arm} arm mixes models {sorted(models)}; evaluate one model per arm")
    return next(iter(models), None)


def _compare_wer(
    slice_label: str, control: list[float], candidate: list[float], policy: GatePolicy, metric: str
) -> dict[str, Any]:
    protected = policy.is_protected(slice_label)
    bound = policy.bound(slice_label)
    c_mean = float(np.mean(control)) if control else 0.0
    k_mean = float(np.mean(candidate)) if candidate else 0.0
    record: dict[str, Any] = {
        "slice": slice_label,
        "metric": metric,
        "control_n": len(control),
        "candidate_n": len(candidate),
        "control": c_mean,
        "candidate": k_mean,
        "relative_delta": relative(k_mean, c_mean) if control and candidate else 0.0,
        "p_value": None,
        "effect_size": 0.0,
        "protected": protected,
        "bound": bound,
        "verdict": "inconclusive",
    }
    if min(len(control), len(candidate)) < policy.min_samples:
        return record
    test = mann_whitney_greater(candidate, control)
    record["p_value"] = test.p_value
    record["effect_size"] = test.cliffs_delta
    regressed = (
        test.p_value < policy.alpha
        and test.cliffs_delta >= policy.min_effect
        and record["relative_delta"] > bound
        and k_mean - c_mean > policy.abs_floor
    )
    record["verdict"] = "regressed" if regressed else "ok"
    return record


def _p95(values: Sequence[float]) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), 95))


def _compare_latency(control: list[float], candidate: list[float], policy: GatePolicy) -> dict[str, Any]:
    """p95 of both arms (the record's ``control`` and ``candidate`` are p95 here)."""
    c95 = _p95(control) if control else 0.0
    k95 = _p95(candidate) if candidate else 0.0
    record: dict[str, Any] = {
        "slice": ALL,
        "metric": "latency_s",
        "control_n": len(control),
        "candidate_n": len(candidate),
        "control": c95,
        "candidate": k95,
        "relative_delta": relative(k95, c95) if control and candidate else 0.0,
        "p_value": None,
        "effect_size": 0.0,
        "protected": True,
        "bound": policy.latency_bound,
        "verdict": "inconclusive",
    }
    if min(len(control), len(candidate)) < policy.min_samples:
        return record
    test = mann_whitney_greater(candidate, control)
    record["p_value"] = test.p_value
    record["effect_size"] = test.cliffs_delta
    regressed = test.p_value < policy.alpha and record["relative_delta"] > policy.latency_bound
    record["verdict"] = "regressed" if regressed else "ok"
    return record


def _describe(record: dict[str, Any], tag: str) -> str:
    what = "p95 latency" if record["metric"] == "latency_s" else record["metric"]
    return (
        f"{record['slice']}: {what} {_pct(record['relative_delta'])} "
        f"(bound {_bound_pct(record['bound'])}), p={record['p_value']:.3g}, "
        f"cliff={record['effect_size']:.2f} [{tag}]"
    )


def _too_few(record: dict[str, Any], policy: GatePolicy) -> str:
    return (
        f"{record['slice']}: too few samples for {record['metric']} (control {record['control_n']}, "
        f"candidate {record['candidate_n']}; need {policy.min_samples} per arm) [protected]"
    )


def evaluate(samples: Iterable[Sample], policy: GatePolicy | None = None, *, metric: str = "wer") -> Decision:
    """Judge the candidate arm against control.

    ``metric`` only names the WER comparisons ("wer" for golden runs, "wer_proxy" for live).
    Each arm must hold one model (a ValueError otherwise): mixing versions in an arm would
    compare a blend.
    """
    policy = policy or GatePolicy()
    samples = list(samples)
    control_model = _single_model(samples, "control")
    candidate_model = _single_model(samples, "candidate")

    rollback: list[str] = []
    pause: list[str] = []
    inform: list[str] = []

    leaks = sum(s.privacy_errors for s in samples if s.arm == "candidate")
    if leaks:
        leaking = sum(1 for s in samples if s.arm == "candidate" and s.privacy_errors)
        rollback.append(
            f"privacy: candidate output contains {leaks} privacy error(s) "
            f"in {leaking} sample(s); rollback regardless of quality"
        )

    comparisons: list[dict[str, Any]] = []
    slice_deltas: dict[str, float] = {}
    for slice_label in _slices(samples, policy):
        members = [s for s in samples if _in_slice(s, slice_label)]
        control = [s.wer for s in members if s.arm == "control"]
        candidate = [s.wer for s in members if s.arm == "candidate"]
        record = _compare_wer(slice_label, control, candidate, policy, metric)
        comparisons.append(record)
        if control and candidate:
            slice_deltas[slice_label] = record["candidate"] - record["control"]
        if record["verdict"] == "regressed":
            (rollback if record["protected"] else inform).append(
                _describe(record, "protected" if record["protected"] else "unprotected, informational")
            )
        elif record["verdict"] == "inconclusive" and record["protected"]:
            pause.append(_too_few(record, policy))

    lat_control = [s.latency_s for s in samples if s.arm == "control" and s.latency_s is not None]
    lat_candidate = [s.latency_s for s in samples if s.arm == "candidate" and s.latency_s is not None]
    if lat_control or lat_candidate:
        record = _compare_latency(lat_control, lat_candidate, policy)
        comparisons.append(record)
        if record["verdict"] == "regressed":
            rollback.append(_describe(record, "latency"))

    if rollback:
        kind: DecisionKind = "rollback"
        reasons = rollback + pause + inform
    elif pause:
        kind = "pause"
        reasons = pause + inform
    else:
        kind = "continue"
        reasons = inform
    return Decision(
        decision=kind,
        reasons=reasons,
        comparisons=comparisons,
        slice_deltas=slice_deltas,
        control_model=control_model,
        candidate_model=candidate_model,
    )

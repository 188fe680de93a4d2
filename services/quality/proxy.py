"""A word-error proxy: WER estimated without a reference, from the ASR's own signals.

The model is deliberately small so that it can be read and argued with: a ridge regression
(closed form, numpy) on standardised features, its output clipped to [0, 1]. It is fitted on
the golden set's *tune* split (``stt-mesh golden fit``) and judged on the *heldout* split by
how it ranks recordings (Spearman rho) and how far it is off (RMSE); those figures travel in
the coefficients file next to the coefficients. The file is versioned by a digest of its
content, and that version is on every QualityReport (``proxy_version``), so a report can
always be traced to the coefficients that scored it.

Only signals the recognizer itself produces are used (confidences, coverage, repetition,
re-decodes, fallback, language certainty, speech decoded in another language than the
producer's hint), not the audio's SNR: the proxy should say how
sure the recognizer is, and the SNR stays a separate slice dimension in which a proxy that
ignores it can be checked. A feature missing from a row takes its training mean.

Without a coefficients file the proxy falls back to ``1 - mean word probability`` (version
``baseline``), which is a ranking signal but not calibrated.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FEATURES = (
    "mean_word_probability",
    "min_word_probability",
    "low_probability_share",
    "avg_logprob",
    "min_avg_logprob",
    "no_speech_prob",
    "compression_ratio",
    "words_per_speech_s",
    "speech_coverage",
    "repetition_run",
    "language_probability",
    "redecoded_share",
    "fallback_share",
    "off_hint_share",
)
BASELINE = "baseline"


@dataclass(frozen=True)
class WerProxy:
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    meta: dict[str, Any] = field(default_factory=dict)
    target: str = "wer"  # or "sqrt_wer": fitted on the square root, squared back on predict

    @property
    def version(self) -> str:
        if not self.features:
            return BASELINE
        digest = hashlib.sha256(json.dumps(self._params(), sort_keys=True).encode()).hexdigest()
        return f"wer-proxy-{digest[:12]}"

    def predict(self, feats: Mapping[str, float]) -> float:
        if not self.features:
            return float(np.clip(1.0 - feats.get("mean_word_probability", 1.0), 0.0, 1.0))
        x = np.array([feats.get(name, m) for name, m in zip(self.features, self.mean, strict=True)])
        z = (x - np.array(self.mean)) / np.array(self.scale)
        y = float(np.clip(self.intercept + z @ np.array(self.coef), 0.0, 1.0))
        return y * y if self.target == "sqrt_wer" else y

    def contributions(self, feats: Mapping[str, float]) -> dict[str, float]:
        """Each feature's share of the estimate (coefficient times standardised value)."""
        if not self.features:
            return {}
        return {
            name: float(c * (feats.get(name, m) - m) / s)
            for name, m, s, c in zip(self.features, self.mean, self.scale, self.coef, strict=True)
        }

    def _params(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "target": self.target,
        }

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"version": self.version, **self._params(), "meta": self.meta}
        path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> WerProxy:
        if not path.is_file():
            return cls.baseline()
        doc = json.loads(path.read_text())
        proxy = cls(
            tuple(doc["features"]),
            tuple(doc["mean"]),
            tuple(doc["scale"]),
            tuple(doc["coef"]),
            float(doc["intercept"]),
            doc.get("meta", {}),
            doc.get("target", "wer"),
        )
        if doc.get("version") not in (None, proxy.version):
            raise ValueError(
                f"{path}: version {doc['version']} does not match its coefficients "
                f"({proxy.version}); refit instead of editing the file"
            )
        return proxy

    @classmethod
    def baseline(cls) -> WerProxy:
        return cls((), (), (), (), 0.0, {"model": "1 - mean word probability"})


def fit(
    rows: Sequence[Mapping[str, float]],
    wer: Sequence[float],
    features: Sequence[str] = FEATURES,
    alpha: float = 1.0,
    meta: Mapping[str, Any] | None = None,
    target: str = "wer",
) -> WerProxy:
    """Ridge regression of WER (or of its square root, which tames the few recordings with WER
    near or above 1) on standardised features (the intercept is not penalised)."""
    x = np.array([[r.get(f, np.nan) for f in features] for r in rows], dtype=float)
    y = np.asarray(wer, dtype=float)
    if target == "sqrt_wer":
        y = np.sqrt(np.clip(y, 0.0, 1.0))
    seen = ~np.isnan(x)
    # a feature no row has gets mean 0 and a zero column (coefficient 0), not NaN everywhere
    mean = np.where(seen.any(axis=0), np.nansum(x, axis=0) / np.maximum(seen.sum(axis=0), 1), 0.0)
    x = np.where(np.isnan(x), mean, x)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    coef = np.linalg.solve(z.T @ z + alpha * np.eye(len(features)), z.T @ (y - y.mean()))
    return WerProxy(
        tuple(features),
        tuple(map(float, mean)),
        tuple(map(float, scale)),
        tuple(map(float, coef)),
        float(y.mean()),
        dict(meta or {}),
        target,
    )


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    from scipy.stats import spearmanr

    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def rmse(a: Sequence[float], b: Sequence[float]) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2))) if len(a) else float("nan")

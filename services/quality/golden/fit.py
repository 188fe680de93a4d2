"""``stt-mesh golden fit``: fit the WER proxy on a golden run's tune split, judge it on heldout.

Input: the rows ``stt-mesh golden run --out`` wrote (one per recording, with the QualityReport's
features and the true WER). Only speech recordings with a true WER are used; the coefficients
are fitted on ``tune`` rows only, and Spearman rho and RMSE against true WER are reported for
both splits, per recording and per chunk. Per chunk means the recordings that are a single
chunk: a longer recording's reference is not aligned in time, so its chunks have no true WER
of their own. The heldout figures are the ones to quote; the tune figures show the fit.

With ``select``, the features are chosen by forward selection on the tune split alone: at each
step the feature (and ridge penalty) that most raises Spearman rho in a 4-fold
cross-validation grouped by source utterance is added, until rho stops rising by 0.005. Few
features generalise better than all of them on a golden set this small; heldout rows take no
part in the choice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from services.quality.proxy import FEATURES, WerProxy, fit, rmse, spearman


def load_rows(paths: Iterable[Path]) -> list[dict[str, Any]]:
    rows = []
    for path in paths:
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if not r.get("missing") and r.get("true_wer") is not None]


def judge(proxy: WerProxy, rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    single = [r for r in rows if r["features"].get("chunks", 1.0) <= 1.0]
    out: dict[str, float] = {"n": float(len(rows)), "n_chunks": float(len(single))}
    for name, subset in (("recording", rows), ("chunk", single)):
        est = [proxy.predict(r["features"]) for r in subset]
        true = [r["true_wer"] for r in subset]
        out[f"spearman_{name}"] = spearman(est, true)
        out[f"rmse_{name}"] = rmse(est, true)
    return out


TARGET = "sqrt_wer"
ALPHAS = (1.0, 3.0, 10.0)


def _source(row: Mapping[str, Any]) -> str:
    return str(row["item"]).split("/", 1)[-1]


def cross_validated_rho(
    tune: Sequence[Mapping[str, Any]], features: Sequence[str], alpha: float, folds: int = 4
) -> float:
    sources = sorted({_source(r) for r in tune})
    est: list[float] = []
    true: list[float] = []
    for k in range(folds):
        held = set(sources[k::folds])
        train = [r for r in tune if _source(r) not in held]
        test = [r for r in tune if _source(r) in held]
        proxy = fit(
            [r["features"] for r in train], [r["true_wer"] for r in train], features, alpha, target=TARGET
        )
        est += [proxy.predict(r["features"]) for r in test]
        true += [r["true_wer"] for r in test]
    return spearman(est, true)


def select_features(
    tune: Sequence[Mapping[str, Any]], candidates: Sequence[str] = FEATURES, max_features: int = 6
) -> tuple[list[str], float, float]:
    chosen: list[str] = []
    best, best_alpha = float("-inf"), ALPHAS[0]
    while len(chosen) < max_features:
        trials = [
            (cross_validated_rho(tune, [*chosen, f], a), f, a)
            for f in candidates
            if f not in chosen
            for a in ALPHAS
        ]
        trials = [t for t in trials if t[0] == t[0]]  # drop NaN (constant folds)
        if not trials:
            break
        score, feature, alpha = max(trials)
        if score <= best + 0.005:
            break
        chosen.append(feature)
        best, best_alpha = score, alpha
    return chosen, best_alpha, best


def fit_rows(
    rows: Sequence[Mapping[str, Any]],
    alpha: float = 1.0,
    features: Sequence[str] = FEATURES,
    select: bool = True,
) -> tuple[WerProxy, dict[str, dict[str, float]]]:
    rows = [r for r in rows if not str(r["model"]).startswith("none@")]  # nothing was decoded
    tune = [r for r in rows if r["split"] == "tune"]
    held = [r for r in rows if r["split"] == "heldout"]
    if len(tune) < 10:
        raise ValueError(f"only {len(tune)} tune rows with a true WER: run the golden set first")
    cv_rho = float("nan")
    if select:
        features, alpha, cv_rho = select_features(tune, features)
    models = sorted({r["model"] for r in tune})
    proxy = fit(
        [r["features"] for r in tune],
        [r["true_wer"] for r in tune],
        features,
        alpha,
        meta={
            "fitted_on": f"golden tune split, {len(tune)} recordings, models {', '.join(models)}",
            "alpha": alpha,
            "selection": "forward, grouped 4-fold CV on tune" if select else "none",
            "cv_spearman_tune": cv_rho,
        },
        target=TARGET,
    )
    figures = {"tune": judge(proxy, tune), "heldout": judge(proxy, held)}
    for model in sorted({r["model"] for r in held}):
        figures[f"heldout {model}"] = judge(proxy, [r for r in held if r["model"] == model])
    proxy = WerProxy(
        proxy.features,
        proxy.mean,
        proxy.scale,
        proxy.coef,
        proxy.intercept,
        {**proxy.meta, "figures": figures},
        proxy.target,
    )
    return proxy, figures


def lines(figures: Mapping[str, Mapping[str, float]]) -> list[str]:
    out = [
        f"{'split':<32} {'n':>4} {'rho rec':>8} {'RMSE rec':>9} {'n chunk':>8} {'rho chunk':>9} "
        f"{'RMSE chunk':>10}"
    ]
    for name, f in figures.items():
        out.append(
            f"{name:<32} {int(f['n']):>4} {f['spearman_recording']:>8.3f} {f['rmse_recording']:>9.3f} "
            f"{int(f['n_chunks']):>8} {f['spearman_chunk']:>9.3f} {f['rmse_chunk']:>10.3f}"
        )
    return out

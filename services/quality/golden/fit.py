"""``stt-mesh golden fit``: fit the WER proxy on a golden run's tune split, judge it on heldout.

Input: the rows ``stt-mesh golden run --out`` wrote (one per recording, with the QualityReport's
features and the true WER). Only speech recordings with a true WER are used; the coefficients
are fitted on ``tune`` rows only, and Spearman rho and RMSE against true WER are reported for
both splits, per recording and per chunk. Per chunk means the recordings that are a single
chunk: a longer recording's reference is not aligned in time, so its chunks have no true WER
of their own. The heldout figures are the ones to quote; the tune figures show the fit.
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


def fit_rows(rows: Sequence[Mapping[str, Any]], alpha: float = 1.0,
             features: Sequence[str] = FEATURES) -> tuple[WerProxy, dict[str, dict[str, float]]]:
    tune = [r for r in rows if r["split"] == "tune"]
    held = [r for r in rows if r["split"] == "heldout"]
    if len(tune) < len(features) // 2:
        raise ValueError(f"only {len(tune)} tune rows with a true WER: run the golden set first")
    models = sorted({r["model"] for r in tune})
    proxy = fit([r["features"] for r in tune], [r["true_wer"] for r in tune], features, alpha,
                meta={"fitted_on": f"golden tune split, {len(tune)} recordings, models {', '.join(models)}",
                      "alpha": alpha})
    figures = {"tune": judge(proxy, tune), "heldout": judge(proxy, held)}
    for model in sorted({r["model"] for r in held}):
        figures[f"heldout {model}"] = judge(proxy, [r for r in held if r["model"] == model])
    proxy = WerProxy(proxy.features, proxy.mean, proxy.scale, proxy.coef, proxy.intercept,
                     {**proxy.meta, "figures": figures})
    return proxy, figures


def lines(figures: Mapping[str, Mapping[str, float]]) -> list[str]:
    out = [f"{'split':<32} {'n':>4} {'rho rec':>8} {'RMSE rec':>9} {'n chunk':>8} {'rho chunk':>9} "
           f"{'RMSE chunk':>10}"]
    for name, f in figures.items():
        out.append(f"{name:<32} {int(f['n']):>4} {f['spearman_recording']:>8.3f} {f['rmse_recording']:>9.3f} "
                   f"{int(f['n_chunks']):>8} {f['spearman_chunk']:>9.3f} {f['rmse_chunk']:>10.3f}")
    return out

"""The WER proxy: fit on synthetic rows with a known truth, the versioned file, the baseline."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from services.quality.proxy import BASELINE, FEATURES, WerProxy, fit, rmse, spearman


def synthetic(n: int, seed: int) -> tuple[list[dict[str, float]], list[float]]:
    """Rows of the proxy's features; the WER is a known linear function of three of them plus
    a little noise (the others are noise the fit has to ignore)."""
    rng = np.random.default_rng(seed)
    rows, wer = [], []
    for _ in range(n):
        row = {name: float(rng.normal()) for name in FEATURES}
        row["mean_word_probability"] = float(rng.uniform(0.4, 1.0))
        row["low_probability_share"] = float(rng.uniform(0.0, 0.5))
        row["speech_coverage"] = float(rng.uniform(0.6, 1.0))
        truth = (
            0.9
            - 0.6 * row["mean_word_probability"]
            + 0.5 * row["low_probability_share"]
            - 0.3 * row["speech_coverage"]
        )
        rows.append(row)
        wer.append(float(np.clip(truth + rng.normal(0.0, 0.01), 0.0, 1.0)))
    return rows, wer


def test_fit_recovers_a_monotone_relation_on_held_out_rows() -> None:
    rows, wer = synthetic(400, seed=1)
    proxy = fit(rows, wer, alpha=1.0)
    test_rows, test_wer = synthetic(200, seed=2)
    predicted = [proxy.predict(r) for r in test_rows]
    assert spearman(predicted, test_wer) > 0.9
    assert rmse(predicted, test_wer) < 0.05
    coef = dict(zip(proxy.features, proxy.coef, strict=True))
    assert coef["mean_word_probability"] < 0 < coef["low_probability_share"]
    assert coef["speech_coverage"] < 0
    noise = [
        abs(c)
        for name, c in coef.items()
        if name not in ("mean_word_probability", "low_probability_share", "speech_coverage")
    ]
    assert max(noise) < 0.2 * abs(coef["mean_word_probability"])


def test_a_feature_missing_from_a_row_takes_its_training_mean() -> None:
    rows, wer = synthetic(200, seed=3)
    proxy = fit(rows, wer)
    row = dict(rows[0])
    del row["compression_ratio"]
    contributions = proxy.contributions(row)
    assert contributions["compression_ratio"] == 0.0
    assert proxy.predict(row) == pytest.approx(
        proxy.predict({**row, "compression_ratio": proxy.mean[proxy.features.index("compression_ratio")]})
    )


def test_a_feature_no_training_row_has_does_not_spoil_the_fit() -> None:
    rows, wer = synthetic(200, seed=4)
    for row in rows:
        del row["fallback_share"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "mean of empty slice"
        proxy = fit(rows, wer)
    assert all(np.isfinite(proxy.coef)) and all(np.isfinite(proxy.mean))
    assert proxy.coef[proxy.features.index("fallback_share")] == 0.0
    estimate = proxy.predict(rows[0])
    assert np.isfinite(estimate) and 0.0 <= estimate <= 1.0
    proxy.version  # noqa: B018  (JSON of finite numbers: the version is computable)


def test_save_and_load_keep_the_version_and_the_predictions(tmp_path) -> None:
    rows, wer = synthetic(100, seed=5)
    proxy = fit(rows, wer, meta={"spearman_heldout": 0.93, "split": "tune"})
    path = tmp_path / "proxy" / "wer_proxy.json"
    proxy.save(path)
    loaded = WerProxy.load(path)
    assert loaded.version == proxy.version and loaded.version.startswith("wer-proxy-")
    assert json.loads(path.read_text())["version"] == proxy.version
    assert loaded.meta == {"spearman_heldout": 0.93, "split": "tune"}
    assert [loaded.predict(r) for r in rows[:10]] == [proxy.predict(r) for r in rows[:10]]


def test_the_version_changes_with_the_coefficients() -> None:
    rows, wer = synthetic(100, seed=6)
    assert fit(rows, wer, alpha=1.0).version != fit(rows, wer, alpha=10.0).version
    assert fit(rows, wer).version == fit(rows, wer).version


def test_editing_a_coefficient_without_refitting_fails_on_load(tmp_path) -> None:
    rows, wer = synthetic(100, seed=7)
    path = tmp_path / "wer_proxy.json"
    fit(rows, wer).save(path)
    doc = json.loads(path.read_text())
    doc["coef"][0] += 0.05
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="refit"):
        WerProxy.load(path)


def test_baseline_when_the_file_is_missing(tmp_path) -> None:
    proxy = WerProxy.load(tmp_path / "absent.json")
    assert proxy.version == BASELINE
    assert proxy.predict({"mean_word_probability": 0.8}) == pytest.approx(0.2)
    assert proxy.predict({}) == 0.0
    assert proxy.contributions({"mean_word_probability": 0.8}) == {}


def test_predict_is_clipped_to_the_unit_interval() -> None:
    rows, wer = synthetic(200, seed=8)
    proxy = fit(rows, wer)
    awful = {**rows[0], "mean_word_probability": -50.0, "low_probability_share": 50.0}
    perfect = {**rows[0], "mean_word_probability": 50.0, "low_probability_share": -50.0}
    assert proxy.predict(awful) == 1.0
    assert proxy.predict(perfect) == 0.0
    baseline = WerProxy.baseline()
    assert baseline.predict({"mean_word_probability": 1.7}) == 0.0
    assert baseline.predict({"mean_word_probability": -0.5}) == 1.0


def test_spearman_and_rmse() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 45]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(spearman([1, 2], [1, 2]))  # too few
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))  # constant
    assert rmse([0.0, 1.0], [0.0, 0.0]) == pytest.approx(np.sqrt(0.5))
    assert np.isnan(rmse([], []))

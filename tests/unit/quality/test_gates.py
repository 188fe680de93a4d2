"""The rollout gate's statistics on deterministic synthetic samples (seeded numpy)."""

from __future__ import annotations

import io
import math

import fastavro
import numpy as np
import pytest

import schemas
from services.quality.gates import Decision, GatePolicy, Sample, evaluate, mann_whitney_greater

CONTROL = "whisper-tiny.en@1.0"
CANDIDATE = "whisper-base@1.0"
TELEPHONE = {
    "slice": "telephone",
    "language": "en",
    "codec": "pcm_mulaw",
    "snr_band": "10-20",
    "tenant": "acme",
}
MEETING = {"slice": "meeting", "language": "en", "codec": "opus", "snr_band": "20-30", "tenant": "acme"}


def draw(
    rng: np.random.Generator,
    arm: str,
    dims: dict[str, str],
    n: int,
    mean: float,
    sd: float = 0.03,
    latency: tuple[float, float] | None = None,
) -> list[Sample]:
    wers = np.clip(rng.normal(mean, sd, n), 0.0, None)
    lats = rng.lognormal(math.log(latency[0]), latency[1], n) if latency else [None] * n
    model = CONTROL if arm == "control" else CANDIDATE
    return [
        Sample(arm=arm, model=model, slice=dims, wer=float(w), latency_s=None if lat is None else float(lat))
        for w, lat in zip(wers, lats, strict=True)
    ]


def better_overall_worse_on_telephone() -> list[Sample]:
    """Candidate: telephone 0.20 -> 0.26 (+30 %), meeting 0.15 -> 0.10; three times as much
    meeting traffic, so the overall mean improves (0.1625 -> 0.14)."""
    rng = np.random.default_rng(7)
    return (
        draw(rng, "control", TELEPHONE, 20, 0.20)
        + draw(rng, "control", MEETING, 60, 0.15)
        + draw(rng, "candidate", TELEPHONE, 20, 0.26)
        + draw(rng, "candidate", MEETING, 60, 0.10)
    )


def same_distribution(
    seed: int = 11,
    n: int = 40,
    latency: tuple[float, float] | None = (1.0, 0.3),
    candidate_latency: tuple[float, float] | None = None,
) -> list[Sample]:
    rng = np.random.default_rng(seed)
    return (
        draw(rng, "control", TELEPHONE, n, 0.18, latency=latency)
        + draw(rng, "control", MEETING, n, 0.12, latency=latency)
        + draw(rng, "candidate", TELEPHONE, n, 0.18, latency=candidate_latency or latency)
        + draw(rng, "candidate", MEETING, n, 0.12, latency=candidate_latency or latency)
    )


def comparison(decision: Decision, slice_label: str, metric: str = "wer") -> dict:
    return next(c for c in decision.comparisons if c["slice"] == slice_label and c["metric"] == metric)


def test_protected_slice_regression_rolls_back_although_the_average_improved() -> None:
    policy = GatePolicy(protected={"slice=telephone": 0.03})
    decision = evaluate(better_overall_worse_on_telephone(), policy)

    assert decision.decision == "rollback"
    assert decision.slice_deltas["all"] < 0  # better on average
    assert decision.slice_deltas["slice=telephone"] > 0.04
    assert decision.reasons[0].startswith("slice=telephone: wer +")
    assert "(bound +3%)" in decision.reasons[0] and decision.reasons[0].endswith("[protected]")
    tel = comparison(decision, "slice=telephone")
    assert tel["verdict"] == "regressed" and tel["protected"] and tel["bound"] == 0.03
    assert tel["p_value"] < 0.001 and tel["effect_size"] > 0.5
    assert comparison(decision, "all")["verdict"] == "ok"
    assert comparison(decision, "slice=meeting")["verdict"] == "ok"


def test_unprotected_slice_regression_only_informs() -> None:
    decision = evaluate(better_overall_worse_on_telephone(), GatePolicy())

    assert decision.decision == "continue"
    tel = comparison(decision, "slice=telephone")
    assert tel["verdict"] == "regressed" and not tel["protected"] and tel["bound"] == 0.10
    # codec=pcm_mulaw holds the same recordings, so it regresses with it
    assert comparison(decision, "codec=pcm_mulaw")["verdict"] == "regressed"
    assert any(r.startswith("slice=telephone: wer +") and "unprotected" in r for r in decision.reasons)


def test_every_value_of_every_dimension_is_a_slice() -> None:
    decision = evaluate(better_overall_worse_on_telephone(), GatePolicy())
    labels = [c["slice"] for c in decision.comparisons if c["metric"] == "wer"]
    assert labels == [
        "all",
        "slice=meeting",
        "slice=telephone",
        "language=en",
        "codec=opus",
        "codec=pcm_mulaw",
        "snr_band=10-20",
        "snr_band=20-30",
        "tenant=acme",
    ]
    assert set(decision.slice_deltas) == set(labels)


def test_overall_regression_rolls_back_without_any_protected_slice() -> None:
    rng = np.random.default_rng(3)
    samples = draw(rng, "control", MEETING, 50, 0.15) + draw(rng, "candidate", MEETING, 50, 0.20)
    decision = evaluate(samples, GatePolicy(dimensions=[]))
    assert decision.decision == "rollback"
    assert decision.reasons[0].startswith("all: wer +") and "(bound +10%)" in decision.reasons[0]


def test_too_few_samples_pauses() -> None:
    rng = np.random.default_rng(5)
    samples = draw(rng, "control", MEETING, 3, 0.15) + draw(rng, "candidate", MEETING, 4, 0.15)
    decision = evaluate(samples, GatePolicy())
    assert decision.decision == "pause"
    assert decision.reasons == [
        "all: too few samples for wer (control 3, candidate 4; need 5 per arm) [protected]"
    ]
    record = comparison(decision, "all")
    assert record["verdict"] == "inconclusive" and record["p_value"] is None


def test_protected_slice_without_enough_traffic_pauses() -> None:
    samples = same_distribution()
    samples += [
        Sample("control", CONTROL, {"slice": "voicemail"}, 0.3),
        Sample("candidate", CANDIDATE, {"slice": "voicemail"}, 0.3),
    ]
    decision = evaluate(samples, GatePolicy(protected={"slice=voicemail": 0.05, "language=de": 0.05}))
    assert decision.decision == "pause"
    assert [r.split(":")[0] for r in decision.reasons] == ["slice=voicemail", "language=de"]
    # a protected label never observed is still judged (and is inconclusive)
    de = comparison(decision, "language=de")
    assert de["control_n"] == de["candidate_n"] == 0 and de["verdict"] == "inconclusive"
    assert "language=de" not in decision.slice_deltas


def test_privacy_error_rolls_back_regardless() -> None:
    samples = same_distribution()
    leak = next(i for i, s in enumerate(samples) if s.arm == "candidate")
    s = samples[leak]
    samples[leak] = Sample(s.arm, s.model, s.slice, s.wer, s.latency_s, privacy_errors=2)
    decision = evaluate(samples, GatePolicy())
    assert decision.decision == "rollback"
    assert decision.reasons[0].startswith("privacy: candidate output contains 2 privacy error(s) in 1 sample")


def test_privacy_error_rolls_back_even_with_too_few_samples() -> None:
    samples = [Sample("control", CONTROL, {}, 0.1), Sample("candidate", CANDIDATE, {}, 0.1, privacy_errors=1)]
    assert evaluate(samples, GatePolicy()).decision == "rollback"


def test_control_privacy_errors_do_not_roll_back_the_candidate() -> None:
    samples = same_distribution()
    s = samples[0]
    samples[0] = Sample(s.arm, s.model, s.slice, s.wer, s.latency_s, privacy_errors=1)
    assert evaluate(samples, GatePolicy()).decision == "continue"


def test_latency_regression_rolls_back() -> None:
    decision = evaluate(same_distribution(candidate_latency=(1.6, 0.3)), GatePolicy())
    assert decision.decision == "rollback"
    lat = comparison(decision, "all", "latency_s")
    assert lat["verdict"] == "regressed" and lat["relative_delta"] > 0.2 and lat["p_value"] < 0.05
    assert lat["candidate"] > lat["control"] > 1.0  # both are p95
    assert decision.reasons == [r for r in decision.reasons if r.startswith("all: p95 latency +")]


def test_latency_within_bound_continues() -> None:
    decision = evaluate(same_distribution(candidate_latency=(1.05, 0.3)), GatePolicy())
    assert decision.decision == "continue"
    assert comparison(decision, "all", "latency_s")["verdict"] == "ok"


def test_no_latency_no_latency_comparison() -> None:
    decision = evaluate(same_distribution(latency=None), GatePolicy())
    assert decision.decision == "continue"
    assert all(c["metric"] == "wer" for c in decision.comparisons)


def test_identical_distributions_continue() -> None:
    decision = evaluate(
        same_distribution(seed=0), GatePolicy(protected={"slice=telephone": 0.03, "slice=meeting": 0.03})
    )
    assert decision.decision == "continue"
    assert decision.reasons == []
    assert decision.reason == "no regression"


def test_false_rollback_rate_on_identical_distributions_is_about_alpha_per_acting_slice() -> None:
    """'all' and one protected slice act: under no difference at most ~2 alpha roll back."""
    policy = GatePolicy(protected={"slice=telephone": 0.03}, dimensions=["slice"])
    runs = 200
    rollbacks = sum(
        evaluate(same_distribution(seed=seed, latency=None), policy).decision == "rollback"
        for seed in range(runs)
    )
    assert rollbacks / runs <= 2 * policy.alpha


def test_identical_values_give_p_one_and_no_effect() -> None:
    test = mann_whitney_greater([0.0] * 10, [0.0] * 10)
    assert test.p_value == 1.0 and test.cliffs_delta == 0.0
    samples = [
        Sample(arm, CONTROL if arm == "control" else CANDIDATE, {}, 0.0)
        for arm in ("control", "candidate")
        for _ in range(10)
    ]
    decision = evaluate(samples, GatePolicy())
    assert decision.decision == "continue"
    assert comparison(decision, "all")["relative_delta"] == 0.0


def test_cliffs_delta_matches_its_definition() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(0.2, 0.05, 30), rng.normal(0.18, 0.05, 25)
    expected = float(np.mean(np.sign(x[:, None] - y[None, :])))
    assert mann_whitney_greater(x.tolist(), y.tolist()).cliffs_delta == pytest.approx(expected)


def test_tiny_absolute_deltas_on_near_zero_wer_do_not_trigger() -> None:
    rng = np.random.default_rng(9)
    samples = [Sample("control", CONTROL, MEETING, float(w)) for w in rng.uniform(0.0, 0.002, 50)] + [
        Sample("candidate", CANDIDATE, MEETING, float(w)) for w in rng.uniform(0.003, 0.006, 50)
    ]
    policy = GatePolicy(protected={"slice=meeting": 0.03})
    decision = evaluate(samples, policy)
    assert decision.decision == "continue"
    record = comparison(decision, "slice=meeting")
    assert record["relative_delta"] > 1.0 and record["effect_size"] == 1.0 and record["p_value"] < 1e-6
    assert record["verdict"] == "ok"
    # the floor is what keeps it quiet
    assert evaluate(samples, policy.model_copy(update={"abs_floor": 0.0})).decision == "rollback"


def test_zero_control_wer_gives_infinite_relative_delta_but_floor_holds() -> None:
    samples = [Sample("control", CONTROL, {}, 0.0) for _ in range(20)] + [
        Sample("candidate", CANDIDATE, {}, 0.001) for _ in range(20)
    ]
    decision = evaluate(samples, GatePolicy())
    assert comparison(decision, "all")["relative_delta"] == math.inf
    assert decision.decision == "continue"


def test_one_model_per_arm() -> None:
    samples = [*same_distribution(), Sample("candidate", "other@2", {}, 0.1)]
    with pytest.raises(ValueError, match="candidate arm mixes models"):
        evaluate(samples, GatePolicy())


def test_decision_names_the_models() -> None:
    decision = evaluate(same_distribution(), GatePolicy())
    assert (decision.control_model, decision.candidate_model) == (CONTROL, CANDIDATE)


def test_policy_validation() -> None:
    with pytest.raises(ValueError):
        GatePolicy(protected={"telephone": 0.03})
    with pytest.raises(ValueError):
        Sample("canary", CANDIDATE, {}, 0.1)
    assert GatePolicy(protected={"all": 0.02}).bound("all") == 0.02


def test_comparisons_and_deltas_fit_the_gate_decision_schema() -> None:
    decision = evaluate(
        better_overall_worse_on_telephone(),
        GatePolicy(protected={"slice=telephone": 0.03}),
        metric="wer_proxy",
    )
    model = {"name": "whisper", "version": "1", "sha256": "0" * 64}
    record = {
        "gate_id": "g1",
        "canary": model,
        "control": model,
        "decision": decision.decision,
        "slice_deltas": decision.slice_deltas,
        "reason": decision.reason,
        "produced_at_ms": 0,
        "reasons": decision.reasons,
        "slices": decision.comparisons,
    }
    schema = schemas.load("GateDecision")
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, record)
    buf.seek(0)
    back = fastavro.schemaless_reader(buf, schema)
    assert back["slices"][0]["metric"] == "wer_proxy"
    assert back["slice_deltas"] == pytest.approx(decision.slice_deltas)

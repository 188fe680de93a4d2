from __future__ import annotations

import itertools

import numpy as np
import pytest

from services.ingest.chunking import ChunkPlan, plan_chunks

SR = 16000


def assert_tiles(plans: list[ChunkPlan], duration_s: float) -> None:
    assert plans[0].keep_from_s == 0.0
    assert plans[-1].keep_until_s == pytest.approx(duration_s, abs=1e-9)
    for before, after in itertools.pairwise(plans):
        assert before.keep_until_s == after.keep_from_s  # exact: no gap, no overlap
    for plan in plans:
        assert plan.start_s <= plan.keep_from_s < plan.keep_until_s <= plan.end_s


def inside_any(t: float, spans: list[tuple[float, float]]) -> bool:
    return any(a <= t <= b for a, b in spans)


def test_when_audio_fits_in_one_chunk_then_one_plan_covers_it_without_vad(energy_vad):
    plans = plan_chunks(np.zeros(SR * 25, np.float32), SR, vad=energy_vad)
    assert plans == [ChunkPlan(0.0, 25.0, 0.0, 25.0)]
    assert energy_vad.calls == 0


def test_when_audio_is_empty_then_a_single_empty_plan_is_returned():
    assert plan_chunks(np.zeros(0, np.float32), SR) == [ChunkPlan(0.0, 0.0, 0.0, 0.0)]


def test_when_speech_has_pauses_then_every_boundary_is_inside_a_pause(kit, energy_vad):
    layout = [
        ("speech", 8.3),
        ("pause", 0.6),
        ("speech", 10.1),
        ("pause", 0.8),
        ("speech", 7.0),
        ("pause", 0.5),
        ("speech", 14.2),
        ("pause", 1.2),
        ("speech", 9.0),
        ("pause", 0.4),
        ("speech", 12.0),
    ]
    audio = kit.bursts(layout)
    pauses = kit.pause_spans(layout)
    plans = plan_chunks(audio, SR, vad=energy_vad)
    assert len(plans) > 1
    assert_tiles(plans, len(audio) / SR)
    for plan in plans[:-1]:
        assert inside_any(plan.keep_until_s, pauses), plan
    assert all(p.start_s == p.keep_from_s and p.end_s == p.keep_until_s for p in plans)
    assert all(p.duration_s <= 30.0 for p in plans)


def test_when_several_pauses_qualify_then_the_one_nearest_the_target_is_used(kit, energy_vad):
    layout = [
        ("speech", 5.0),
        ("pause", 0.5),
        ("speech", 14.5),
        ("pause", 0.5),
        ("speech", 6.0),
        ("pause", 0.5),
        ("speech", 20.0),
    ]
    plans = plan_chunks(kit.bursts(layout), SR, target_s=20.0, vad=energy_vad)
    assert 19.9 <= plans[0].keep_until_s <= 20.5  # the pause at 19.5-20.5, not 5.0 or 26.0


def test_when_speech_runs_past_max_without_pause_then_chunks_overlap_around_the_cut(kit):
    audio = kit.bursts([("speech", 75.0)])
    plans = plan_chunks(audio, SR, target_s=20.0, max_s=30.0, overlap_s=1.0, vad=lambda a, sr: [(0.0, 75.0)])
    assert_tiles(plans, 75.0)
    assert len(plans) >= 3
    for before, after in itertools.pairwise(plans):
        assert after.start_s == pytest.approx(after.keep_from_s - 1.0)
        assert before.end_s == pytest.approx(before.keep_until_s + 1.0)
    assert all(p.duration_s <= 30.0 + 1e-9 for p in plans)


def test_when_a_forced_cut_is_needed_then_it_lands_in_the_quietest_moment(kit):
    audio = kit.bursts([("speech", 60.0)])
    dip = int(24.3 * SR)
    audio[dip : dip + SR // 10] *= 0.01  # 100 ms the VAD does not report as a pause
    plans = plan_chunks(audio, SR, vad=lambda a, sr: [(0.0, 60.0)])
    assert 24.3 <= plans[0].keep_until_s <= 24.4


def test_when_audio_is_silent_then_chunks_are_cut_at_the_target(energy_vad):
    plans = plan_chunks(np.zeros(SR * 70, np.float32), SR, target_s=20.0, vad=energy_vad)
    assert [p.keep_until_s for p in plans] == [20.0, 40.0, 70.0]  # the last 30 s fit whole
    assert_tiles(plans, 70.0)


@pytest.mark.parametrize("seed", range(12))
def test_keep_windows_tile_and_payloads_fit_for_random_pause_patterns(seed):
    rng = np.random.default_rng(seed)
    duration = float(rng.uniform(31, 400))
    speech, t = [], 0.0
    while t < duration:
        length = float(rng.exponential(12.0))
        speech.append((t, min(duration, t + length)))
        t += length + float(rng.choice([0.0, rng.uniform(0.05, 2.0)]))
    audio = rng.standard_normal(int(duration * SR)).astype(np.float32) * 0.1
    target, max_s, overlap = float(rng.uniform(5, 25)), 30.0, float(rng.uniform(0, 2))
    target = min(target, max_s)
    plans = plan_chunks(
        audio, SR, target_s=target, max_s=max_s, overlap_s=overlap, vad=lambda a, sr, s=speech: s
    )
    assert_tiles(plans, len(audio) / SR)
    assert all(p.duration_s <= max_s + 1e-9 for p in plans)
    assert all(p.start_s >= 0 and p.end_s <= len(audio) / SR + 1e-9 for p in plans)


@pytest.mark.parametrize(("target", "max_s", "overlap"), [(31, 30, 1), (0, 30, 1), (20, 30, 8)])
def test_when_limits_contradict_then_planning_refuses(target, max_s, overlap):
    with pytest.raises(ValueError):
        plan_chunks(
            np.zeros(SR * 40, np.float32),
            SR,
            target_s=target,
            max_s=max_s,
            overlap_s=overlap,
            vad=lambda a, sr: [],
        )


@pytest.mark.slow
def test_silero_puts_boundaries_in_the_pauses_between_spoken_sentences(espeak):
    sentences = [
        "The committee met on a cold morning to discuss the budget for the coming year",
        "Several members argued that the library needed a new roof before anything else",
        "Others wanted to spend the money on books and longer opening hours for students",
        "After a long debate they agreed to split the funds between both projects",
        "The chairman thanked everyone and closed the meeting shortly before noon",
        "A short report will be sent to every household in the village next week",
        "Questions about the decision can be raised at the next public meeting",
    ]
    pieces, pauses, t = [], [], 0.0
    for sentence in sentences * 2:
        speech = espeak(sentence)
        pieces += [speech, np.zeros(int(0.8 * SR), np.float32)]
        t += len(speech) / SR
        pauses.append((t, t + 0.8))
        t += 0.8
    audio = np.concatenate(pieces)
    plans = plan_chunks(audio, SR)  # the real Silero VAD
    assert len(plans) >= 2
    assert_tiles(plans, len(audio) / SR)
    for plan in plans[:-1]:
        assert inside_any(plan.keep_until_s, pauses), plan

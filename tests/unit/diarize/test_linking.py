"""Linking window-local speakers into recording-wide speakers (fake embeddings)."""

from __future__ import annotations

import numpy as np

from services.diarize.linking import link_speakers

rng = np.random.default_rng(0)
BASE = {name: rng.standard_normal(64) for name in "abcd"}


def voice(name: str, noise: float = 0.1) -> np.ndarray:
    v = BASE[name] / np.linalg.norm(BASE[name])
    return (v + noise * rng.standard_normal(64) / 8).astype(np.float32)


def test_the_same_person_in_different_windows_gets_one_label():
    windows = [{"S0": voice("a"), "S1": voice("b")}, {"S0": voice("b"), "S1": voice("a")}, {"S0": voice("a")}]
    mapping = link_speakers(windows, threshold=0.4)
    assert mapping[0] == {"S0": 0, "S1": 1}
    assert mapping[1] == {"S0": 1, "S1": 0}
    assert mapping[2] == {"S0": 0}


def test_a_new_person_in_a_later_window_gets_a_new_label():
    windows = [{"S0": voice("a"), "S1": voice("b")}, {"S0": voice("c"), "S1": voice("a")}]
    mapping = link_speakers(windows, threshold=0.4)
    assert mapping[1] == {"S0": 2, "S1": 0}


def test_two_speakers_of_one_window_are_never_merged():
    same = voice("a")
    windows = [{"S0": same, "S1": same + 0.001}]
    assert link_speakers(windows, threshold=1.5) == [{"S0": 0, "S1": 1}]


def test_an_exact_speaker_count_forces_merges_beyond_the_threshold():
    windows = [{"S0": voice("a")}, {"S0": voice("b")}, {"S0": voice("c")}]
    assert len({m["S0"] for m in link_speakers(windows, threshold=0.1)}) == 3
    forced = link_speakers(windows, threshold=0.1, num_speakers=2)
    assert len({m["S0"] for m in forced}) == 2


def test_a_minimum_count_stops_merging_early():
    windows = [{"S0": voice("a")}, {"S0": voice("a")}, {"S0": voice("a")}]
    assert len({m["S0"] for m in link_speakers(windows, threshold=0.5)}) == 1
    kept = link_speakers(windows, threshold=0.5, min_speakers=2)
    assert len({m["S0"] for m in kept}) == 2


def test_a_speaker_without_centroid_stays_alone():
    windows = [{"S0": voice("a")}, {"S0": np.zeros(64, np.float32), "S1": voice("a")}]
    mapping = link_speakers(windows, threshold=0.4)
    assert mapping[1]["S1"] == mapping[0]["S0"]
    assert mapping[1]["S0"] not in (mapping[0]["S0"],)


def test_talk_time_weights_pull_the_group_centroid():
    heavy, light = voice("a"), voice("b")
    probe = 0.8 * heavy / np.linalg.norm(heavy) + 0.2 * light / np.linalg.norm(light)
    windows = [{"S0": heavy}, {"S0": light}, {"S0": probe}]
    mapping = link_speakers(windows, threshold=0.2, weights=[{"S0": 100.0}, {"S0": 1.0}, {"S0": 1.0}])
    assert mapping[2]["S0"] == mapping[0]["S0"]

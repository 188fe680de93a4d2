"""Diarize a spilled recording in windows so memory does not grow with its length.

A recording up to 1.5 x ``window_s`` is one window. Longer ones are cut about every
``window_s`` seconds, each cut moved to the quietest half second within ``search_s`` of its
nominal place (a cut through a word costs more than one through a pause). Each window is read
from the int16 spill file, diarized on its own, and its speakers are linked to the others by
centroid embedding (linking.py). Peak memory is one window's audio plus the pipeline's
per-window arrays, whatever the call length.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .assembly import SAMPLE_RATE as SR
from .linking import link_speakers
from .pipeline import WindowDiarization

MIN_WINDOW = SR // 2  # shorter audio holds no diarizable speech


class Reader(Protocol):
    def read(self, start: int, stop: int) -> np.ndarray: ...


Engine = Callable[..., WindowDiarization]


@dataclass(frozen=True)
class SpeakerHints:
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None

    @classmethod
    def from_avro(cls, hints: dict[str, Any] | None) -> SpeakerHints:
        hints = hints or {}

        def positive(key: str) -> int | None:
            value = hints.get(key)
            return int(value) if value is not None and int(value) > 0 else None

        num, low, high = positive("num_speakers"), positive("min_speakers"), positive("max_speakers")
        if low and high and low > high:
            low = high = None  # contradictory hints: let the model decide
        return cls(num, None if num else low, None if num else high)

    def as_params(self) -> dict[str, str]:
        return {f"hint.{k}": str(v) for k, v in self.__dict__.items() if v is not None}


class Downmix:
    """Average of several channel readers (for multi-channel audio diarized by model)."""

    def __init__(self, readers: list[Reader]) -> None:
        self.readers = readers

    def read(self, start: int, stop: int) -> np.ndarray:
        return np.mean([r.read(start, stop) for r in self.readers], axis=0).astype(np.float32)


def plan_windows(reader: Reader, num_samples: int, window_s: float, search_s: float) -> list[tuple[int, int]]:
    """Sample ranges covering [0, num_samples), each 0.5-1.5 x window_s long."""
    window = int(window_s * SR)
    if num_samples <= 1.5 * window:
        return [(0, num_samples)]
    cuts = [0]
    while num_samples - cuts[-1] > 1.5 * window:
        cuts.append(_quiet_point(reader, cuts[-1] + window, int(search_s * SR)))
    cuts.append(num_samples)
    return list(itertools.pairwise(cuts))


def _quiet_point(reader: Reader, nominal: int, search: int) -> int:
    if search <= 0:
        return nominal
    audio = reader.read(nominal - search, nominal + search)
    frame = SR // 10
    n = len(audio) // frame
    energy = np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1)
    smooth = np.convolve(energy, np.ones(5) / 5, mode="same")  # half-second average
    return nominal - search + int(np.argmin(smooth)) * frame + frame // 2


def diarize_windows(
    engine: Engine,
    reader: Reader,
    windows: list[tuple[int, int]],
    hints: SpeakerHints,
    link_threshold: float,
) -> list[tuple[float, float, str]]:
    """Turns (start_s, end_s, SPEAKER_xx) for the whole recording."""
    windows = [(a, b) for a, b in windows if b - a >= MIN_WINDOW]
    if not windows:
        return []
    if len(windows) == 1:
        start, stop = windows[0]
        result = engine(
            reader.read(start, stop),
            num_speakers=hints.num_speakers,
            min_speakers=hints.min_speakers,
            max_speakers=hints.max_speakers,
        )
        return _rename([(s + start / SR, e + start / SR, lab) for s, e, lab in result.turns])
    results = []
    for start, stop in windows:
        result = engine(reader.read(start, stop), max_speakers=hints.num_speakers or hints.max_speakers)
        results.append((start / SR, result))
    mapping = link_speakers(
        [_centroids(r) for _, r in results],
        link_threshold,
        weights=[_talk_time(r) for _, r in results],
        num_speakers=hints.num_speakers,
        min_speakers=hints.min_speakers,
        max_speakers=hints.max_speakers,
    )
    turns = []
    for (offset, result), local in zip(results, mapping, strict=True):
        for s, e, label in result.turns:
            turns.append((s + offset, e + offset, f"G{local.get(label, -1)}"))
    return _rename(_merge_adjacent(turns))


def _centroids(result: WindowDiarization) -> dict[str, np.ndarray]:
    labels = {lab for _, _, lab in result.turns}
    return {lab: result.centroids.get(lab, np.zeros(1, dtype=np.float32)) for lab in labels}


def _talk_time(result: WindowDiarization) -> dict[str, float]:
    out: dict[str, float] = {}
    for s, e, lab in result.turns:
        out[lab] = out.get(lab, 0.0) + (e - s)
    return out


def _merge_adjacent(
    turns: list[tuple[float, float, str]], gap: float = 0.05
) -> list[tuple[float, float, str]]:
    """Join a speaker's turn cut in two by a window boundary."""
    out: list[tuple[float, float, str]] = []
    last_of: dict[str, int] = {}
    for s, e, lab in sorted(turns):
        i = last_of.get(lab)
        if i is not None and s - out[i][1] <= gap:
            out[i] = (out[i][0], max(e, out[i][1]), lab)
            continue
        last_of[lab] = len(out)
        out.append((s, e, lab))
    return sorted(out)


def _rename(turns: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """SPEAKER_00, SPEAKER_01, ... in order of first appearance."""
    names: dict[str, str] = {}
    out = []
    for s, e, lab in sorted(turns):
        name = names.setdefault(lab, f"SPEAKER_{len(names):02d}")
        out.append((round(s, 3), round(e, 3), name))
    return out

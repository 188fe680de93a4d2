"""Link speaker labels of independently diarized windows into recording-wide speakers.

Long recordings are diarized in windows of a few minutes so memory stays flat; each window
names its speakers locally (SPEAKER_00 in window 3 is unrelated to SPEAKER_00 in window 4).
Every local speaker comes with a centroid embedding. Linking is greedy average-linkage
clustering of those centroids (cosine distance, weighted by talk time) with one constraint:
two speakers of the same window are never merged, since the window's own clustering already
decided they differ. Merging stops at ``threshold`` unless the speaker-count hints require more
or fewer merges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class _Group:
    vector: np.ndarray  # weighted sum of unit centroids
    weight: float
    windows: set[int]
    members: list[tuple[int, str]] = field(default_factory=list)

    def mean(self) -> np.ndarray:
        norm = float(np.linalg.norm(self.vector))
        return self.vector / norm if norm > 0 else self.vector


def link_speakers(
    windows: list[dict[str, np.ndarray]],
    threshold: float,
    weights: list[dict[str, float]] | None = None,
    num_speakers: int | None = None,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
) -> list[dict[str, int]]:
    """For each window, map local label -> global speaker index (0-based, first seen first)."""
    groups: list[_Group] = []
    loners: list[tuple[int, str]] = []
    for w, centroids in enumerate(windows):
        for label, vec in centroids.items():
            norm = float(np.linalg.norm(vec))
            if not np.all(np.isfinite(vec)) or norm == 0:
                loners.append((w, label))
                continue
            weight = (weights[w].get(label, 1.0) if weights else 1.0) or 1.0
            groups.append(_Group(vec / norm * weight, weight, {w}, [(w, label)]))
    low = num_speakers or min_speakers or 1
    high = num_speakers or max_speakers or None
    while len(groups) > 1:
        pair = _closest_pair(groups)
        if pair is None:
            break
        dist, i, j = pair
        too_many = high is not None and len(groups) > high
        if not too_many and (dist > threshold or len(groups) <= low):
            break
        merged = groups[i]
        other = groups.pop(j)
        merged.vector = merged.vector + other.vector
        merged.weight += other.weight
        merged.windows |= other.windows
        merged.members += other.members
    return _number(windows, groups, loners)


def _closest_pair(groups: list[_Group]) -> tuple[float, int, int] | None:
    means = np.stack([g.mean() for g in groups])
    dist = 1.0 - means @ means.T
    best: tuple[float, int, int] | None = None
    for i in range(len(groups)):
        for j in range(i + 1, len(groups)):
            if groups[i].windows & groups[j].windows:
                continue
            if best is None or dist[i, j] < best[0]:
                best = (float(dist[i, j]), i, j)
    return best


def _number(
    windows: list[dict[str, np.ndarray]],
    groups: list[_Group],
    loners: list[tuple[int, str]],
) -> list[dict[str, int]]:
    owner: dict[tuple[int, str], int] = {}
    for g_index, group in enumerate(groups):
        for member in group.members:
            owner[member] = g_index
    for k, member in enumerate(loners):
        owner[member] = len(groups) + k
    order: dict[int, int] = {}
    mapping: list[dict[str, int]] = []
    for w, centroids in enumerate(windows):
        local: dict[str, int] = {}
        for label in centroids:
            g = owner[(w, label)]
            local[label] = order.setdefault(g, len(order))
        mapping.append(local)
    return mapping

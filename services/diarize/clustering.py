"""Agglomerative clustering that chooses the number of speakers by silhouette.

Why: GE2E embeddings of short (<= 5 s) chunks are all-positive vectors in a narrow cone, and
how far apart two people land depends heavily on the channel. On pyannote's 2-speaker phone
sample the two speakers' centroids are only 0.12 apart (cosine), while different speakers in
the pocketsphinx recordings are 0.28-0.59 apart: no single distance threshold serves both, and
a threshold of 0.5 gave 3 speakers on the sample. The silhouette (how much closer each chunk is
to its own cluster than to the next one) is a ratio, so it carries across channels. For
``k = 2 .. max`` the dendrogram is cut at k clusters and scored; the best k wins if its
silhouette reaches ``min_silhouette``, otherwise the recording has one speaker. With an exact
speaker count (or min == max) pyannote's own logic runs unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_AUTO_SPEAKERS = 10


def silhouette(distances: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette coefficient from a square distance matrix (needs >= 2 clusters)."""
    clusters = np.unique(labels)
    if len(clusters) < 2:
        return -1.0
    n = len(labels)
    own = np.zeros(n)
    nearest = np.full(n, np.inf)
    for k in clusters:
        members = labels == k
        size = int(members.sum())
        mean_to_k = distances[:, members].sum(axis=1)
        own_mean = mean_to_k / max(size - 1, 1)
        other_mean = mean_to_k / size
        own[members] = own_mean[members]
        nearest[~members] = np.minimum(nearest[~members], other_mean[~members])
    sizes = np.array([np.sum(labels == k) for k in labels])
    score = (nearest - own) / np.maximum(np.maximum(nearest, own), 1e-12)
    score[sizes == 1] = 0.0
    return float(score.mean())


def choose_num_clusters(
    embeddings: np.ndarray,
    dendrogram: np.ndarray,
    min_clusters: int,
    max_clusters: int,
    min_cluster_size: int,
    min_silhouette: float,
) -> tuple[int, float]:
    """Best k by silhouette over the dendrogram cuts; (k, its silhouette)."""
    from scipy.cluster.hierarchy import fcluster

    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True).clip(1e-12)
    distances = np.clip(1.0 - unit @ unit.T, 0.0, 2.0)
    best_k, best_score = 1, -1.0
    upper = min(max_clusters, MAX_AUTO_SPEAKERS, len(embeddings))
    for k in range(max(2, min_clusters), upper + 1):
        labels = fcluster(dendrogram, k, criterion="maxclust")
        labels = _absorb_small(labels, unit, min_cluster_size)
        if len(np.unique(labels)) < k:
            continue
        score = silhouette(distances, labels)
        if score > best_score:
            best_k, best_score = k, score
    if best_score < min_silhouette and min_clusters <= 1:
        return 1, best_score
    return max(best_k, min_clusters), best_score


def _absorb_small(labels: np.ndarray, unit: np.ndarray, min_size: int) -> np.ndarray:
    """Move members of clusters smaller than min_size to the nearest large cluster."""
    ids, counts = np.unique(labels, return_counts=True)
    large = ids[counts >= min_size]
    if len(large) == 0 or len(large) == len(ids):
        return labels
    centroids = np.stack([unit[labels == k].mean(axis=0) for k in large])
    out = labels.copy()
    small = ~np.isin(labels, large)
    out[small] = large[np.argmax(unit[small] @ centroids.T, axis=1)]
    return out


def counting_clustering_class() -> type:
    """pyannote AgglomerativeClustering whose automatic count uses the silhouette."""
    from pyannote.audio.pipelines.clustering import AgglomerativeClustering
    from pyannote.pipeline.parameter import Uniform
    from scipy.cluster.hierarchy import linkage

    class SilhouetteAgglomerativeClustering(AgglomerativeClustering):
        def __init__(self, metric: str = "cosine") -> None:
            super().__init__(metric=metric)
            self.min_silhouette = Uniform(0.0, 1.0)
            self.last_silhouette: float | None = None

        def cluster(
            self,
            embeddings: np.ndarray,
            min_clusters: int | None = None,
            max_clusters: int | None = None,
            num_clusters: int | None = None,
        ) -> Any:
            n = len(embeddings)
            min_k = min_clusters or 1
            max_k = max_clusters or n
            if num_clusters is None and min_k != max_k and n > 2:
                unit = embeddings / np.linalg.norm(embeddings, axis=-1, keepdims=True)
                if self.method in ("centroid", "median", "ward"):
                    dendrogram = linkage(unit, method=self.method, metric="euclidean")
                else:
                    dendrogram = linkage(unit, method=self.method, metric=self.metric)
                size = min(self.min_cluster_size, max(1, round(0.1 * n)))
                num_clusters, self.last_silhouette = choose_num_clusters(
                    embeddings, dendrogram, min_k, max_k, size, self.min_silhouette
                )
                if num_clusters == 1:
                    return np.zeros((n,), dtype=np.int64)
            return super().cluster(
                embeddings, min_clusters=min_clusters, max_clusters=max_clusters,
                num_clusters=num_clusters,
            )

    return SilhouetteAgglomerativeClustering

"""Tune the offline pipeline's automatic speaker count on pocketsphinx-derived mixes.

Usage: python bench/diarize_tune.py [--quick]

Tuning data (see diarize_corpus.py): 13 conversations of 1-4 pseudo-speakers (real
pocketsphinx speakers shifted +-400 cents), clean and telephone-band. Segmentation and
embeddings are computed once per recording (pyannote's training cache), then every clustering
setting is scored on the cached embeddings. The held-out figures (pyannote's sample, the
unshifted three-speaker call) are printed for the chosen setting only: they are not used to
choose it.
"""

from __future__ import annotations

import argparse
import importlib.resources
import itertools
import os
import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import diarize_corpus as corpus


def annotation(turns):
    from pyannote.core import Annotation, Segment

    ann = Annotation()
    for start, end, label in turns:
        ann[Segment(start, end)] = label
    return ann


def sample_recording() -> corpus.Recording:
    base = importlib.resources.files("pyannote.audio").joinpath("sample")
    raw = base.joinpath("sample.wav").read_bytes()
    audio = np.frombuffer(raw[raw.index(b"data") + 8 :], dtype="<i2").astype(np.float32) / 32768
    turns = []
    for line in base.joinpath("sample.rttm").read_text().splitlines():
        parts = line.split()
        turns.append((float(parts[3]), float(parts[3]) + float(parts[4]), parts[7]))
    return corpus.Recording(uri="pyannote_sample", audio=audio, turns=turns)


def der(reference, hypothesis, collar=0.0) -> float:
    from pyannote.metrics.diarization import DiarizationErrorRate

    return float(DiarizationErrorRate(collar=collar)(reference, hypothesis))


def main() -> None:
    import torch

    from services.diarize.config import DiarizeSettings
    from services.diarize.pipeline import build_engine

    parser = argparse.ArgumentParser()
    parser.add_argument("--step", type=float, default=0.2)
    parser.add_argument("--cache", type=Path, default=Path(".cache/diarize-tune"))
    args = parser.parse_args()

    engine = build_engine(DiarizeSettings(segmentation_step=args.step))
    pipe = engine.pipeline
    pipe.training = True  # keep segmentation + embeddings cached in each file dict
    args.cache.mkdir(parents=True, exist_ok=True)
    files = []
    hinted = []
    for rec in corpus.tuning_set():
        f = {"waveform": torch.from_numpy(rec.audio)[None], "sample_rate": 16000, "uri": rec.uri}
        cached = args.cache / f"{rec.uri}-step{args.step}.pkl"
        if cached.exists():
            f.update(pickle.loads(cached.read_bytes()))
        hyp = pipe(f, num_speakers=len({t[2] for t in rec.turns})).speaker_diarization
        hinted.append(der(annotation(rec.turns), hyp))
        cached.write_bytes(pickle.dumps({k: v for k, v in f.items() if "training_cache" in k}))
        files.append((rec, f))
        print(f"{rec.uri} {rec.duration:.0f}s hinted DER {hinted[-1]:.3f}", flush=True)
    print(f"mean hinted DER at step {args.step}: {np.mean(hinted):.4f}")

    grid = itertools.product(["centroid"], [0.6], [3, 6, 12],
                             [0.0, 0.04, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3])
    results = []
    for method, thr, mcs, sil in grid:
        pipe.instantiate({"clustering": {"method": method, "threshold": thr,
                                         "min_cluster_size": mcs, "min_silhouette": sil}})
        ders, right = [], 0
        for rec, f in files:
            hyp = pipe(f).speaker_diarization
            ders.append(der(annotation(rec.turns), hyp))
            right += len(hyp.labels()) == len({t[2] for t in rec.turns})
        results.append((float(np.mean(ders)), -right, method, thr, mcs, sil))
    results.sort()
    print("mean_DER  count_ok  method  threshold  min_cluster_size  min_silhouette")
    for mean_der, neg_ok, method, thr, mcs, sil in results[:12]:
        print(f"{mean_der:.4f}  {-neg_ok}/{len(files)}  {method}  {thr}  {mcs}  {sil}")


if __name__ == "__main__":
    main()

"""Tune the offline pipeline's automatic speaker count on pocketsphinx-derived mixes.

Usage: python bench/diarize_tune.py [--step 0.1] [--max-frames 300] [--skip-grid] [--calls DIR]

Tuning data (see diarize_corpus.py): 13 conversations of 1-4 pseudo-speakers (real
pocketsphinx speakers shifted +-400 cents), clean and telephone-band. Segmentation and
embeddings are computed once per recording (pyannote's training cache), then every clustering
setting is scored on the cached embeddings. Neither held-out recording (pyannote's sample, the
unshifted three-speaker call) is used here: bench/diarize_bench.py reports them. With
``--calls DIR`` the same search runs on labelled recordings of your own (NAME.wav + NAME.rttm).
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    import torch

    from services.diarize.config import DiarizeSettings
    from services.diarize.pipeline import build_engine

    parser = argparse.ArgumentParser()
    parser.add_argument("--step", type=float, default=DiarizeSettings().segmentation_step)
    parser.add_argument("--max-frames", type=int, default=DiarizeSettings().embedding_max_frames)
    parser.add_argument("--cache", type=Path, default=Path(".cache/diarize-tune"))
    parser.add_argument("--skip-grid", action="store_true")
    parser.add_argument(
        "--calls", type=Path, help="tune on your own calls: a folder of NAME.wav + NAME.rttm pairs"
    )
    args = parser.parse_args()

    settings = DiarizeSettings(segmentation_step=args.step, embedding_max_frames=args.max_frames)
    pipe = build_engine(settings).pipeline
    pipe.training = True  # keep segmentation + embeddings cached in each file dict
    args.cache.mkdir(parents=True, exist_ok=True)
    tag = f"step{args.step}-max{args.max_frames}"
    files = []
    recordings = labelled_calls(args.calls) if args.calls else corpus.tuning_set()
    for rec in recordings:
        f = {"waveform": torch.from_numpy(rec.audio)[None], "sample_rate": 16000, "uri": rec.uri}
        cached = args.cache / f"{rec.uri}-{tag}.pkl"
        if cached.exists():
            f.update(pickle.loads(cached.read_bytes()))
        pipe(f, num_speakers=n_speakers(rec))
        cached.write_bytes(pickle.dumps({k: v for k, v in f.items() if "training_cache" in k}))
        files.append((rec, f))
        print(f"cached {rec.uri} {rec.duration:.0f}s", flush=True)

    hinted = [
        corpus.der(rec.turns, pipe(f, num_speakers=n_speakers(rec)).speaker_diarization) for rec, f in files
    ]
    print(f"[{tag}] mean DER with the true speaker count: {np.mean(hinted):.4f}")
    linking_distances(pipe, files)
    if args.skip_grid:
        return
    grid = itertools.product(["average", "centroid"], np.arange(0.4, 0.96, 0.05), [3, 6, 12])
    results = []
    for method, thr, mcs in grid:
        pipe.instantiate(
            {"clustering": {"method": method, "threshold": round(float(thr), 2), "min_cluster_size": mcs}}
        )
        ders, right = [], 0
        for rec, f in files:
            hyp = pipe(f).speaker_diarization
            ders.append(corpus.der(rec.turns, hyp))
            right += len(hyp.labels()) == n_speakers(rec)
        results.append((-right, float(np.mean(ders)), method, round(float(thr), 2), mcs))
    results.sort()
    print("count_ok  mean_DER(auto)  method  threshold  min_cluster_size")
    for neg_ok, mean_der, method, thr, mcs in results[:20]:
        print(f"{-neg_ok}/{len(files)}  {mean_der:.4f}  {method}  {thr}  {mcs}")


def labelled_calls(folder: Path) -> list[corpus.Recording]:
    """NAME.wav (any rate, channels downmixed) with NAME.rttm beside it, resampled to 16 kHz."""
    import soundfile
    import torch
    import torchaudio.functional

    recs = []
    for wav in sorted(folder.glob("*.wav")):
        rttm = wav.with_suffix(".rttm")
        if not rttm.exists():
            print(f"skipped {wav.name}: no {rttm.name}")
            continue
        audio, rate = soundfile.read(wav, dtype="float32", always_2d=True)
        mono = torch.from_numpy(audio.mean(axis=1))
        if rate != corpus.SR:
            mono = torchaudio.functional.resample(mono, rate, corpus.SR)
        turns = corpus.read_rttm(rttm.read_text())
        recs.append(corpus.Recording(uri=wav.stem, audio=mono.numpy(), turns=turns))
    if not recs:
        raise SystemExit(f"no NAME.wav + NAME.rttm pairs in {folder}")
    return recs


def n_speakers(rec: corpus.Recording) -> int:
    return len({t[2] for t in rec.turns})


def linking_distances(pipe, files) -> None:
    """What window linking compares: speaker centroids of the two halves of one recording.

    Each (chunk, local speaker) embedding is labelled with the reference speaker covering most
    of its active frames (>= 90% purity); centroids are taken per half and per speaker.
    """
    from pyannote.audio.utils.signal import binarize

    frames = pipe._segmentation.model.receptive_field
    same, diff = [], []
    for rec, f in files:
        ref = corpus.annotation(rec.turns)
        binary = binarize(f["training_cache/segmentation"], onset=0.5, initial_state=False)
        emb = f["training_cache/embeddings"]["embeddings"]
        groups: dict[tuple[int, str], list[np.ndarray]] = {}
        for c, (chunk, masks) in enumerate(binary):
            for s in range(masks.shape[1]):
                label = _majority(ref, chunk.start, masks[:, s], frames)
                if label and np.all(np.isfinite(emb[c, s])):
                    half = int(chunk.middle > rec.duration / 2)
                    groups.setdefault((half, label), []).append(emb[c, s])
        cents = {
            k: np.mean(v, axis=0) / np.linalg.norm(np.mean(v, axis=0))
            for k, v in groups.items()
            if len(v) >= 3
        }
        for (h1, s1), a in cents.items():
            for (h2, s2), b in cents.items():
                if h1 == 0 and h2 == 1:
                    (same if s1 == s2 else diff).append(float(1 - a @ b))
    print(
        f"linking (half vs half): same person max {max(same):.3f} mean {np.mean(same):.3f}"
        f" ({len(same)}); different min {min(diff):.3f} mean {np.mean(diff):.3f} ({len(diff)})"
    )


def _majority(ref, start: float, mask: np.ndarray, frames) -> str | None:
    from pyannote.core import Segment

    active = np.where(mask > 0)[0]
    if len(active) < 0.2 * len(mask):
        return None
    votes: dict[str, int] = {}
    for i in active:
        t = start + frames[i].middle
        for label in ref.crop(Segment(t, t + 0.01)).labels():
            votes[label] = votes.get(label, 0) + 1
    if not votes:
        return None
    best = max(votes, key=votes.get)
    return best if votes[best] >= 0.9 * len(active) else None


if __name__ == "__main__":
    main()

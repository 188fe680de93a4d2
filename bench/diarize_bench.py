"""Diarization benchmark: accuracy (DER), speed (RTF) and memory (peak RSS) in one run.

Usage: python bench/diarize_bench.py [--skip-memory] [--long-min 30] [--short-min 5]

* DER on pyannote's sample (30 s phone call, 2 speakers; shipped in the pyannote.audio wheel)
  with the speaker count given and automatic, at collar 0 and at the NIST +-0.25 s collar
  (``collar=0.5`` in pyannote.metrics, which takes the collar's total width).
* DER of a ~90 s three-speaker conversation assembled from the three real speakers in Debian's
  pocketsphinx-testdata, its RTTM written while assembling it (diarize_corpus.py).
* Peak RSS of the service path (AudioChunk dicts -> DiarizeWorker -> SpeakerTurns) on a
  ``--long-min`` and a ``--short-min`` minute recording, each in its own subprocess
  (``ru_maxrss``), audio read from a raw file in 30 s chunks so the feeder holds no full copy.
  The same runs give the real-time factor and the DER of windowed diarization on a long call.

None of these recordings was used to tune the pipeline (diarize_tune.py tunes on pitch-shifted
pseudo-speakers).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import diarize_corpus as corpus  # noqa: E402

SR = 16000
CHUNK_S, OVERLAP_S = 30.0, 1.0


def accuracy() -> None:
    from services.diarize.config import DiarizeSettings
    from services.diarize.pipeline import build_engine
    from services.diarize.windows import SpeakerHints, diarize_windows

    engine = build_engine(DiarizeSettings())
    print(f"pipeline: {engine.info.name}  device: {engine.info.device}")
    print("params:", json.dumps(engine.info.params, sort_keys=True))
    recordings = [corpus.sample_recording()]
    if corpus.available():
        recordings.append(corpus.three_speaker_call())
    print("recording            speakers  hint   found  DER(collar 0)  DER(NIST +-0.25s)  RTF")
    for rec in recordings:
        truth = len({t[2] for t in rec.turns})
        for hint in (truth, None):
            reader = _ArrayReader(rec.audio)
            started = time.perf_counter()
            turns = diarize_windows(
                engine, reader, [(0, len(rec.audio))], SpeakerHints(num_speakers=hint), 0.3
            )
            rtf = (time.perf_counter() - started) / rec.duration
            hyp, ref = corpus.annotation(turns), corpus.annotation(rec.turns)
            print(
                f"{rec.uri:20s} {truth:8d}  {hint or 'auto':>5}  {len(hyp.labels()):5d}"
                f"  {corpus.der(ref, hyp):13.4f}  {corpus.der(ref, hyp, collar=0.5):17.4f}  {rtf:.3f}"
            )


class _ArrayReader:
    def __init__(self, audio: np.ndarray) -> None:
        self.audio = audio

    def read(self, start: int, stop: int) -> np.ndarray:
        return self.audio[start:stop]


def memory(long_min: float, short_min: float) -> None:
    if not corpus.available():
        print("memory: pocketsphinx-testdata not installed, skipped")
        return
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in (short_min, long_min):
            rec = corpus.conversation(
                corpus.real_voices(), minutes * 60, seed=int(minutes), uri=f"call_{minutes:g}min"
            )
            raw, rttm = Path(tmp) / f"{rec.uri}.s16", Path(tmp) / f"{rec.uri}.rttm"
            (np.clip(rec.audio, -1, 1) * 32767).astype("<i2").tofile(raw)
            rttm.write_text(rec.rttm())
            del rec
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(raw), str(rttm)],
                capture_output=True,
                text=True,
                check=True,
            )
            runs[minutes] = json.loads(out.stdout.strip().splitlines()[-1])
            r = runs[minutes]
            print(
                f"{minutes:g} min: peak RSS {r['maxrss_mb']:.0f} MB, windows {r['windows']}, "
                f"speakers {r['num_speakers']}, DER {r['der']:.4f} (collar 0), "
                f"RTF {r['rtf']:.3f} wall / {r['cpu_rtf']:.3f} CPU-s per audio-s"
            )
    ratio = runs[long_min]["maxrss_mb"] / runs[short_min]["maxrss_mb"]
    print(f"peak RSS ratio {long_min:g} min / {short_min:g} min: {ratio:.3f}")


def child(raw: Path, rttm: Path) -> None:
    """One recording through the service path; prints one JSON line."""
    from services.diarize.config import DiarizeSettings
    from services.diarize.worker import DiarizeWorker

    n = raw.stat().st_size // 2
    with tempfile.TemporaryDirectory() as state:
        worker = DiarizeWorker(DiarizeSettings(state_dir=Path(state)))
        _ = worker.engine  # load the model before timing
        step = int((CHUNK_S - OVERLAP_S) * SR)
        starts = list(range(0, n, step))
        cpu0 = time.process_time()
        events = []
        for seq, start in enumerate(starts):
            stop = min(n, start + int(CHUNK_S * SR))
            pcm = np.fromfile(raw, dtype="<i2", count=stop - start, offset=2 * start)
            keep_from = start + (int(OVERLAP_S * SR) // 2 if seq else 0)
            keep_until = stop if seq == len(starts) - 1 else start + step + int(OVERLAP_S * SR) // 2
            events += worker.handle_chunk(
                {
                    "recording_id": raw.stem,
                    "trace_id": "0" * 32,
                    "seq": seq,
                    "is_last": seq == len(starts) - 1,
                    "chunk_count": len(starts),
                    "channel": 0,
                    "start_s": start / SR,
                    "keep_from_s": keep_from / SR,
                    "keep_until_s": keep_until / SR,
                    "pcm": pcm.tobytes(),
                    "hints": {"num_speakers": None},
                }
            )
        cpu = time.process_time() - cpu0
    (event,) = events
    turns = [(t["start_s"], t["end_s"], t["speaker"]) for t in event["turns"]]
    ref = corpus.read_rttm(rttm.read_text())
    print(
        json.dumps(
            {
                "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "windows": int(event["pipeline_params"]["windows"]),
                "num_speakers": event["num_speakers"],
                "der": corpus.der(ref, turns),
                "rtf": event["rtf"],
                "cpu_rtf": cpu / event["audio_duration_s"],
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=2, type=Path)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--long-min", type=float, default=30.0)
    parser.add_argument("--short-min", type=float, default=5.0)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if not args.skip_accuracy:
        accuracy()
    if not args.skip_memory:
        memory(args.long_min, args.short_min)


if __name__ == "__main__":
    main()

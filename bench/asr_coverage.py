"""Speech coverage under shifted cut points: does any chunk lose speech silently?

A single-pass decode of one chunk can end at its first sentence depending on where the chunk
was cut (a 0.1 s shift flips it), so one chunk plan proves little. This sweeps the cut points:
for each real recording (pyannote's sample call, Debian's LibriVox sentences and cards
recordings joined into calls, an espeak-ng call) and each chunk length, the chunk grid is
shifted in ``--step`` steps; every chunk is decoded by the ASR worker twice,

* ``single``: one batched pass, no re-decode (what the worker did before coverage);
* ``recovered``: the default worker (gaps re-decoded; no fallback model, to isolate that),

and the script prints, per variant, the chunks with at least 2 s of speech that fall under
0.9 coverage, the worst coverage, how many chunks needed a re-decode, and the WER of each
recording assembled from its chunks (min-max over the shifts). CTranslate2 reads
``CT2_FORCE_CPU_ISA`` at import, so compare ISAs by running the script once per value.

    python bench/asr_coverage.py [--model tiny.en] [--threads 1 2] [--lengths 8 12 20]
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asr_direct
from asr_direct import SR, Recording

from mesh.textnorm import word_error_rate
from services.asr.config import AsrSettings
from services.asr.coverage import CoverageSettings
from services.asr.factory import build_engine
from services.asr.worker import AsrWorker, ChunkJob
from services.ingest.chunking import ChunkPlan

CARDS = Path("/usr/share/pocketsphinx/test/data/cards")
ESPEAK_CALL = (
    "Good afternoon, you are through to the billing team. How can I help you today? "
    "Hi, I was charged twice for my subscription this month and I would like a refund. "
    "I am sorry to hear that. Let me pull up your account and look at the last statement. "
    "I can see both charges now, and I have started the refund for the second one. "
    "It should reach your account within five working days. Is there anything else? "
    "No, that was all, thank you very much for your help. Have a good day."
)


def corpus() -> list[Recording]:
    recs = asr_direct.recordings()
    call, libri = recs[0], recs[1:]
    out = [call, join("librivox", libri)]
    if CARDS.is_dir():
        out.append(join("cards", cards()))
    out.append(espeak_call())
    return out


def join(name: str, parts: list[Recording], pause_s: float = 0.6) -> Recording:
    gap = np.zeros(round(pause_s * SR), dtype=np.float32)
    audio = np.concatenate([x for p in parts for x in (p.audio, gap)])
    return Recording(name, audio, " ".join(p.reference for p in parts))


def cards() -> list[Recording]:
    lines = (CARDS / "cards.transcription").read_text().splitlines()
    out = []
    for line in lines:
        text, name = line.rsplit("(", 1)
        words = text.replace("<s>", "").replace("</s>", "").split()
        out.append(
            Recording(
                name.strip(" )"), asr_direct.read_wav(CARDS / f"{name.strip(' )')}.wav"), " ".join(words)
            )
        )
    return out


def espeak_call() -> Recording:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "call.wav"
        subprocess.run(["espeak-ng", "-s", "160", "-w", str(wav), ESPEAK_CALL], check=True)
        raw = Path(tmp) / "call16k.wav"
        subprocess.run(["sox", str(wav), "-r", "16000", "-c", "1", "-b", "16", str(raw)], check=True)
        return Recording("espeak_call", asr_direct.read_wav(raw), ESPEAK_CALL)


def shifted_jobs(rec: Recording, length_s: float, shift_s: float, tag: str) -> list[ChunkJob]:
    """Chunks of ``length_s`` with 1 s overlaps, the grid moved by ``shift_s``; keep windows
    tile the recording as ingest's do."""
    duration, step = len(rec.audio) / SR, length_s - 2.0
    cuts = [0.0, *np.arange(shift_s + step, duration - 1.0, step).tolist(), duration]
    plans = [
        ChunkPlan(max(0.0, keep_from - 1.0), min(duration, keep_until + 1.0), keep_from, keep_until)
        for keep_from, keep_until in itertools.pairwise(cuts)
    ]
    return asr_direct.jobs_for(rec, f"{rec.name}-{tag}", 0, plans)


def run(worker: AsrWorker, jobs: list[ChunkJob], batch: int) -> list[dict]:
    events: list[dict] = []
    for i in range(0, len(jobs), batch):
        for result in worker.transcribe(jobs[i : i + batch]):
            if isinstance(result, Exception):
                raise result
            events.append(result)
    return events


def text_of(events: list[dict], rid: str) -> str:
    mine = sorted((e for e in events if e["recording_id"] == rid), key=lambda e: e["seq"])
    return " ".join(w["word"] for e in mine for s in e["segments"] for w in s["words"])


def sweep(
    engine, recs: list[Recording], lengths: list[float], shifts: list[float], batch: int, show: bool
) -> None:
    variants = {"single": CoverageSettings(redecode_passes=0), "recovered": CoverageSettings()}
    for label, cov in variants.items():
        worker = AsrWorker(engine, settings=AsrSettings(fallback_model=None, coverage=cov), pool="batch")
        started = time.perf_counter()
        chunks = low = redecoded = 0
        worst = 1.0
        wers: dict[str, list[float]] = {r.name: [] for r in recs}
        for length in lengths:
            for shift in shifts:
                tag = f"{length:g}-{shift:.2f}"
                jobs = [j for r in recs for j in shifted_jobs(r, length, shift, tag)]
                events = run(worker, jobs, batch)
                for e in events:
                    if e["speech_s"] >= 2.0 and e["speech_coverage"] is not None:
                        chunks += 1
                        worst = min(worst, e["speech_coverage"])
                        low += e["speech_coverage"] < 0.9
                        if show and e["speech_coverage"] < 0.9:
                            print(
                                f"{'':10s} {e['recording_id']} chunk {e['seq']} at "
                                f"{e['start_s']:.2f}+{e['duration_s']:.2f} s: coverage "
                                f"{e['speech_coverage']:.3f} of {e['speech_s']:.1f} s: "
                                f"{' '.join(sg['text'] for sg in e['segments'])[:90]}"
                            )
                    redecoded += e["redecodes"] > 0
                for r in recs:
                    wers[r.name].append(word_error_rate([r.reference], [text_of(events, f"{r.name}-{tag}")]))
        seconds = time.perf_counter() - started
        print(
            f"{label:10s} chunks >= 2 s speech: {chunks:4d}  under 0.9 coverage: {low:3d}  "
            f"worst coverage {worst:.3f}  chunks re-decoded: {redecoded:3d}  ({seconds:.0f} s)"
        )
        for name, values in wers.items():
            print(
                f"{'':10s} WER {name:12s} {min(values):.3f}-{max(values):.3f} "
                f"(mean {np.mean(values):.3f}, {len(values)} plans)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--lengths", type=float, nargs="+", default=[8.0, 12.0, 20.0])
    parser.add_argument("--step", type=float, default=0.2, help="shift of the cut grid (s)")
    parser.add_argument("--shifts", type=int, default=5, help="number of shifted grids")
    parser.add_argument(
        "--first-shift",
        type=float,
        default=0.0,
        help="shift of the first grid (s); 0.1 gives grids the defaults never cut",
    )
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--show", action="store_true", help="print every chunk under 0.9")
    args = parser.parse_args()
    recs = corpus()
    shifts = [round(args.first_shift + i * args.step, 3) for i in range(args.shifts)]
    print(
        f"model {args.model}; CT2_FORCE_CPU_ISA={os.environ.get('CT2_FORCE_CPU_ISA', '(auto)')}; "
        f"{len(recs)} recordings, {sum(r.seconds for r in recs):.0f} s; chunk lengths "
        f"{args.lengths} s, grid shifts {shifts} s"
    )
    for threads in args.threads:
        engine = build_engine(args.model, AsrSettings(cpu_threads=threads))
        print(f"-- cpu_threads {threads}")
        sweep(engine, recs, args.lengths, shifts, args.batch, args.show)


if __name__ == "__main__":
    main()

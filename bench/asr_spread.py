"""How far WER moves when only the machine changes: ISA, thread count and batch composition.

int8 kernels differ between CPUs, and CTranslate2's results depend on the thread count and on
which chunks share a batch, so the same audio can lose or gain a word or two. Tests that
assert a WER need a bound with headroom over this spread. The scenarios are those of the
real-model tests (``tests/unit/asr/test_real_model.py``) and of the end-to-end transcript
test: LibriVox's five sentences as one batch, and pyannote's sample call in the chunk plans
ingest makes (one 30 s chunk; 10 s target, 12 s max). Each is decoded with cpu_threads 1 and
2 and in batches of 1, 4 and 8 chunks; the script re-runs itself under each
``CT2_FORCE_CPU_ISA`` value given (the variable is read when CTranslate2 loads).

    python bench/asr_spread.py [--model tiny.en] [--isa AVX2 AVX512]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asr_direct

from mesh.textnorm import word_error_rate
from services.asr.config import AsrSettings
from services.asr.factory import build_engine
from services.asr.worker import AsrWorker

PLANS = {"call 30 s chunk": (30.0, 30.0), "call 10-12 s chunks": (10.0, 12.0)}


def measure(model: str) -> dict[str, float]:
    recs = asr_direct.recordings()
    call, libri = recs[0], recs[1:]
    out: dict[str, float] = {}
    for threads in (1, 2):
        engine = build_engine(model, AsrSettings(cpu_threads=threads))
        worker = AsrWorker(engine, settings=AsrSettings(fallback_model=None), pool="batch")
        for batch in (1, 4, 8):
            variant = f"threads {threads}, batch {batch}"
            jobs = [j for i, r in enumerate(libri) for j in asr_direct.chunk_jobs(r, i, 30, 30)]
            texts = asr_direct.run_worker(worker, jobs, batch)
            hyps = [texts[f"{r.name}-{i}"] for i, r in enumerate(libri)]
            out[f"librivox sentences | {variant}"] = word_error_rate([r.reference for r in libri], hyps)
            for label, (target, max_s) in PLANS.items():
                texts = asr_direct.run_worker(worker, asr_direct.chunk_jobs(call, 0, target, max_s), batch)
                out[f"{label} | {variant}"] = word_error_rate([call.reference], [texts[f"{call.name}-0"]])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--isa", nargs="*", default=["AVX2", "AVX512"])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.model)))
        return
    rows: dict[str, dict[str, float]] = {}
    for isa in args.isa or ["(auto)"]:
        env = dict(os.environ) if isa == "(auto)" else {**os.environ, "CT2_FORCE_CPU_ISA": isa}
        done = subprocess.run(
            [sys.executable, __file__, "--child", "--model", args.model],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        for key, wer in json.loads(done.stdout.splitlines()[-1]).items():
            rows.setdefault(key.split(" | ")[0], {})[f"{isa} | {key.split(' | ')[1]}"] = wer
    print(f"model {args.model}; ISAs {args.isa}; {os.cpu_count()} CPUs")
    for scenario, values in rows.items():
        low, high = min(values.values()), max(values.values())
        print(f"{scenario:22s} WER {low:.3f}-{high:.3f} over {len(values)} variants")
        for variant, wer in sorted(values.items(), key=lambda kv: kv[1]):
            print(f"    {wer:.3f}  {variant}")


if __name__ == "__main__":
    main()

"""Golden-set WER per slice: the control ASR configuration against rollout candidates.

Finds (and documents) candidate configurations for rollout-gate tests: for each slice of the
golden set (``services.quality.golden.corpus``) it measures the true WER of the control arm
(``--control``, tiny.en by default) and of each ``--candidate`` configuration, so one can see
which candidate is better on average but worse on a protected slice.

Everything goes through the code the services run:

* each golden file is read by ingest's ``IngestWorker`` (PyAV decode to 16 kHz, so the
  telephone slice's 8 kHz mu-law WAVs are resampled as in production; chunk plan, AudioStats,
  hints); the items are under 30 s, so each is one chunk whose keep window is the whole file;
* every chunk carries ``hints.arm`` (the golden-run override of the rollout router), and an
  in-process ``AsrWorker`` (pool ``batch``, decoding ``--batch`` chunks per call in manifest
  order, the same batches for every configuration) built by the service's own factory from
  ``STT_ASR_*`` variables: for a candidate, exactly the variables printed for it
  (``STT_ASR_MODEL`` = control, ``STT_ASR_ROLLOUT__CANDIDATE_MODEL``, ``..._DECODE__*``,
  ``..._VAD__*``), so what is measured is what a deployment with those variables decodes,
  guards, speech-coverage re-decoding and the fallback model included (note: with the control
  model tiny.en and the default ``fallback_model`` tiny.en the worker has no fallback);
  any ``STT_ASR_*`` already in the environment is ignored.

A candidate is ``MODEL[:OPTION=VALUE,...]``: options are DecodeOptions fields
(``beam_size=1``, ``log_prob_threshold=-0.5``, ``temperatures=0.0/0.2``: ``/`` separates the
items of a tuple, ``none`` is None); ``vad_filter``, ``vad_threshold``, ``vad_min_silence_ms``
and ``vad_pad_ms`` become the candidate's VAD overrides.

Printed per slice and configuration: items, mean of the per-item WERs (``mesh.textnorm``),
pooled WER (all errors over all reference words), the relative delta of the mean against
control, and the rollout gate's statistics on the per-item WERs (one-sided Mann-Whitney p and
Cliff's delta, as ``services.quality.gates`` computes them; unpaired, like the gate), plus a
one-sided paired Wilcoxon p and the items worse/better than control for reference; then the
overall row (every item of the slices; with ``multilingual`` among them, also one of the
English items alone) and the gate's decision (``gates.evaluate`` with the
slices of ``--protect`` protected). Speech items only; the split is ``tune`` unless
``--split heldout``.

    python bench/golden_candidates.py --threads 2 \\
        --candidate base --candidate 'base:vad_threshold=0.8'
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from mesh.textnorm import word_error_rate
from services.asr.config import AsrSettings, VadOverrides
from services.asr.decode import DecodeOptions
from services.asr.worker import AsrWorker, ChunkJob
from services.ingest.events import IngestRequest, make_hints
from services.ingest.worker import IngestWorker
from services.quality import gates
from services.quality.golden.corpus import GoldenItem, build

DEFAULT_SLICES = ("clean", "telephone", "noise_10db", "noise_5db", "farfield", "fast")
_DECODE_FIELDS = {f.name: f for f in fields(DecodeOptions)}
_VAD_KEYS = {f"vad_{name}": name for name in VadOverrides.model_fields}


@dataclass(frozen=True)
class Config:
    """One arm to measure: its label, its ``STT_ASR_*`` variables and which arm it decodes."""

    label: str
    env: dict[str, str]
    arm: str  # "control" or "candidate"


def parse_value(text: str) -> Any:
    if text.lower() in ("none", "null"):
        return None
    if "/" in text:
        return [parse_value(part) for part in text.split("/") if part]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def candidate_env(spec: str, control: str) -> dict[str, str]:
    """The ``STT_ASR_*`` variables of a deployment whose rollout candidate is ``spec``."""
    model, _, rest = spec.partition(":")
    env = {"STT_ASR_MODEL": control, "STT_ASR_ROLLOUT__CANDIDATE_MODEL": model}
    decode: dict[str, Any] = {}
    for pair in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep:
            raise SystemExit(f"candidate {spec!r}: {pair!r} is not OPTION=VALUE")
        if key not in _DECODE_FIELDS:
            raise SystemExit(
                f"candidate {spec!r}: {key!r} is not a decode option ({', '.join(_DECODE_FIELDS)})"
            )
        value = parse_value(raw.strip())
        if key in _VAD_KEYS:
            env[f"STT_ASR_ROLLOUT__CANDIDATE_VAD__{_VAD_KEYS[key].upper()}"] = _scalar(value)
        else:
            decode[key] = value
    if any(isinstance(v, list) or v is None for v in decode.values()):
        env["STT_ASR_ROLLOUT__CANDIDATE_DECODE"] = json.dumps(decode)  # typed: lists, null
    else:
        for key, value in decode.items():
            env[f"STT_ASR_ROLLOUT__CANDIDATE_DECODE__{key.upper()}"] = _scalar(value)
    return env


def _scalar(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


@contextlib.contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """``os.environ`` with every ``STT_ASR_*`` replaced by ``env`` (restored afterwards)."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("STT_ASR_")}
    for key in saved:
        del os.environ[key]
    os.environ.update(env)
    try:
        yield
    finally:
        for key in env:
            os.environ.pop(key, None)
        os.environ.update(saved)


def chunk_jobs(items: Sequence[GoldenItem], arm: str, ingest: IngestWorker) -> list[ChunkJob]:
    """The AudioChunks ingest publishes for each item (recording id = item id + arm)."""
    jobs = []
    for item in items:
        rid = f"golden-{item.id.replace('/', '-')}-{arm}"
        request = IngestRequest(
            rid,
            tenant="golden",
            source="cli",
            filename=item.path.name,
            priority="batch",
            hints=make_hints(language=item.language),
        )
        result = ingest.ingest(item.path.read_bytes(), request)
        if result.failed is not None:
            raise RuntimeError(f"ingest rejected {item.id}: {result.failed['reason']}")
        for chunk in result.chunks:
            chunk["hints"] = {**chunk["hints"], "arm": arm}
            jobs.append(ChunkJob(chunk, trace_id=chunk["trace_id"]))
    return jobs


@dataclass
class Run:
    config: Config
    model: str
    wers: dict[str, float]  # item id -> WER
    hyps: dict[str, str]
    load_s: float
    decode_s: float
    redecoded: int
    low_coverage: int


def measure(
    config: Config, threads: int, items: Sequence[GoldenItem], ingest: IngestWorker, batch: int
) -> Run:
    env = {**config.env, "STT_ASR_CPU_THREADS": str(threads)}
    started = time.perf_counter()
    with environment(env):
        settings = AsrSettings()
    worker = AsrWorker(settings=settings, pool="batch")
    if config.arm == "candidate" and worker.candidate is None:
        raise SystemExit(f"{config.label}: the worker built no candidate arm from {config.env}")
    load_s = time.perf_counter() - started
    jobs = chunk_jobs(items, config.arm, ingest)
    started = time.perf_counter()
    events: list[dict[str, Any]] = []
    for i in range(0, len(jobs), batch):
        for result in worker.transcribe(jobs[i : i + batch]):
            if isinstance(result, Exception):
                raise result
            events.append(result)
    decode_s = time.perf_counter() - started
    worker.close()
    models = {e["model"]["name"] for e in events}
    arms = {e["arm"] for e in events}
    if arms != {config.arm}:
        raise RuntimeError(f"{config.label}: expected arm {config.arm}, events say {sorted(arms)}")
    words: dict[str, list[tuple[int, str]]] = {}
    for e in events:
        text = " ".join(w["word"].strip() for s in e["segments"] for w in s["words"])
        words.setdefault(e["recording_id"], []).append((e["seq"], text))
    hyps, wers = {}, {}
    for item in items:
        rid = f"golden-{item.id.replace('/', '-')}-{config.arm}"
        hyps[item.id] = " ".join(t for _, t in sorted(words.get(rid, [])) if t)
        wers[item.id] = word_error_rate([item.reference], [hyps[item.id]])
    return Run(
        config,
        "+".join(sorted(models)),
        wers,
        hyps,
        load_s,
        decode_s,
        sum(e["redecodes"] > 0 for e in events),
        sum(bool(e["low_coverage"]) for e in events),
    )


def paired_p(candidate: Sequence[float], control: Sequence[float]) -> float | None:
    """One-sided Wilcoxon signed-rank p (candidate worse), None when every pair ties."""
    from scipy.stats import wilcoxon

    diffs = np.asarray(candidate) - np.asarray(control)
    if not np.any(diffs != 0):
        return None
    return float(wilcoxon(diffs, alternative="greater", zero_method="zsplit").pvalue)


def row(
    label: str, run: Run, control: Run, ids: Sequence[str], items: dict[str, GoldenItem], width: int
) -> str:
    mine = [run.wers[i] for i in ids]
    mean = float(np.mean(mine))
    pooled = word_error_rate([items[i].reference for i in ids], [run.hyps[i] for i in ids])
    line = f"{label:12s} {run.config.label:{width}s} {len(ids):3d} {mean:7.3f} {pooled:7.3f}"
    if run is control:
        return line
    theirs = [control.wers[i] for i in ids]
    rel = gates.relative(mean, float(np.mean(theirs)))
    test = gates.mann_whitney_greater(mine, theirs)
    paired = paired_p(mine, theirs)
    worse = sum(a > b for a, b in zip(mine, theirs, strict=True))
    better = sum(a < b for a, b in zip(mine, theirs, strict=True))
    rel_txt = f"{rel * 100:+7.1f}%" if math.isfinite(rel) else f"{'inf':>8s}"
    paired_txt = f"{paired:7.3f}" if paired is not None else f"{'-':>7s}"
    return (
        f"{line} {rel_txt} {test.p_value:7.3f} {test.cliffs_delta:+6.2f} {paired_txt} {worse:3d}/{better:<3d}"
    )


def gate_decision(
    control: Run, run: Run, items: Sequence[GoldenItem], policy: gates.GatePolicy
) -> gates.Decision:
    samples = [
        gates.Sample(arm, r.model, {"slice": it.slice}, r.wers[it.id])
        for arm, r in (("control", control), ("candidate", run))
        for it in items
    ]
    return gates.evaluate(samples, policy)


def parse_protect(values: Sequence[str]) -> dict[str, float]:
    out = {}
    for value in values:
        label, _, bound = value.rpartition(":")
        if not label:
            raise SystemExit(f"--protect {value!r}: expected LABEL:BOUND, e.g. slice=telephone:0.03")
        out[label] = float(bound)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--golden", type=Path, default=Path("/tmp/golden"), help="golden set folder")
    parser.add_argument("--split", choices=("tune", "heldout"), default="tune")
    parser.add_argument("--slices", nargs="+", default=list(DEFAULT_SLICES))
    parser.add_argument("--control", default="tiny.en", help="control model (STT_ASR_MODEL)")
    parser.add_argument(
        "--candidate", action="append", default=[], help="MODEL[:OPTION=VALUE,...], repeatable"
    )
    parser.add_argument("--threads", type=int, default=2, help="STT_ASR_CPU_THREADS")
    parser.add_argument("--batch", type=int, default=8, help="chunks per transcribe call")
    parser.add_argument(
        "--protect",
        nargs="*",
        default=["slice=telephone:0.03"],
        help="protected slices of the gate, LABEL:BOUND",
    )
    parser.add_argument("--items", action="store_true", help="print every item's WER and text")
    args = parser.parse_args()

    t0 = time.perf_counter()
    golden = build(args.golden)
    items = [
        it
        for it in golden
        if it.split == args.split and it.kind == "speech" and it.slice in args.slices and it.channels == 1
    ]
    missing = sorted(set(args.slices) - {it.slice for it in items})
    if missing:
        raise SystemExit(f"no mono speech items of {missing} in split {args.split}")
    slices = [s for s in args.slices if any(it.slice == s for it in items)]
    by_id = {it.id: it for it in items}
    print(
        f"golden set {args.golden}: split {args.split}, {len(items)} items, "
        f"{sum(it.duration_s for it in items):.0f} s of audio; slices {', '.join(slices)}; "
        f"cpu_threads {args.threads}, batches of {args.batch}; load average "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )

    configs = [Config(f"control {args.control}", {"STT_ASR_MODEL": args.control}, "control")]
    configs += [Config(spec, candidate_env(spec, args.control), "candidate") for spec in args.candidate]
    ingest = IngestWorker()
    runs = []
    for config in configs:
        run = measure(config, args.threads, items, ingest, args.batch)
        runs.append(run)
        env = " ".join(f"{k}={v!r}" if " " in v or "{" in v else f"{k}={v}" for k, v in config.env.items())
        print(
            f"{config.label}: model {run.model}, decode {run.decode_s:.1f} s (load {run.load_s:.1f} s), "
            f"{run.redecoded} chunks re-decoded, {run.low_coverage} flagged low_coverage\n    {env}"
        )
    control = runs[0]

    width = max(len(c.label) for c in configs)
    print(
        f"\n{'slice':12s} {'config':{width}s} {'n':>3s} {'mean':>7s} {'pooled':>7s} {'rel':>8s} "
        f"{'MW p':>7s} {'cliff':>6s} {'pair p':>7s} {'w/b':>7s}"
    )
    groups = [(s, [it.id for it in items if it.slice == s]) for s in slices]
    groups.append(("overall", [it.id for it in items]))
    if any(it.language != "en" for it in items):
        groups.append(("overall en", [it.id for it in items if it.language == "en"]))
    for label, ids in groups:
        for run in runs:
            print(row(label, run, control, ids, by_id, width))
        print()

    if args.items:
        for it in items:
            print(f"{it.id:26s} ref: {it.reference}")
            for run in runs:
                print(f"{'':26s} {run.wers[it.id]:.2f} {run.config.label[:24]:24s} {run.hyps[it.id]}")

    policy = gates.GatePolicy(protected=parse_protect(args.protect), dimensions=["slice"])
    print(
        f"gate (protected {policy.protected}, alpha {policy.alpha}, min_effect {policy.min_effect}, "
        f"default bound {policy.default_bound}):"
    )
    for run in runs[1:]:
        decision = gate_decision(control, run, items, policy)
        print(f"  {run.config.label}: {decision.decision}: {decision.reason}")
    print(f"wall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

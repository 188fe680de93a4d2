"""ASR accuracy and throughput: faster-whisper called directly vs the ASR worker on chunks.

On the same real speech (pyannote's sample call and Debian's five LibriVox sentences), with
the same model and decode settings (beam 5, temperature fallback, Silero VAD, word timestamps):

- WER: (a) ``WhisperModel.transcribe`` on each whole file vs (b) ``AsrWorker`` on the chunks
  ingest's ``plan_chunks`` makes of each file, assembled by keep window. Both plans are
  measured: the default one (20 s target, 30 s max: files this short stay whole) and a forced
  one (10 s target, 12 s max, 1 s overlap) whose cuts fall inside the call.
- Throughput (audio seconds per wall second, models loaded and warmed up first):
  sequential ``WhisperModel.transcribe`` per file, ``BatchedInferencePipeline`` per file in
  one process, and the worker decoding chunks of different files together in batches of
  ``--batch`` (and one at a time, to isolate what batching buys). ``--copies`` repeats the
  file set so batches fill up.

    python bench/asr_direct.py [--model tiny.en|base|PATH] [--batch 8] [--copies 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mesh.audio import to_s16le
from mesh.textnorm import word_error_rate
from services.asr.config import AsrSettings
from services.asr.factory import build_engine
from services.asr.worker import AsrWorker, ChunkJob
from services.ingest.chunking import ChunkPlan, plan_chunks
from services.ingest.events import make_hints
from services.ingest.stats import compute_stats

SR = 16000
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


@dataclass(frozen=True)
class Recording:
    name: str
    audio: np.ndarray
    reference: str

    @property
    def seconds(self) -> float:
        return len(self.audio) / SR


def read_wav(path: Path) -> np.ndarray:
    import wave

    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768


def recordings() -> list[Recording]:
    spec = importlib.util.find_spec("pyannote.audio")  # locate without importing torch
    assert spec is not None and spec.submodule_search_locations
    sample = Path(spec.submodule_search_locations[0]) / "sample"
    stm = (sample / "sample.stm").read_text().splitlines()
    out = [
        Recording(
            "sample_call", read_wav(sample / "sample.wav"), " ".join(line.split(None, 5)[5] for line in stm)
        )
    ]
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        text, name = re.match(r"<s> (.*) </s> \((.*)\)", line).groups()  # type: ignore[union-attr]
        out.append(Recording(name.rsplit("-", 1)[1], read_wav(LIBRIVOX / f"{name}.wav"), text))
    return out


def chunk_jobs(rec: Recording, index: int, target_s: float, max_s: float) -> list[ChunkJob]:
    plans = plan_chunks(rec.audio, SR, target_s=target_s, max_s=max_s, overlap_s=1.0)
    return jobs_for(rec, f"{rec.name}-{index}", index, plans)


def jobs_for(rec: Recording, recording_id: str, index: int, plans: list[ChunkPlan]) -> list[ChunkJob]:
    """The AudioChunks ingest would publish for ``rec`` cut along ``plans``."""
    jobs = []
    for seq, plan in enumerate(plans):
        first, last = plan.samples(SR)
        payload = rec.audio[first:last]
        jobs.append(
            ChunkJob(
                {
                    "recording_id": recording_id,
                    "trace_id": f"{index + 1:032x}",
                    "tenant": "bench",
                    "seq": seq,
                    "is_last": seq == len(plans) - 1,
                    "chunk_count": len(plans),
                    "channel": 0,
                    "channel_role": None,
                    "start_s": plan.start_s,
                    "duration_s": len(payload) / SR,
                    "keep_from_s": plan.keep_from_s,
                    "keep_until_s": plan.keep_until_s,
                    "sample_rate": SR,
                    "encoding": "s16le",
                    "pcm": to_s16le(payload),
                    "stats": compute_stats(payload, SR).to_dict(),
                    "priority": "batch",
                    "hints": make_hints(),
                    "recording_duration_s": rec.seconds,
                    "produced_at_ms": int(time.time() * 1000),
                }
            )
        )
    return jobs


def direct_options(settings: AsrSettings, english: bool) -> dict:
    d = settings.decode
    return dict(
        language="en" if english else None,
        beam_size=d.beam_size,
        best_of=d.best_of,
        temperature=list(d.temperatures),
        vad_filter=d.vad_filter,
        compression_ratio_threshold=d.compression_ratio_threshold,
        log_prob_threshold=d.log_prob_threshold,
        no_speech_threshold=d.no_speech_threshold,
        word_timestamps=d.word_timestamps,
    )


def run_direct(model, recs: list[Recording], options: dict) -> list[str]:
    texts = []
    for rec in recs:
        segments, _ = model.transcribe(rec.audio, **options)
        texts.append(" ".join(s.text.strip() for s in segments))
    return texts


def run_pipeline(model, recs: list[Recording], options: dict, batch: int) -> list[str]:
    from faster_whisper import BatchedInferencePipeline

    pipeline = BatchedInferencePipeline(model)
    texts = []
    for rec in recs:
        segments, _ = pipeline.transcribe(rec.audio, batch_size=batch, **options)
        texts.append(" ".join(s.text.strip() for s in segments))
    return texts


def run_worker(worker: AsrWorker, jobs: list[ChunkJob], batch: int) -> dict[str, str]:
    events = []
    for i in range(0, len(jobs), batch):
        for result in worker.transcribe(jobs[i : i + batch]):
            if isinstance(result, Exception):
                raise result
            events.append(result)
    events.sort(key=lambda e: (e["recording_id"], e["seq"]))
    texts: dict[str, list[str]] = {}
    for event in events:
        texts.setdefault(event["recording_id"], []).extend(s["text"] for s in event["segments"])
    return {rid: " ".join(parts) for rid, parts in texts.items()}


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def interleave(recs: list[Recording], copies: int, target_s: float, max_s: float) -> list[ChunkJob]:
    """Chunks of all recordings, round-robin, so a batch mixes recordings like a busy topic."""
    per_rec = [
        chunk_jobs(r, c * len(recs) + i, target_s, max_s) for c in range(copies) for i, r in enumerate(recs)
    ]
    out: list[ChunkJob] = []
    for k in range(max(map(len, per_rec))):
        out.extend(jobs[k] for jobs in per_rec if k < len(jobs))
    return out


def wer_rows(recs: list[Recording], texts: list[str]) -> tuple[float, float, float]:
    refs = [r.reference for r in recs]
    return (
        word_error_rate(refs, texts),
        word_error_rate(refs[:1], texts[:1]),
        word_error_rate(refs[1:], texts[1:]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="CTranslate2 CPU threads")
    parser.add_argument("--rounds", type=int, default=2, help="throughput rounds (best kept)")
    args = parser.parse_args()

    settings = AsrSettings(fallback_model=None, cpu_threads=args.threads)
    engine = build_engine(args.model, settings)
    model = engine.model  # the same loaded weights serve every variant
    options = direct_options(settings, english=not engine.multilingual)
    worker = AsrWorker(engine, settings=settings, pool="batch")
    recs = recordings()
    total_s = sum(r.seconds for r in recs)
    print(
        f"model {engine.info.name} ({engine.info.version}) on {engine.info.device}/"
        f"{engine.info.compute_type}; {len(recs)} files, {total_s:.1f} s of speech; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )

    run_direct(model, recs[1:2], options)  # warm up: VAD session, first allocations
    direct, _ = timed(lambda: run_direct(model, recs, options))
    print_wer("direct, whole files", recs, direct)  # type: ignore[arg-type]
    for target, max_s in ((20.0, 30.0), (10.0, 12.0)):
        jobs = [j for i, r in enumerate(recs) for j in chunk_jobs(r, i, target, max_s)]
        texts = run_worker(worker, jobs, args.batch)
        hyps = [texts[f"{r.name}-{i}"] for i, r in enumerate(recs)]
        label = f"worker, {len(jobs)} chunks (target {target:g} s, max {max_s:g} s)"
        print_wer(label, recs, hyps, reference=direct)  # type: ignore[arg-type]

    throughput(model, worker, recs, options, args)


def print_wer(
    label: str, recs: list[Recording], texts: list[str], reference: list[str] | None = None
) -> None:
    overall, call, libri = wer_rows(recs, texts)
    line = f"WER {label:48s} all {overall:.3f}  call {call:.3f}  librivox {libri:.3f}"
    if reference is not None:
        line += f"  (vs direct: {100 * (overall - wer_rows(recs, reference)[0]):+.1f} points)"
    print(line)


def throughput(
    model, worker: AsrWorker, recs: list[Recording], options: dict, args: argparse.Namespace
) -> None:
    """Variants run interleaved for ``--rounds`` rounds; each keeps its fastest round, which
    is the least disturbed by other work on a shared machine."""
    many = [r for _ in range(args.copies) for r in recs]
    audio_s = sum(r.seconds for r in many)
    jobs = interleave(recs, args.copies, 20.0, 30.0)
    runs = {
        "direct sequential (WhisperModel.transcribe)": lambda: run_direct(model, many, options),
        f"BatchedInferencePipeline per file (batch {args.batch})": lambda: run_pipeline(
            model, many, options, args.batch
        ),
        "worker, one chunk at a time": lambda: run_worker(worker, jobs, 1),
        f"worker, batches of {args.batch} chunks": lambda: run_worker(worker, jobs, args.batch),
    }
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for label, fn in runs.items():
            _, seconds = timed(fn)
            best[label] = min(seconds, best.get(label, seconds))
    speed = {label: audio_s / seconds for label, seconds in best.items()}
    for label, value in speed.items():
        print(
            f"throughput {label:52s} {value:6.2f} audio s / s ({best[label]:.1f} s wall, "
            f"{audio_s:.0f} s audio, best of {args.rounds})"
        )
    names = list(speed)
    print(f"ratio worker batched / direct sequential:  {speed[names[3]] / speed[names[0]]:.2f}")
    print(f"ratio worker batched / batched pipeline:   {speed[names[3]] / speed[names[1]]:.2f}")
    print(f"ratio worker batched / worker one-by-one:  {speed[names[3]] / speed[names[2]]:.2f}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()

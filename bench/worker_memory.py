"""Worker memory under hours of traffic: RSS after 5 minutes of audio vs at the end, in one run.

An ASR worker (``AsrWorker``, the real model) and a diarize worker (``DiarizeWorker``, the
real pipeline, spilling to a state folder of its own) each run in a process of their own and
are fed the same stream of AudioChunks adding up to ``--hours`` of audio. The stream is made
of many separate recordings, each with a fresh recording id, so per-recording state is created
and released as in real traffic:

* the recordings are built from real speech: pyannote's sample call (30 s, two speakers) and
  conversations assembled from the three real speakers of Debian's pocketsphinx-testdata
  (``diarize_corpus.conversation``), one of them longer than the diarizer's 5-minute window
  and one through a telephone channel; they are cut into chunks by ingest's own code
  (``IngestWorker.ingest``: decode, VAD cuts at pauses near 20 s, keep windows), so the chunk
  sizes and fields are those ingest produces;
* the ASR worker gets the chunks in batches of its pool's batch size (the batch pool by
  default), as the consumer loop hands them over; the diarize worker gets them one at a time
  and its sweep (the loop's tick) runs every ``sweep_interval_s``, as in the service;
* each worker reports its RSS (``VmRSS`` of ``/proc/self/status``) once the first recording
  boundary at or after ``--at-minutes`` of audio has been handled, at further boundaries (a
  trajectory), and at the end; the bench prints both figures and their ratio (target <= 1.1).

Each sample also carries glibc's ``mallinfo2`` (heap bytes in use, and free but held), so
growth of live memory can be told from memory the allocator keeps. ``--tracemalloc``
snapshots the Python heap at the first sample and at the end and prints the allocation sites
that grew most; ``--malloc-trim`` calls ``malloc_trim(0)`` after each sample and samples again,
``--trim-diarize`` after every diarized recording (these change the run: use them to
investigate, not to measure). The ASR worker returns free heap memory after every batch as the
service does (``STT_ASR_TRIM_HEAP``); ``--no-heap-trim`` runs it without. glibc settings
reach the workers through the environment, e.g. ``MALLOC_MMAP_THRESHOLD_=131072``. The
summary gives CPU seconds per audio second, so what a setting costs shows beside what it saves.

    python bench/worker_memory.py [--hours 3] [--model tiny.en] [--workers asr diarize]
        [--at-minutes 5] [--pool batch] [--threads 1] [--sequential] [--tracemalloc]
        [--malloc-trim] [--trim-diarize] [--no-heap-trim]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import wave
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SR = 16000
TARGET = 1.1


# -- the corpus: a few real recordings, chunked by ingest, spooled to disk ---------------------
def build_corpus(spool: Path) -> list[dict[str, Any]]:
    """Templates of recordings: ingest's AudioChunk dicts without their PCM, which lies in
    ``spool/<name>.s16`` at each chunk's ``pcm_offset`` (samples) and ``pcm_len``."""
    import diarize_corpus as corpus

    from services.ingest.events import IngestRequest
    from services.ingest.worker import IngestWorker

    sample = corpus.sample_recording().audio
    sources: list[tuple[str, np.ndarray]] = []
    if corpus.available():
        voices = corpus.real_voices()
        sources.append(("call_5.5min", corpus.conversation(voices, 330, seed=11).audio))
    sources.append(("pyannote_sample", sample))
    if corpus.available():
        sources.append(
            ("call_1.5min_telephone", corpus.conversation(voices, 90, seed=12, channel="telephone").audio)
        )
        sources.append(("call_3min", corpus.conversation(voices, 180, seed=13).audio))
    else:  # the sample alone, looped to different lengths
        sources += [(f"sample_x{n}", np.tile(sample, n)) for n in (11, 3, 6)]
    ingest = IngestWorker()
    templates = []
    for name, audio in sources:
        result = ingest.ingest(
            wav_bytes(audio), IngestRequest(recording_id=name, priority="batch", filename=f"{name}.wav")
        )
        assert result.ok, result.failed
        offset, chunks = 0, []
        with (spool / f"{name}.s16").open("wb") as out:
            for chunk in result.chunks:
                pcm = chunk.pop("pcm")
                out.write(pcm)
                chunks.append({**chunk, "pcm_offset": offset, "pcm_len": len(pcm) // 2})
                offset += len(pcm) // 2
        duration = result.metadata["duration_s"] if result.metadata else 0.0
        templates.append({"name": name, "duration_s": duration, "chunks": chunks})
    return templates


def wav_bytes(audio: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def schedule(templates: list[dict[str, Any]], hours: float) -> list[int]:
    """Template indexes, cycled until ``hours`` of audio (the last recording completes)."""
    order, total, i = [], 0.0, 0
    while total < hours * 3600:
        order.append(i % len(templates))
        total += templates[i % len(templates)]["duration_s"]
        i += 1
    return order


# -- the child: one worker fed the stream ------------------------------------------------------
def rss_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def heap_mb() -> dict[str, float]:
    """glibc's view of the heap (``mallinfo2``, every arena): bytes in use (small blocks and
    mmapped ones) and bytes free but still held; RSS growing while ``in_use`` does not points
    at the allocator (fragmentation, memory not returned), not at live objects."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [
            (n, ctypes.c_size_t)
            for n in (
                "arena",
                "ordblks",
                "smblks",
                "hblks",
                "hblkhd",
                "usmblks",
                "fsmblks",
                "uordblks",
                "fordblks",
                "keepcost",
            )
        ]

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = MallInfo2
    except (OSError, AttributeError):
        return {}
    m = libc.mallinfo2()
    mb = 1024 * 1024
    return {
        "heap_in_use_mb": (m.uordblks + m.hblkhd) / mb,
        "heap_free_mb": m.fordblks / mb,
        "arena_mb": m.arena / mb,
        "mmapped_mb": m.hblkhd / mb,
    }


def malloc_trim() -> None:
    from services.asr import heap

    heap.trim()


class Feed:
    """The stream of chunks of one run, each chunk's PCM read from the spool when it is due."""

    def __init__(self, spool: Path, templates: list[dict[str, Any]], order: list[int]) -> None:
        self.spool, self.templates, self.order = spool, templates, order

    def recordings(self):
        for n, index in enumerate(self.order):
            template = self.templates[index]
            rid, trace = f"mem-{n:05d}-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
            path = self.spool / f"{template['name']}.s16"
            chunks = []
            for c in template["chunks"]:
                pcm = np.fromfile(path, dtype="<i2", count=c["pcm_len"], offset=2 * c["pcm_offset"])
                chunk = {k: v for k, v in c.items() if k not in ("pcm_offset", "pcm_len")}
                chunk.update(
                    recording_id=rid,
                    trace_id=trace,
                    pcm=pcm.tobytes(),
                    produced_at_ms=int(time.time() * 1000),
                )
                chunks.append(chunk)
            yield template, chunks


class Reporter:
    """Samples RSS at recording boundaries: first at or after ``at_s`` of audio, then every
    ``every_s``, and at the end; one JSON line each on stdout."""

    def __init__(self, at_s: float, every_s: float, use_tracemalloc: bool, trim: bool) -> None:
        self.at_s, self.every_s, self.next_s = at_s, every_s, at_s
        self.tracemalloc, self.trim = use_tracemalloc, trim
        self.first_snapshot: Any = None
        self.started, self.cpu0 = time.perf_counter(), time.process_time()

    def boundary(self, audio_s: float, recordings: int, final: bool = False, **extra: Any) -> None:
        if not final and audio_s < self.next_s:
            return
        rss, hwm = rss_mb()
        first = self.next_s == self.at_s
        while self.next_s <= audio_s:
            self.next_s += self.every_s
        if self.trim:  # an investigation: what the allocator holds beyond live memory
            malloc_trim()
            extra["trimmed_rss_mb"] = rss_mb()[0]
        if self.tracemalloc:
            import tracemalloc

            extra["python_heap_mb"] = tracemalloc.get_traced_memory()[0] / 1024 / 1024
        emit(
            {
                "kind": "end" if final else ("first" if first else "sample"),
                "audio_s": audio_s,
                "recordings": recordings,
                "rss_mb": rss,
                "hwm_mb": hwm,
                "wall_s": time.perf_counter() - self.started,
                "cpu_s": time.process_time() - self.cpu0,
                **heap_mb(),
                **extra,
            }
        )
        if self.tracemalloc:
            import tracemalloc

            if first and not final:
                self.first_snapshot = tracemalloc.take_snapshot()
            if final and self.first_snapshot is not None:
                growth = tracemalloc.take_snapshot().compare_to(self.first_snapshot, "lineno")[:12]
                emit({"kind": "tracemalloc", "top": [str(s) for s in growth]})


def emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj), flush=True)


def child_asr(feed: Feed, report: Reporter, args: argparse.Namespace) -> None:
    from services.asr.config import AsrSettings
    from services.asr.worker import AsrWorker, ChunkJob

    settings = AsrSettings(
        model=args.model,
        fallback_model=args.model,
        device="cpu",
        cpu_threads=args.threads,
        trim_heap=not args.no_heap_trim,
    )
    worker = AsrWorker(settings=settings, pool=args.pool)
    batch_size = settings.pool_settings(args.pool).batch_size
    warm = next(feed.recordings())[1][:1]
    worker.transcribe([ChunkJob(c, c["trace_id"], c["produced_at_ms"]) for c in warm])
    rss0, _ = rss_mb()
    emit({"kind": "loaded", "rss_mb": rss0, "batch_size": batch_size, "pool": args.pool})
    begin(args, report)
    pending: list[ChunkJob] = []
    audio_s = words = chunks = errors = 0.0
    recordings = 0

    def flush() -> None:
        nonlocal words, chunks, errors
        for result in worker.transcribe(pending):
            if isinstance(result, Exception):
                errors += 1
            else:
                words += sum(len(s["words"]) for s in result["segments"])
            chunks += 1
        pending.clear()

    for template, recording in feed.recordings():
        for c in recording:
            pending.append(ChunkJob(c, c["trace_id"], c["produced_at_ms"]))
            if len(pending) == batch_size:
                flush()
        recordings += 1
        audio_s += template["duration_s"]
        # a boundary sample sees the recording's last batch handled: flush before sampling
        if audio_s >= report.next_s:
            flush()
        report.boundary(audio_s, recordings, words=words, chunks=chunks, errors=errors)
    flush()
    report.boundary(audio_s, recordings, final=True, words=words, chunks=chunks, errors=errors)
    worker.close()


def child_diarize(feed: Feed, report: Reporter, args: argparse.Namespace) -> None:
    from services.diarize.config import DiarizeSettings
    from services.diarize.worker import DiarizeWorker

    state = Path(tempfile.mkdtemp(prefix="worker-memory-diarize-"))
    try:
        settings = DiarizeSettings(state_dir=state, torch_threads=args.threads)
        worker = DiarizeWorker(settings)
        worker.warm_up()
        rss0, _ = rss_mb()
        emit({"kind": "loaded", "rss_mb": rss0, "sweep_interval_s": settings.sweep_interval_s})
        begin(args, report)
        audio_s, recordings, turns, speakers, swept = 0.0, 0, 0, 0, 0
        next_sweep = time.monotonic() + settings.sweep_interval_s
        for template, recording in feed.recordings():
            for c in recording:
                for result in worker.handle_chunk(c):
                    turns += len(result["turns"])
                    speakers += result["num_speakers"]
                    if args.trim_diarize:
                        malloc_trim()
                if time.monotonic() >= next_sweep:  # the loop's tick, between messages
                    swept += len(worker.sweep())
                    next_sweep = time.monotonic() + settings.sweep_interval_s
            recordings += 1
            audio_s += template["duration_s"]
            report.boundary(
                audio_s,
                recordings,
                turns=turns,
                speakers=speakers,
                open=len(worker.assembler.open_recordings()),
                states=len(worker.assembler._states),
                swept_partial=swept,
            )
        report.boundary(
            audio_s,
            recordings,
            final=True,
            turns=turns,
            speakers=speakers,
            open=len(worker.assembler.open_recordings()),
            states=len(worker.assembler._states),
            swept_partial=swept,
        )
    finally:
        shutil.rmtree(state, ignore_errors=True)


def begin(args: argparse.Namespace, report: Reporter) -> None:
    """The worker is loaded and warm: time and trace what follows."""
    report.started, report.cpu0 = time.perf_counter(), time.process_time()
    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start(8)


def child(args: argparse.Namespace) -> None:
    spool = Path(args.spool)
    templates = json.loads((spool / "templates.json").read_text())
    feed = Feed(spool, templates, schedule(templates, args.hours))
    report = Reporter(args.at_minutes * 60, args.every_minutes * 60, args.tracemalloc, args.malloc_trim)
    {"asr": child_asr, "diarize": child_diarize}[args.child](feed, report, args)


# -- the parent ------------------------------------------------------------------------------
def machine() -> str:
    model = platform.processor() or "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{model}, {os.cpu_count()} cores"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def run_children(kinds: list[str], spool: Path, args: argparse.Namespace) -> dict[str, list[dict]]:
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    argv = [
        sys.executable,
        __file__,
        "--spool",
        str(spool),
        "--hours",
        str(args.hours),
        "--model",
        args.model,
        "--pool",
        args.pool,
        "--threads",
        str(args.threads),
        "--at-minutes",
        str(args.at_minutes),
        "--every-minutes",
        str(args.every_minutes),
        *(["--tracemalloc"] if args.tracemalloc else []),
        *(["--malloc-trim"] if args.malloc_trim else []),
        *(["--trim-diarize"] if args.trim_diarize else []),
        *(["--no-heap-trim"] if args.no_heap_trim else []),
    ]
    lines: dict[str, list[dict]] = {k: [] for k in kinds}
    groups = [kinds] if not args.sequential else [[k] for k in kinds]
    for group in groups:
        procs = {
            k: subprocess.Popen(
                [*argv, "--child", k],
                env=env,
                stdout=subprocess.PIPE,
                stderr=None if args.verbose else subprocess.DEVNULL,
                text=True,
            )
            for k in group
        }
        readers = [
            threading.Thread(target=follow, args=(kind, proc, lines[kind]), daemon=True)
            for kind, proc in procs.items()
        ]
        try:
            for reader in readers:
                reader.start()
            for reader in readers:
                reader.join()
            for kind, proc in procs.items():
                if proc.wait() != 0:
                    raise RuntimeError(
                        f"the {kind} worker exited with {proc.returncode}; "
                        "rerun with --verbose to see its stderr"
                    )
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    return lines


def follow(kind: str, proc: subprocess.Popen[str], into: list[dict]) -> None:
    """Collect a worker's JSON lines, printing each RSS sample with the load average."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if not line.startswith("{"):
            continue
        rec = json.loads(line)
        into.append(rec)
        if rec["kind"] in ("first", "sample", "end"):
            rec["load"] = load()
            if rec["kind"] == "end" and into[-2:-1] and into[-2].get("audio_s") == rec["audio_s"]:
                continue  # the last trajectory sample was taken at the end already
            heap = (
                f", heap in use {rec['heap_in_use_mb']:.0f} / free {rec['heap_free_mb']:.0f} MB"
                if "heap_in_use_mb" in rec
                else ""
            )
            heap += (
                f", after malloc_trim {rec['trimmed_rss_mb']:.0f} MB" if "trimmed_rss_mb" in rec else ""
            ) + (f", Python heap {rec['python_heap_mb']:.1f} MB" if "python_heap_mb" in rec else "")
            print(
                f"  {kind:8s} {rec['audio_s'] / 60:7.1f} min of audio, {rec['recordings']:4d} "
                f"recordings: RSS {rec['rss_mb']:7.1f} MB (peak {rec['hwm_mb']:7.1f}){heap}, "
                f"{rec['wall_s']:6.0f} s wall; load average {rec['load']}",
                flush=True,
            )


def summary(kind: str, recs: list[dict]) -> float:
    by = {r["kind"]: r for r in recs}
    loaded, first, end = by["loaded"], by["first"], by["end"]
    ratio = end["rss_mb"] / first["rss_mb"]
    verdict = "met" if ratio <= TARGET else "NOT met"
    work = (
        f"{end['words']:.0f} words in {end['chunks']:.0f} chunks, {end['errors']:.0f} errors"
        if kind == "asr"
        else f"{end['turns']} turns, {end['speakers']} speakers over all recordings, "
        f"{end['open']} left open, {end['states']} recording states held"
    )
    print(
        f"{kind}: RSS after warm-up {loaded['rss_mb']:.1f} MB; after {first['audio_s'] / 60:.1f} min "
        f"of audio ({first['recordings']} recordings) {first['rss_mb']:.1f} MB; at the end "
        f"({end['audio_s'] / 3600:.2f} h, {end['recordings']} recordings) {end['rss_mb']:.1f} MB "
        f"(peak {end['hwm_mb']:.1f}); end / 5 min = {ratio:.3f} (target <= {TARGET}: {verdict}); "
        f"{work}; {end['wall_s'] / 60:.1f} min wall, {end['cpu_s'] / end['audio_s']:.3f} CPU s per "
        f"audio s"
    )
    if "heap_in_use_mb" in end:
        print(
            f"{kind}: glibc heap in use {first['heap_in_use_mb']:.0f} -> {end['heap_in_use_mb']:.0f} MB, "
            f"free but held {first['heap_free_mb']:.0f} -> {end['heap_free_mb']:.0f} MB"
        )
    for rec in recs:
        if rec["kind"] == "tracemalloc":
            print(f"{kind}: Python heap growth, first sample -> end (tracemalloc, top sites):")
            for line in rec["top"]:
                print(f"    {line}")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=3.0, help="audio fed to each worker")
    parser.add_argument("--model", default="tiny.en", help="ASR model (bundled name or path)")
    parser.add_argument("--workers", nargs="+", choices=["asr", "diarize"], default=["asr", "diarize"])
    parser.add_argument(
        "--pool",
        choices=["realtime", "batch"],
        default="batch",
        help="ASR pool whose batch size and budget the worker uses",
    )
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per worker")
    parser.add_argument("--at-minutes", type=float, default=5.0, help="the first RSS sample")
    parser.add_argument("--every-minutes", type=float, default=30.0, help="trajectory samples")
    parser.add_argument("--sequential", action="store_true", help="one worker after the other")
    parser.add_argument("--tracemalloc", action="store_true", help="trace the Python heap too")
    parser.add_argument(
        "--malloc-trim",
        action="store_true",
        help="after each sample, malloc_trim(0) and sample again (changes the run)",
    )
    parser.add_argument(
        "--trim-diarize",
        action="store_true",
        help="malloc_trim(0) after every diarized recording (the diarize service does not)",
    )
    parser.add_argument(
        "--no-heap-trim",
        action="store_true",
        help="the ASR worker without its trim after each batch (STT_ASR_TRIM_HEAP=false)",
    )
    parser.add_argument("--verbose", action="store_true", help="show the workers' stderr")
    parser.add_argument("--child", choices=["asr", "diarize"], help=argparse.SUPPRESS)
    parser.add_argument("--spool", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    spool = Path(tempfile.mkdtemp(prefix="worker-memory-"))
    try:
        templates = build_corpus(spool)
        (spool / "templates.json").write_text(json.dumps(templates))
        order = schedule(templates, args.hours)
        total = sum(templates[i]["duration_s"] for i in order)
        kinds = ", ".join(
            f"{t['name']} ({t['duration_s']:.0f} s, {len(t['chunks'])} chunks)" for t in templates
        )
        print(f"machine: {machine()}; load at start {load()}")
        print(f"stream: {len(order)} recordings, {total / 3600:.2f} h of audio, cycling {kinds}")
        print(
            f"workers: {' and '.join(args.workers)}, each in its own process "
            f"({'one after the other' if args.sequential else 'side by side'}), "
            f"{args.threads} CPU thread(s) each; ASR model {args.model}, {args.pool} pool"
        )
        runs = run_children(args.workers, spool, args)
        ratios = {kind: summary(kind, recs) for kind, recs in runs.items()}
        print(f"load at end {load()}")
        print("RSS end / after 5 min: " + ", ".join(f"{k} {r:.3f}" for k, r in ratios.items()))
    finally:
        shutil.rmtree(spool, ignore_errors=True)


if __name__ == "__main__":
    main()

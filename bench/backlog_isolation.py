"""Backlog isolation: realtime chunk latency with and without a batch backlog, in one run.

A broker of its own and the services as processes (ingest, the ASR realtime pool and the ASR
batch pool; ``--with-diarize`` adds both diarize pools), each pool pinned with ``taskset -c``
to its own CPUs to stand in for separate nodes: on a 2-core machine the realtime pool gets
core 0 and the batch pool core 1; the broker, ingest and this driver share the realtime
pool's core (``--infra-cpus``), so what the batch pool does on its core is all that differs
between the phases. Then, after a warm-up:

1. idle: ``--realtime`` short clips of pyannote's sample call (4-8 s, one chunk each) are
   published as realtime recordings every ``--interval`` seconds;
2. backlog: ``--recordings`` recordings are published with priority batch (the whole sample,
   or the sample looped to ``--batch-seconds``); once ingest has put all their chunks on the
   batch chunk topic, the same realtime stream runs again while the batch pool works through
   the backlog.

**Chunk latency** is the Kafka (CreateTime) timestamp of a chunk's ChunkTranscript on
``stt.transcripts.v1`` minus that of its AudioChunk on ``stt.audio.chunks.realtime.v1``: from
the moment ingest produced the chunk to the moment the ASR produced its transcript (queueing,
batching wait, decoding, re-decoding). The bench prints p50 and p95 of both phases and the
ratio p95 backlog / p95 idle (target <= 1.2), counting only the phase-2 chunks transcribed
before the backlog's last transcript (while the batch pool was busy). The batch group's lag
(committed offsets of ``stt-asr-batch`` against the high watermarks of the batch chunk topic,
every second) is printed over time until it is back to zero, with the time to drain.

Also printed: end-to-end latency (the recording's publish to its transcript, ingest included;
``--stream-during-ingest`` starts phase 2's stream together with the backlog's publish, so
realtime recordings wait behind the backlog in ingest, which serves both priorities), and for
each phase how busy each core was and how much of it went to our processes and to others (on
a shared machine, other processes move to the realtime core once the batch pool fills its own).

    python bench/backlog_isolation.py [--recordings 100] [--realtime 60] [--interval 2.5]
        [--model tiny.en] [--port 20092] [--rt-cpus 0] [--batch-cpus 1] [--infra-cpus 0]
        [--batch-seconds 30] [--with-diarize] [--stream-during-ingest]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.resources
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from confluent_kafka import Consumer, TopicPartition  # noqa: E402

from infra.local import LocalKafka, create_topics, topic_specs  # noqa: E402
from mesh import MeshSettings, Publisher, topics  # noqa: E402
from mesh.errors import SerializationError  # noqa: E402
from mesh.serde import AvroSerde  # noqa: E402
from services.ingest.cli import publish_files  # noqa: E402
from stt_mesh.demo import stop_services  # noqa: E402

SR = 16000
TARGET = 1.2
CLIP_LENGTHS_S = (4.0, 6.0, 8.0, 5.0, 7.0)


# -- machine and pinning ---------------------------------------------------------------------
def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@dataclass
class Pinning:
    realtime: str | None
    batch: str | None
    infra: str | None
    note: str

    def describe(self) -> str:
        if self.realtime is None:
            return f"no pinning ({self.note})"
        note = f"; {self.note}" if self.note else ""
        return (
            f"realtime pool on CPU {self.realtime}, batch pool on CPU {self.batch}, broker + "
            f"ingest + this driver on CPU {self.infra} (taskset -c){note}"
        )


def plan_pinning(args: argparse.Namespace) -> Pinning:
    cores = sorted(os.sched_getaffinity(0))
    if shutil.which("taskset") is None:
        return Pinning(None, None, None, "taskset not found: the pools share every core")
    if len(cores) < 2:
        return Pinning(
            None, None, None, f"{len(cores)} core: the pools share it, so this run cannot show isolation"
        )
    rt = args.rt_cpus or str(cores[0])
    batch = args.batch_cpus or str(cores[1])
    rest = cores[2:]
    infra = args.infra_cpus or (",".join(map(str, rest)) if rest else rt)
    note = "" if len(cores) == 2 else f"{len(cores)} cores: the cores beyond 2 go to the broker and ingest"
    return Pinning(rt, batch, infra, note)


def cpu_count(cpus: str | None) -> int:
    return len(_cpus(cpus))  # 0 (no pinning): the library's default


def pin_self(cpus: str | None) -> None:
    """Pin this process (and so the broker it starts) to ``cpus``."""
    if cpus is not None:
        os.sched_setaffinity(0, _cpus(cpus))


class CpuMeter:
    """CPU seconds of our processes (``/proc/<pid>/stat``) and busy seconds of each core
    (``/proc/stat``), so a phase can say how much of each core went to whom."""

    def __init__(self, cores: list[int]) -> None:
        self.cores, self.pids = cores, {}
        self.tick = os.sysconf("SC_CLK_TCK")
        self.marks: dict[str, tuple[float, dict[str, float], dict[int, float]]] = {}

    def watch(self, name: str, pid: int | None) -> None:
        if pid is not None:
            self.pids[name] = pid

    def mark(self, label: str) -> None:
        self.marks[label] = (time.monotonic(), self._procs(), self._cores())

    def _procs(self) -> dict[str, float]:
        out = {}
        for name, pid in self.pids.items():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[name] = (int(fields[11]) + int(fields[12])) / self.tick  # utime + stime
        return out

    def _cores(self) -> dict[int, float]:
        out = {}
        for line in Path("/proc/stat").read_text().splitlines():
            name, *values = line.split()
            if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in self.cores:
                v = [int(x) for x in values]
                out[int(name[3:])] = (sum(v[:8]) - v[3] - v[4]) / self.tick  # not idle, not iowait
        return out

    def report(self, start: str, end: str, placement: dict[str, str | None]) -> str:
        """Share of each core's wall time: busy, and how much of that our processes used."""
        (t0, p0, c0), (t1, p1, c1) = self.marks[start], self.marks[end]
        wall = t1 - t0
        used = {n: (p1.get(n, 0.0) - p0.get(n, 0.0)) / wall for n in p1}
        parts = []
        for core in self.cores:
            where = {n: _cpus(placement.get(n)) or set(self.cores) for n in used}  # None: anywhere
            ours = {n: u / len(where[n]) for n, u in used.items() if core in where[n]}
            busy = (c1[core] - c0[core]) / wall
            share = ", ".join(f"{n} {u:.0%}" for n, u in ours.items() if u >= 0.005)
            others = busy - sum(ours.values())
            parts.append(
                f"CPU {core} busy {busy:.0%} ({share or 'none of ours'}; "
                f"other processes ~{max(others, 0.0):.0%})"
            )
        return "; ".join(parts)


def _cpus(spec: str | None) -> set[int]:
    chosen: set[int] = set()
    for part in (spec or "").split(","):
        if part:
            lo, _, hi = part.partition("-")
            chosen.update(range(int(lo), int(hi or lo) + 1))
    return chosen


# -- audio -----------------------------------------------------------------------------------
def sample_audio() -> np.ndarray:
    path = Path(str(importlib.resources.files("pyannote.audio") / "sample" / "sample.wav"))
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").copy()


def write_wav(path: Path, pcm: np.ndarray) -> Path:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.astype("<i2").tobytes())
    path.write_bytes(buf.getvalue())
    return path


def realtime_clips(folder: Path, count: int) -> list[Path]:
    """``count`` clips of the sample call, 4-8 s, from offsets that walk through the call."""
    audio = sample_audio()
    total_s = len(audio) / SR
    distinct = []
    for i in range(20):
        length = CLIP_LENGTHS_S[i % len(CLIP_LENGTHS_S)]
        start = (i * 3.7) % (total_s - length)
        distinct.append(
            write_wav(folder / f"clip{i:02d}.wav", audio[int(start * SR) : int((start + length) * SR)])
        )
    return [distinct[i % len(distinct)] for i in range(count)]


def batch_file(folder: Path, seconds: float) -> Path:
    audio = sample_audio()
    reps = max(1, int(np.ceil(seconds * SR / len(audio))))
    return write_wav(folder / "batch.wav", np.tile(audio, reps)[: int(seconds * SR)])


# -- services --------------------------------------------------------------------------------
def launch(argv: list[str], cpus: str | None, env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    name = "-".join(argv).replace("--pool-", "")
    cmd = [sys.executable, "-m", f"services.{argv[0]}", *argv[1:]]
    if cpus is not None:
        cmd = ["taskset", "-c", cpus, *cmd]
    threads = str(max(1, cpu_count(cpus))) if cpus else None
    own = {
        **env,
        **(
            {"STT_ASR_CPU_THREADS": threads, "STT_DIARIZE_TORCH_THREADS": threads, "OMP_NUM_THREADS": threads}
            if threads
            else {}
        ),
    }
    return subprocess.Popen(
        cmd, env=own, cwd=ROOT, stdout=(logs / f"{name}.log").open("ab"), stderr=subprocess.STDOUT
    )


# -- watching events -------------------------------------------------------------------------
@dataclass
class Seen:
    chunk_ts: dict[tuple[str, int], int] = field(default_factory=dict)  # realtime AudioChunks
    transcripts: dict[tuple[str, int], tuple[int, dict[str, Any]]] = field(default_factory=dict)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: dict[str, dict[str, Any]] = field(default_factory=dict)
    turns_ts: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Watcher(threading.Thread):
    """Reads the realtime chunk topic, the transcripts, the recordings (and speaker turns)
    with a group of its own, keeping each event's Kafka timestamp."""

    def __init__(self, settings: MeshSettings, with_diarize: bool) -> None:
        super().__init__(daemon=True, name="watcher")
        self.seen, self.serde, self.stopped = Seen(), AvroSerde(None), threading.Event()
        self.consumer = Consumer(
            {
                **settings.kafka_common(),
                "group.id": f"bench-{os.getpid()}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "fetch.max.bytes": 52428800,
                "max.partition.fetch.bytes": 10485760,
            }
        )
        watched = [topics.CHUNKS_REALTIME, topics.TRANSCRIPTS, topics.RECORDINGS]
        self.consumer.subscribe(watched + ([topics.DIARIZATION] if with_diarize else []))
        self.timestamp_types: set[int] = set()

    def run(self) -> None:
        while not self.stopped.is_set():
            for msg in self.consumer.consume(200, 0.2):
                if msg.error() is None:
                    self._take(msg)
        self.consumer.close()

    def _take(self, msg: Any) -> None:
        try:
            schema, value = self.serde.decode(msg.value(), msg.headers())
        except SerializationError:
            return
        kind = schema.rsplit(".", 1)[1]
        ts_type, ts = msg.timestamp()
        self.timestamp_types.add(ts_type)
        rid, s = value.get("recording_id"), self.seen
        with s.lock:
            if kind == "AudioChunk":
                s.chunk_ts[(rid, value["seq"])] = ts
            elif kind == "ChunkTranscript":
                s.transcripts.setdefault(
                    (rid, value["seq"]),
                    (
                        ts,
                        {
                            "queue_ms": value["queue_ms"],
                            "processing_ms": value["processing_ms"],
                            "pool": value["decode_settings"].get("pool"),
                            "words": sum(len(seg.get("words") or []) for seg in value["segments"]),
                        },
                    ),
                )
            elif kind == "RecordingMetadata":
                s.metadata[rid] = value
            elif kind == "RecordingFailed":
                s.failed[rid] = value
            elif kind == "SpeakerTurns":
                s.turns_ts.setdefault(rid, ts)

    def wait(
        self, done: Callable[[Seen], bool], timeout_s: float, what: str, procs: list[subprocess.Popen[bytes]]
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            with self.seen.lock:
                if done(self.seen):
                    return
                if self.seen.failed:
                    raise RuntimeError(f"recordings failed: {list(self.seen.failed.values())[:2]}")
            dead = [p.args for p in procs if p.poll() is not None]
            if dead:
                raise RuntimeError(f"a service exited while waiting for {what}: {dead}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not done within {timeout_s:.0f} s")
            time.sleep(0.2)

    def transcribed(self, rids: list[str]) -> Callable[[Seen], bool]:
        def done(s: Seen) -> bool:
            for rid in rids:
                meta = s.metadata.get(rid)
                if meta is None or any((rid, q) not in s.transcripts for q in range(meta["chunk_count"])):
                    return False
            return True

        return done


class LagSampler(threading.Thread):
    """Every second: lag of the given groups on their topics (high watermark - committed),
    read with one plain consumer per group that never joins it (``committed`` and
    ``get_watermark_offsets`` need no subscription)."""

    def __init__(self, bootstrap: str, groups: dict[str, str]) -> None:
        super().__init__(daemon=True, name="lag")
        self.groups, self.stopped = groups, threading.Event()
        self.samples: list[tuple[float, dict[str, int]]] = []
        self.readers = {
            g: Consumer({"bootstrap.servers": bootstrap, "group.id": g, "enable.auto.commit": False})
            for g in groups
        }
        meta = next(iter(self.readers.values())).list_topics(timeout=10)
        self.parts = {t: sorted(meta.topics[t].partitions) for t in set(groups.values())}

    def lag(self) -> dict[str, int]:
        out = {}
        for group, topic in self.groups.items():
            reader = self.readers[group]
            tps = [TopicPartition(topic, p) for p in self.parts[topic]]
            committed = {tp.partition: max(tp.offset, 0) for tp in reader.committed(tps, timeout=10)}
            out[group] = sum(
                max(
                    0, reader.get_watermark_offsets(tp, timeout=10, cached=False)[1] - committed[tp.partition]
                )
                for tp in tps
            )
        return out

    def run(self) -> None:
        while not self.stopped.wait(1.0):
            try:
                self.samples.append((time.time(), self.lag()))
            except Exception as exc:  # a slow answer: skip this sample
                print(f"  (lag sample failed: {exc!r})", flush=True)

    def close(self) -> None:
        self.stopped.set()
        self.join(15)
        for reader in self.readers.values():
            reader.close()


WATCHDOG = """
import os, signal, sys, time
parent, pids = int(sys.argv[1]), [int(p) for p in sys.argv[2:]]
while True:
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        break
    time.sleep(1.0)
for sig in (signal.SIGTERM, signal.SIGKILL):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    time.sleep(20.0)
"""


def watchdog(pids: list[int]) -> subprocess.Popen[bytes]:
    """Stops the broker and the services should this driver die without cleaning up."""
    return subprocess.Popen([sys.executable, "-c", WATCHDOG, str(os.getpid()), *map(str, pids)])


# -- the run ---------------------------------------------------------------------------------
def stream(publisher: Publisher, clips: list[Path], interval_s: float, sent: dict[str, float]) -> list[str]:
    """Publish the clips as realtime recordings at a steady rate; returns their ids and notes
    when each was published (ms) in ``sent``."""
    ids, start = [], time.monotonic()
    for i, clip in enumerate(clips):
        delay = start + i * interval_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        at = time.time() * 1000
        [(rid, _)] = publish_files([clip], publisher, priority="realtime", tenant="bench", progress=False)
        sent[rid] = at
        ids.append(rid)
    return ids


def end_to_end(seen: Seen, rids: list[str], sent: dict[str, float]) -> np.ndarray:
    """Publish of the recording -> its last ChunkTranscript (ms): ingest included."""
    with seen.lock:
        return np.array(
            [
                max(seen.transcripts[(r, q)][0] for q in range(seen.metadata[r]["chunk_count"])) - sent[r]
                for r in rids
            ],
            dtype=float,
        )


def latencies(seen: Seen, rids: list[str], before_ms: float | None = None) -> np.ndarray:
    """Chunk latency (ms) of every chunk of ``rids``; with ``before_ms``, only the chunks whose
    transcript came out before it."""
    out = []
    with seen.lock:
        for rid in rids:
            for q in range(seen.metadata[rid]["chunk_count"]):
                ts, _ = seen.transcripts[(rid, q)]
                if before_ms is None or ts <= before_ms:
                    out.append(ts - seen.chunk_ts[(rid, q)])
    return np.array(out, dtype=float)


def pct(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=100, help="batch recordings queued")
    parser.add_argument("--batch-seconds", type=float, default=30.0, help="length of each")
    parser.add_argument("--realtime", type=int, default=60, help="realtime clips per phase")
    parser.add_argument("--interval", type=float, default=2.5, help="seconds between clips")
    parser.add_argument("--model", default="tiny.en", help="ASR model of both pools")
    parser.add_argument("--port", type=int, default=20092, help="broker port (controller: +1)")
    parser.add_argument("--rt-cpus", help="CPUs of the realtime pools (taskset -c list)")
    parser.add_argument("--batch-cpus", help="CPUs of the batch pools")
    parser.add_argument("--infra-cpus", help="CPUs of the broker, ingest and this driver")
    parser.add_argument("--with-diarize", action="store_true", help="run both diarize pools too")
    parser.add_argument(
        "--stream-during-ingest",
        action="store_true",
        help="start phase 2's realtime stream with the backlog's publish, not "
        "once ingest has queued it (shows ingest's share in end to end)",
    )
    parser.add_argument("--drain-timeout", type=float, default=3600.0)
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the services are stopped

    pin = plan_pinning(args)
    work = Path(tempfile.mkdtemp(prefix="backlog-isolation-"))
    logs = work / "logs"
    logs.mkdir()
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}); "
        f"load average {load()}"
    )
    print(f"pinning: {pin.describe()}")
    pin_self(pin.infra)
    broker = LocalKafka(home=work / "kafka", port=args.port)
    procs: list[subprocess.Popen[bytes]] = []
    watcher: Watcher | None = None
    sampler: LagSampler | None = None
    publisher: Publisher | None = None
    meter: CpuMeter | None = None
    guard: subprocess.Popen[bytes] | None = None
    placement: dict[str, str | None] = {}
    sent: dict[str, float] = {}
    loads = [("start", load())]
    try:
        broker.start()
        create_topics(broker.bootstrap, topic_specs())
        env = {
            **os.environ,
            "STT_BOOTSTRAP_SERVERS": broker.bootstrap,
            "STT_METRICS_PORT": "0",
            "PYANNOTE_METRICS_ENABLED": "false",
            "HF_HUB_OFFLINE": "1",
            "STT_ASR_MODEL": args.model,
            "STT_ASR_FALLBACK_MODEL": args.model,
            "STT_ASR_DEVICE": "cpu",
            "STT_DIARIZE_STATE_DIR": str(work / "diarize"),
        }
        plan = [
            (["ingest"], pin.infra),
            (["asr", "--pool", "realtime"], pin.realtime),
            (["asr", "--pool", "batch"], pin.batch),
        ]
        if args.with_diarize:
            plan += [
                (["diarize", "--pool", "realtime"], pin.realtime),
                (["diarize", "--pool", "batch"], pin.batch),
            ]
        procs = [launch(argv, cpus, env, logs) for argv, cpus in plan]
        guard = watchdog([p for p in [broker._pid(), *(proc.pid for proc in procs)] if p])
        meter = CpuMeter(sorted(os.sched_getaffinity(0) | _cpus(pin.realtime) | _cpus(pin.batch)))
        placement = {"broker": pin.infra, "driver": pin.infra}
        meter.watch("broker", broker._pid())
        meter.watch("driver", os.getpid())
        for (argv, cpus), proc in zip(plan, procs, strict=True):
            name = "-".join(a for a in argv if a != "--pool")
            meter.watch(name, proc.pid)
            placement[name] = cpus
        print(
            f"services: {', '.join(' '.join(a) for a, _ in plan)}; model {args.model}; "
            f"broker {broker.bootstrap}; logs {logs}",
            flush=True,
        )
        settings = MeshSettings(bootstrap_servers=broker.bootstrap, metrics_port=None)
        watcher = Watcher(settings, args.with_diarize)
        watcher.start()
        groups = {"stt-asr-batch": topics.CHUNKS_BATCH, "stt-asr-realtime": topics.CHUNKS_REALTIME}
        if args.with_diarize:
            groups["stt-diarize-batch"] = topics.CHUNKS_BATCH
        publisher = Publisher(settings, service="bench")
        clips = realtime_clips(work, args.realtime)
        backlog_file = batch_file(work, args.batch_seconds)

        # warm-up: both pools load their models and decode once
        warm = [rid for rid, _ in publish_files(clips[:3], publisher, priority="realtime", progress=False)]
        warm += [rid for rid, _ in publish_files([backlog_file], publisher, priority="batch", progress=False)]
        watcher.wait(watcher.transcribed(warm), 600, "the warm-up recordings", procs)
        time.sleep(5.0)  # let the batch pool's commit catch up before phase 1
        sampler = LagSampler(broker.bootstrap, groups)
        sampler.start()

        print(f"phase 1 (idle): {args.realtime} realtime clips, one every {args.interval:g} s", flush=True)
        meter.mark("idle start")
        idle_ids = stream(publisher, clips, args.interval, sent)
        meter.mark("idle end")
        watcher.wait(watcher.transcribed(idle_ids), 600, "phase 1 transcripts", procs)
        loads.append(("after phase 1", load()))

        print(
            f"phase 2 (backlog): {args.recordings} batch recordings of {args.batch_seconds:g} s", flush=True
        )
        t_backlog = time.time()
        backlog = [
            rid
            for rid, _ in publish_files(
                [backlog_file] * args.recordings, publisher, priority="batch", progress=False
            )
        ]
        busy_ids: list[str] = []
        streamer = threading.Thread(
            target=lambda: busy_ids.extend(stream(publisher, clips, args.interval, sent)), name="stream"
        )
        if args.stream_during_ingest:  # realtime recordings queue behind the backlog in ingest
            meter.mark("backlog start")
            streamer.start()
        watcher.wait(lambda s: all(r in s.metadata for r in backlog), 900, "ingest of the backlog", procs)
        t_queued = time.time()
        with watcher.seen.lock:
            batch_chunks = sum(watcher.seen.metadata[r]["chunk_count"] for r in backlog)
        done_before = sum(1 for (r, _) in list(watcher.seen.transcripts) if r in set(backlog))
        print(
            f"  backlog queued: {batch_chunks} chunks on {topics.CHUNKS_BATCH} after "
            f"{t_queued - t_backlog:.1f} s of ingest ({done_before} already transcribed); "
            f"{'realtime stream running' if args.stream_during_ingest else 'realtime stream starts'}",
            flush=True,
        )
        if not args.stream_during_ingest:
            meter.mark("backlog start")
            streamer.start()
        streamer.join()
        meter.mark("backlog end")
        watcher.wait(watcher.transcribed(busy_ids), 900, "phase 2 transcripts", procs)
        loads.append(("after phase 2 stream", load()))
        t_stream_done = time.time()

        def drained(_: Seen) -> bool:
            return (
                bool(sampler.samples)
                and sampler.samples[-1][0] > t_queued
                and sampler.samples[-1][1]["stt-asr-batch"] == 0
            )

        watcher.wait(
            lambda s: watcher.transcribed(backlog)(s) and drained(s),
            args.drain_timeout,
            "the batch backlog to drain",
            procs,
        )
        t_drained = sampler.samples[-1][0]
        with watcher.seen.lock:
            last_batch_ms = max(
                watcher.seen.transcripts[(r, q)][0]
                for r in backlog
                for q in range(watcher.seen.metadata[r]["chunk_count"])
            )
        if args.with_diarize:
            watcher.wait(
                lambda s: all(r in s.turns_ts for r in backlog + busy_ids),
                1800,
                "speaker turns of every recording",
                procs,
            )
        time.sleep(6.0)  # one more auto-commit interval: the realtime group's lag settles
        loads.append(("end", load()))
        final_lag = sampler.lag()
    finally:
        if sampler is not None:
            sampler.close()
        if watcher is not None:
            watcher.stopped.set()
            watcher.join(10)
        if publisher is not None:
            with contextlib.suppress(Exception):  # stopping the services comes first
                publisher.close(timeout_s=10)
        stop_services(procs)
        broker.stop()
        if guard is not None:
            guard.kill()
            guard.wait()
        if not args.keep_logs:
            shutil.rmtree(work, ignore_errors=True)

    seen = watcher.seen
    idle = latencies(seen, idle_ids)
    under = latencies(seen, busy_ids, before_ms=last_batch_ms)
    busy_all = latencies(seen, busy_ids)
    with seen.lock:
        q_idle = np.array([seen.transcripts[(r, 0)][1]["queue_ms"] for r in idle_ids])
        q_busy = np.array([seen.transcripts[(r, 0)][1]["queue_ms"] for r in busy_ids])
        p_idle = np.array([seen.transcripts[(r, 0)][1]["processing_ms"] for r in idle_ids])
        p_busy = np.array([seen.transcripts[(r, 0)][1]["processing_ms"] for r in busy_ids])
    print()
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; {pin.describe()}")
    print(
        f"model {args.model}; realtime stream: {args.realtime} clips of 4-8 s (one chunk each), "
        f"one every {args.interval:g} s; backlog: {args.recordings} recordings x "
        f"{args.batch_seconds:g} s = {batch_chunks} batch chunks"
    )
    print(
        "chunk latency = Kafka timestamp of the ChunkTranscript - Kafka timestamp of its "
        f"AudioChunk (timestamp types seen: {sorted(watcher.timestamp_types)}, 1 = CreateTime)"
    )
    print(
        f"  idle:    p50 {pct(idle, 50):7.0f} ms  p95 {pct(idle, 95):7.0f} ms  max "
        f"{idle.max():7.0f} ms  ({len(idle)} chunks; ASR queue_ms p50 {pct(q_idle, 50):.0f}, "
        f"processing_ms p50 {pct(p_idle, 50):.0f})"
    )
    print(
        f"  backlog: p50 {pct(under, 50):7.0f} ms  p95 {pct(under, 95):7.0f} ms  max "
        f"{under.max() if len(under) else float('nan'):7.0f} ms  ({len(under)} of "
        f"{len(busy_all)} chunks transcribed while the backlog was being worked; ASR queue_ms p50 "
        f"{pct(q_busy, 50):.0f}, processing_ms p50 {pct(p_busy, 50):.0f})"
    )
    ratio = pct(under, 95) / pct(idle, 95)
    print(
        f"  p95 backlog / p95 idle = {ratio:.2f} (target <= {TARGET}: "
        f"{'met' if ratio <= TARGET else 'NOT met'}); p50 ratio {pct(under, 50) / pct(idle, 50):.2f}"
    )
    e2e_idle, e2e_busy = end_to_end(seen, idle_ids, sent), end_to_end(seen, busy_ids, sent)
    print(
        f"  end to end (publish of the recording -> its transcript, ingest included): idle p50 "
        f"{pct(e2e_idle, 50):.0f} ms p95 {pct(e2e_idle, 95):.0f} ms; backlog p50 {pct(e2e_busy, 50):.0f}"
        f" ms p95 {pct(e2e_busy, 95):.0f} ms max {e2e_busy.max():.0f} ms"
        + (" (stream started with the backlog's publish)" if args.stream_during_ingest else "")
    )
    assert meter is not None
    print(f"  CPU, idle stream:    {meter.report('idle start', 'idle end', placement)}")
    print(f"  CPU, backlog stream: {meter.report('backlog start', 'backlog end', placement)}")
    print_lag(sampler.samples, t_backlog, t_queued)
    print(
        f"  backlog ingested in {t_queued - t_backlog:.1f} s; last batch transcript "
        f"{last_batch_ms / 1000 - t_backlog:.1f} s after the backlog was published; batch lag "
        f"back to 0 at {t_drained - t_backlog:.1f} s ({t_drained - t_queued:.1f} s after it was "
        f"queued; the realtime stream ended at {t_stream_done - t_backlog:.1f} s)"
    )
    print(f"  lag at the end: {final_lag}")
    if args.with_diarize:
        turns = [
            seen.turns_ts[r] - max(seen.chunk_ts[(r, q)] for q in range(seen.metadata[r]["chunk_count"]))
            for r in idle_ids
        ]
        print(f"  diarize realtime (idle): last chunk -> SpeakerTurns p50 {pct(np.array(turns), 50):.0f} ms")
    print("load averages (1, 5, 15 min): " + "; ".join(f"{k} {v}" for k, v in loads))
    return 0


def print_lag(samples: list[tuple[float, dict[str, int]]], t0: float, t_queued: float) -> None:
    """The batch group's lag from the backlog being queued until it is back to zero, every ~15 s
    (times from the backlog's publish)."""
    rows, next_t = [], t_queued
    for t, lag in samples:
        if t < t_queued:
            continue
        if t >= next_t or lag["stt-asr-batch"] == 0:
            rows.append(f"+{t - t0:.0f}s {lag['stt-asr-batch']}")
            next_t = t + 15.0
            if lag["stt-asr-batch"] == 0:
                break
    print("  batch lag (stt-asr-batch, chunks) over time: " + ", ".join(rows))


if __name__ == "__main__":
    sys.exit(main())

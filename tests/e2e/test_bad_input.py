"""The bad-input matrix through every entry point, against the real stack (tiny.en, real broker).

Every input is made here: WAV files with ``wave``, a 6-hour FLAC and a video-only MP4 with
PyAV (the decoder ingest itself uses; no ffmpeg binary is needed), bytes by hand. Each goes in
through the three ways producers have:

* **raw topic**: RecordingParts through ``mesh.Publisher`` (``source`` kafka), or bytes through
  a plain producer where the message itself is the bad input;
* **HTTP**: ``POST /v1/recordings`` on an intake process started here;
* **CLI**: ``stt-mesh publish FILE...`` in a subprocess.

What is right for each, and why:

* Ingest is the one judge of content. A producer does not decode (the CLI reads a file part by
  part and may run where no decoder is), so the CLI publishes whatever file it can read and
  exits 0 with the recording id; the recording then ends in a RecordingFailed with a
  machine-readable ``error_type`` and a reason. It refuses up front only what it cannot
  publish at all: a path that is not a file (exit 2, "no such file").
* The HTTP intake decodes before answering, so everything ingest refuses is a 4xx at once
  (422 with the reason, 413 for size, 408 for a stalled body) and never a 5xx; a 422 also
  publishes the RecordingFailed, so the failure is on the recordings topic like any other.
* A message the raw topic's consumer cannot decode (not Avro, a writer schema it does not
  know, no schema header) cannot become a RecordingFailed, since its recording id is unknown:
  it is a DeadLetter on ``stt.recordings.raw.v1.dlq`` with the reason.
* Legitimate but extreme: a 6-hour file exceeds ingest's 4-hour ``STT_INGEST_MAX_DURATION_S``
  (the bound on a worker's memory) and is refused from the duration its header declares,
  without decoding it; a 1 kHz file is below ``STT_INGEST_MIN_SAMPLE_RATE`` (8 kHz, telephone
  audio: below it there is no intelligible speech to transcribe, so an empty transcript would
  be a silent loss) and refused; 8 channels kept apart are within ``STT_INGEST_MAX_CHANNELS``
  and transcribed channel by channel, 10 are refused when kept apart and mixed to mono
  otherwise.
* A message larger than the topic maximum (10 MiB, ``max.message.bytes``): ``mesh.Publisher``
  refuses it before it leaves (``MessageTooLarge``: librdkafka's ``message.max.bytes``), a
  producer whose own limit is higher gets the broker's refusal in its delivery report; the CLI
  never sends one (1 MB parts), so an 11 MiB file arrives whole as parts and is judged on its
  content; the HTTP intake never puts an upload on a topic (it publishes <= 1 MB chunks), its
  limit is ``STT_INGEST_MAX_UPLOAD_BYTES`` (413, refused from Content-Length unread).
* A part upload that never completes: ingest fails it after ``STT_INGEST_PART_TIMEOUT_S``
  (60 s in the e2e stack) as ``missing_parts``; an HTTP body that stops arriving is answered
  408 after the same setting (5 s for the intake here); a client that goes away mid-body
  leaves nothing behind. The CLI sends every part and flushes before it exits, so a CLI killed
  half-way is the raw-topic case.

Everything is published first (bad inputs, then one good clip of the pyannote sample call per
entry point), then every outcome is awaited together; the good clips and the accepted extreme
inputs must complete (a recording-scope RedactedTranscript and QualityReport), so the bad
inputs stopped nothing.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from confluent_kafka import KafkaError, Producer

from mesh import MeshSettings, Output, Publisher, topics
from mesh.serde import SCHEMA_HEADER, AvroSerde
from mesh.trace import new_trace_id
from services.ingest import events as ingest_events
from services.ingest.cli import iter_parts
from services.ingest.sniff import sniff
from stt_mesh.demo import finished, recording_quality
from stt_mesh.follow import Events
from tests.e2e.conftest import E2E_ENV
from tests.kafka_helpers import wait_for
from tests.service_process import terminate
from tests.unit.ingest.test_decode_extremes import video_only_mp4

pytestmark = pytest.mark.e2e

TENANT = "e2e-bad-input"
RATE = 16000
TOPIC_MAX = 10 * 1024 * 1024  # infra/topics.toml max.message.bytes
PART_TIMEOUT_S = float(E2E_ENV["STT_INGEST_PART_TIMEOUT_S"])
HTTP_PART_TIMEOUT_S = 5.0
WAIT_S = 600.0

ACCEPTED = "accepted"  # RecordingMetadata, then a recording-scope transcript and quality report


@dataclass(frozen=True)
class FileInput:
    """A file every entry point can send; ``expect`` is ingest's error_type or ACCEPTED."""

    name: str
    filename: str
    content_type: str
    expect: str
    reason: str = ""  # a regex the RecordingFailed reason (and the HTTP detail) must match
    split_channels: bool = False
    channels: int = 1
    entries: tuple[str, ...] = ("raw", "http", "cli")


# fmt: off
FILES = [
    FileInput("zero-byte", "zero.wav", "audio/x-wav", "empty", r"^the recording has no bytes$"),
    FileInput("random bytes", "random.bin", "application/octet-stream", "not_audio",
              r"^no audio format recognised in the bytes$"),
    FileInput("text named .wav", "notes.wav", "audio/x-wav", "not_audio",
              r"^no audio format recognised in the bytes$"),
    FileInput("truncated WAV", "truncated.wav", "audio/x-wav", "truncated",
              r"^WAV data chunk declares 192000 bytes but only 96000 are present$"),
    FileInput("WAV header lying about its size", "lying.wav", "audio/x-wav", "truncated",
              r"^WAV data chunk declares 1920000 bytes but only 192000 are present$"),
    FileInput("MP4 with video and no audio", "video.mp4", "video/mp4", "not_audio",
              r"^the mp4 file holds video but no audio stream$"),
    FileInput("6-hour FLAC", "six-hours.flac", "audio/flac", "too_long",
              r"^21600 s of audio exceeds the 14400 s limit$"),
    FileInput("1 kHz sample rate", "1khz.wav", "audio/x-wav", "sample_rate_too_low",
              r"^the audio is sampled at 1000 Hz; speech needs at least 8000 Hz$"),
    FileInput("8 channels, kept apart", "8ch.wav", "audio/x-wav", ACCEPTED, split_channels=True,
              channels=8),
    FileInput("10 channels, kept apart", "10ch.wav", "audio/x-wav", "too_many_channels",
              r"^10 channels; split_channels allows at most 8$", split_channels=True,
              channels=10),
    FileInput("10 channels, mixed", "10ch.wav", "audio/x-wav", ACCEPTED, channels=10),
    # raw topic: one message this large is refused before ingest (see RAW_ONLY)
    FileInput("11 MiB file (over the topic maximum)", "eleven-mib.bin", "application/octet-stream",
              "not_audio", r"^no audio format recognised in the bytes$", entries=("http", "cli")),
]
# fmt: on
GOOD = FileInput("good clip after the bad ones", "good.wav", "audio/x-wav", ACCEPTED)


# -- inputs -----------------------------------------------------------------------------------
def sample_wav() -> Path:
    """pyannote's sample call, found without importing pyannote.audio (and torch with it)."""
    spec = importlib.util.find_spec("pyannote.audio")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "sample" / "sample.wav"


def sample_clip(start_s: float = 6.5, end_s: float = 12.6) -> np.ndarray:
    """Speech from the pyannote sample call ("Hello? Hello? Oh, hello. I didn't know ..."), s16."""
    with wave.open(str(sample_wav())) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2)
        w.setpos(int(start_s * RATE))
        return np.frombuffer(w.readframes(int((end_s - start_s) * RATE)), dtype="<i2")


def wav_bytes(rows: np.ndarray, rate: int = RATE) -> bytes:
    """A PCM WAV of int16 ``rows`` shaped (channels, samples)."""
    rows = np.atleast_2d(rows)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(rows.shape[0])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.ascontiguousarray(rows.T).astype("<i2").tobytes())
    return buf.getvalue()


def tone(seconds: float, rate: int, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2")


def write_silent_flac(path: Path, hours: float, rate: int = 8000) -> None:
    """A real ``hours``-long FLAC (silence after a one-second tone), encoded straight to disk in
    16384-sample blocks: 6 hours at 8 kHz is about 140 kB and three seconds of CPU, where a
    6-hour WAV would be 173 MB even at 8 kHz and 8 bits (691 MB at 16 kHz, over the upload
    limit)."""
    block = rate * 10
    total = int(hours * 3600 * rate)
    silence = np.zeros((1, block), dtype=np.int16)
    first = silence.copy()
    first[0, :rate] = tone(1.0, rate)
    with av.open(str(path), "w", format="flac") as out:
        stream = out.add_stream("flac", rate=rate, layout="mono", options={"frame_size": "16384"})
        stream.codec_context.format = "s16"
        for done in range(0, total, block):
            frame = av.AudioFrame.from_ndarray(first if done == 0 else silence, format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate, done
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def multichannel(channels: int, speech: np.ndarray) -> bytes:
    """Speech on channel 0, silence on the others."""
    rows = np.zeros((channels, speech.size), dtype="<i2")
    rows[0] = speech
    return wav_bytes(rows)


def make_inputs(folder: Path) -> dict[str, Path]:
    rng = np.random.default_rng(20261201)
    clip = sample_clip()
    good = wav_bytes(clip)
    tone_wav = wav_bytes(tone(6.0, RATE))  # 192,000 bytes of samples
    data_at = tone_wav.index(b"data") + 4
    short = sample_clip(8.4, 12.6)
    contents = {
        "zero.wav": b"",
        "random.bin": rng.bytes(64 * 1024),
        "notes.wav": b"Meeting notes: call the customer back on Monday about the invoice.\n" * 40,
        "truncated.wav": wav_bytes(tone(6.0, RATE))[: 44 + 96000],
        "lying.wav": tone_wav[:data_at] + struct.pack("<I", 10 * 192000) + tone_wav[data_at + 4 :],
        "video.mp4": video_only_mp4(),
        "1khz.wav": wav_bytes(tone(3.0, 1000, freq=200.0), rate=1000),
        "8ch.wav": multichannel(8, short),
        "10ch.wav": multichannel(10, short),
        "eleven-mib.bin": rng.bytes(11 * 1024 * 1024),
        "good.wav": good,
    }
    paths = {}
    for name, data in contents.items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    paths["six-hours.flac"] = folder / "six-hours.flac"
    write_silent_flac(paths["six-hours.flac"], hours=6)
    assert sniff(contents["random.bin"]) is None and sniff(contents["eleven-mib.bin"]) is None
    return paths


# -- what was observed ------------------------------------------------------------------------
@dataclass
class Sent:
    """One input sent through one entry point, and what is known of it right away."""

    name: str
    entry: str
    recording_id: str | None = None
    status: int | None = None  # HTTP
    body: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None  # CLI
    stderr: str = ""
    error: str = ""  # a producer-side error


@dataclass
class Matrix:
    sent: dict[tuple[str, str], Sent]
    events: Events
    intake_log: Path
    intake_alive: bool
    seconds: dict[str, float]

    def of(self, name: str, entry: str) -> dict[str, list[dict[str, Any]]]:
        rid = self.sent[(name, entry)].recording_id
        assert rid, f"{name} via {entry} has no recording id: {self.sent[(name, entry)]}"
        return self.events.by_id[rid]


# -- the raw topic -----------------------------------------------------------------------------
def part_dicts(
    data: bytes, filename: str, content_type: str, *, split_channels: bool = False, part_size: int = 1_000_000
) -> list[dict[str, Any]]:
    """RecordingParts as a Kafka producer of the contract writes them."""
    common = {
        "tenant": TENANT,
        "source": "kafka",
        "priority": "realtime",
        "split_channels": split_channels,
        "hints": ingest_events.make_hints(),
        "metadata": {"bad_input": "raw"},
    }
    ids = (f"bad-raw-{uuid.uuid4().hex[:12]}", new_trace_id())
    parts = list(iter_parts(io.BytesIO(data), len(data), ids, filename, part_size, common))
    for part in parts:
        part["content_type"] = content_type
    return parts


def send_parts(pub: Publisher, parts: list[dict[str, Any]]) -> str:
    for part in parts:
        pub.send(Output(topic=topics.RAW, schema="RecordingPart", value=part))
    pub.flush(60)
    return parts[0]["recording_id"]


def raw_entry(bootstrap: str, paths: dict[str, Path], sent: dict[tuple[str, str], Sent]) -> None:
    pub = Publisher(MeshSettings(bootstrap_servers=bootstrap, metrics_port=None), service="e2e-bad-input")
    try:
        # first, so that its part timeout runs while the rest is sent: 2 of its 3 parts
        stalled = part_dicts(paths["good.wav"].read_bytes(), "stalled.wav", "audio/x-wav", part_size=80_000)
        assert len(stalled) == 3
        sent[("part upload that never completes", "raw")] = Sent(
            "part upload that never completes", "raw", send_parts(pub, stalled[:2])
        )
        for f in FILES:
            if "raw" in f.entries:
                parts = part_dicts(
                    paths[f.filename].read_bytes(),
                    f.filename,
                    f.content_type,
                    split_channels=f.split_channels,
                )
                sent[(f.name, "raw")] = Sent(f.name, "raw", send_parts(pub, parts))
        undecodable(bootstrap, pub, sent)
        oversized(bootstrap, pub, sent)
        good = part_dicts(paths["good.wav"].read_bytes(), "good.wav", "audio/x-wav")
        sent[(GOOD.name, "raw")] = Sent(GOOD.name, "raw", send_parts(pub, good))
    finally:
        pub.close()


def undecodable(bootstrap: str, pub: Publisher, sent: dict[tuple[str, str], Sent]) -> None:
    """Messages no consumer can read, keyed so their DeadLetters can be found."""
    [part] = part_dicts(b"RIFF", "x.wav", "audio/x-wav")
    body, headers = AvroSerde().encode("RecordingPart", part)
    cases = {
        # the RecordingPart schema named, a body that is not one: a string length past the end
        "malformed Avro": (b"\xfe\xff\xff\xff\x0fnot avro at all", headers),
        # a well-formed RecordingPart under a writer schema nobody registered
        "unknown schema fingerprint": (body, [(SCHEMA_HEADER, b"0123456789abcdef")]),
        "no schema header": (body, []),
    }
    for name, (value, hdrs) in cases.items():
        key = f"bad-raw-{name.replace(' ', '-')}-{uuid.uuid4().hex[:8]}"
        pub.send_raw(topics.RAW, value, key.encode(), list(hdrs))
        sent[(name, "raw")] = Sent(name, "raw", key)
    pub.flush(60)


def oversized(bootstrap: str, pub: Publisher, sent: dict[tuple[str, str], Sent]) -> None:
    """One RecordingPart of 11 MiB: the mesh's publisher refuses to send it; a producer allowed
    larger messages sends it and the broker refuses it (the topic's max.message.bytes)."""
    name = "one message over the topic maximum"
    data = os.urandom(11 * 1024 * 1024)
    [part] = part_dicts(data, "huge.bin", "application/octet-stream", part_size=len(data))
    try:
        pub.send(Output(topic=topics.RAW, schema="RecordingPart", value=part))
        pub.flush(60)
        mesh_error = "sent"
    except Exception as exc:  # the error is the observation
        mesh_error = f"{type(exc).__name__}: {exc}"
    value, headers = AvroSerde().encode("RecordingPart", part)
    producer = Producer(
        {"bootstrap.servers": bootstrap, "message.max.bytes": 2 * TOPIC_MAX, "compression.type": "none"}
    )
    reports: list[Any] = []
    producer.produce(
        topics.RAW,
        value,
        part["recording_id"].encode(),
        headers=list(headers),
        on_delivery=lambda err, _msg: reports.append(err),
    )
    producer.flush(60)
    del producer
    broker_error = str(reports[0]) if reports and reports[0] is not None else "delivered"
    code = reports[0].code() if reports and reports[0] is not None else None
    sent[(name, "raw")] = Sent(
        name,
        "raw",
        part["recording_id"],
        error=json.dumps({"publisher": mesh_error, "broker": broker_error, "broker_code": code}),
    )


# -- HTTP ---------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def intake(stack: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Any]]:
    """An HTTP intake against the stack's broker, with a 5 s stalled-body timeout."""
    port = free_port()
    log = tmp_path_factory.mktemp("bad-input-intake") / "intake.log"
    env = {
        **os.environ,
        "STT_BOOTSTRAP_SERVERS": stack,
        "STT_METRICS_PORT": "0",
        "STT_INGEST_HTTP_HOST": "127.0.0.1",
        "STT_INGEST_HTTP_PORT": str(port),
        "STT_INGEST_RESULTS_URL": "none",
        "STT_INGEST_PART_TIMEOUT_S": str(HTTP_PART_TIMEOUT_S),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.ingest", "http"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield f"http://127.0.0.1:{port}", log, proc
    finally:
        terminate(proc)


def healthy(base: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def post_file(base: str, f: FileInput, path: Path) -> Sent:
    import httpx

    query = {"tenant": TENANT, "priority": "realtime", "metadata": '{"bad_input": "http"}'}
    if f.split_channels:
        query["split_channels"] = "true"
    resp = httpx.post(
        f"{base}/v1/recordings",
        params=query,
        timeout=120,
        files={"file": (f.filename, path.read_bytes(), f.content_type)},
    )
    body = resp.json()
    return Sent(f.name, "http", body.get("recording_id"), status=resp.status_code, body=body)


def raw_request(base: str, head: str, body: bytes, *, then: str, timeout_s: float) -> Sent:
    """Send ``head`` and ``body`` on a socket, then wait for the answer or hang up."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=timeout_s)
    try:
        sock.sendall(head.encode() + b"\r\n\r\n" + body)
        if then == "hang up":
            time.sleep(0.5)
            return Sent("", "http")
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            piece = sock.recv(65536)
            if not piece:
                break
            data += piece
    finally:
        sock.close()
    status = int(data.split(b" ", 2)[1])
    return Sent("", "http", status=status, body=json.loads(data.split(b"\r\n\r\n", 1)[1]))


def _length(data: bytes) -> int:
    match = re.search(rb"content-length: *(\d+)", data, flags=re.I)
    return int(match.group(1)) if match else 1 << 30


def http_entry(base: str, paths: dict[str, Path], sent: dict[tuple[str, str], Sent]) -> None:
    for f in FILES:
        if "http" in f.entries:
            sent[(f.name, "http")] = post_file(base, f, paths[f.filename])
    over = "body declared over the upload limit"
    sent[(over, "http")] = raw_request(
        base,
        "POST /v1/recordings HTTP/1.1\r\nHost: t\r\nContent-Type: audio/wav\r\n"
        f"Content-Length: {600 * 1024 * 1024}",
        b"",
        then="answer",
        timeout_s=30,
    )
    partial = b"RIFF" + bytes(996)
    head = "POST /v1/recordings HTTP/1.1\r\nHost: t\r\nContent-Type: audio/wav\r\nContent-Length: 100000"
    sent[("upload that stops mid-body", "http")] = raw_request(
        base, head, partial, then="answer", timeout_s=HTTP_PART_TIMEOUT_S + 30
    )
    raw_request(base, head, partial, then="hang up", timeout_s=10)
    sent[("client gone mid-body", "http")] = Sent("client gone mid-body", "http")
    sent[(GOOD.name, "http")] = post_file(base, GOOD, paths["good.wav"])


# -- the CLI -------------------------------------------------------------------------------------
def cli(bootstrap: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STT_BOOTSTRAP_SERVERS": bootstrap}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "stt_mesh.cli",
            "publish",
            "--tenant",
            TENANT,
            "--priority",
            "realtime",
            *map(str, args),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def cli_entry(
    bootstrap: str,
    paths: dict[str, Path],
    folder: Path,
    sent: dict[tuple[str, str], Sent],
    seconds: dict[str, float],
    t0: float,
) -> None:
    """Three commands: the files kept apart by channel, then every other file with the good
    clip last, then a path that is not a file."""
    for split in (True, False):
        batch = [f for f in FILES if "cli" in f.entries and f.split_channels == split]
        batch += [] if split else [GOOD]
        flags = ["--split-channels"] if split else []
        done = cli(bootstrap, *flags, *(paths[f.filename] for f in batch))
        ids = [line.split("\t")[0] for line in done.stdout.splitlines() if "\ttrace_id=" in line]
        assert done.returncode == 0 and len(ids) == len(batch), done.stderr[-2000:]
        for f, rid in zip(batch, ids, strict=True):
            sent[(f.name, "cli")] = Sent(f.name, "cli", rid, exit_code=done.returncode)
    missing = cli(bootstrap, folder / "no-such-call.wav")
    sent[("file that does not exist", "cli")] = Sent(
        "file that does not exist", "cli", exit_code=missing.returncode, stderr=missing.stderr
    )
    seconds["cli sent"] = time.monotonic() - t0


def collect(errors: list[BaseException], target: Callable[..., None], *args: Any) -> Callable[[], None]:
    """``target(*args)`` for a thread, its exception kept for the caller."""

    def run() -> None:
        try:
            target(*args)
        except BaseException as exc:
            errors.append(exc)

    return run


# -- the whole matrix ---------------------------------------------------------------------------
def settled(
    sent: dict[tuple[str, str], Sent], seconds: dict[str, float], t0: float
) -> Callable[[Events], bool]:
    """Every recording sent has its outcome: failed, dead-lettered or finished. When each one
    got it goes into ``seconds`` (under "<input> via <entry>")."""

    def done(ev: Events) -> bool:
        waiting = False
        for (name, entry), s in sent.items():
            if (
                s.recording_id is None
                or s.error
                or (s.status is not None and s.status >= 400 and "recording_id" not in s.body)
            ):
                continue  # refused before it became a recording
            got = ev.by_id[s.recording_id]
            if got["DeadLetter"] or finished(got):
                seconds.setdefault(f"{name} via {entry}", time.monotonic() - t0)
            else:
                waiting = True
        return not waiting

    return done


@pytest.fixture(scope="module")
def matrix(
    stack: str, intake: tuple[str, Path, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Matrix]:
    base, log, proc = intake
    folder = tmp_path_factory.mktemp("bad-input")
    t0 = time.monotonic()
    paths = make_inputs(folder)
    seconds = {"inputs": time.monotonic() - t0}
    sent: dict[tuple[str, str], Sent] = {}
    raw_entry(stack, paths, sent)
    seconds["raw sent"] = time.monotonic() - t0
    # the CLI's subprocesses start while the HTTP requests are answered
    errors: list[BaseException] = []
    clis = threading.Thread(target=collect(errors, cli_entry, stack, paths, folder, sent, seconds, t0))
    clis.start()
    assert wait_for(lambda: healthy(base), 300), f"the HTTP intake never came up: {log.read_text()}"
    http_entry(base, paths, sent)
    seconds["http sent"] = time.monotonic() - t0
    clis.join(600)
    assert not errors and not clis.is_alive(), errors
    ids = {s.recording_id for s in sent.values() if s.recording_id}
    ev = Events(
        MeshSettings(bootstrap_servers=stack, metrics_port=None),
        [topics.RECORDINGS, topics.REDACTED, topics.QUALITY, topics.dlq(topics.RAW)],
        ids,
    )
    try:
        ev.wait(settled(sent, seconds, t0), WAIT_S)
        seconds["settled"] = time.monotonic() - t0
        m = Matrix(sent, ev, log, proc.poll() is None and healthy(base), seconds)
        print_matrix(m)
        yield m
    finally:
        ev.close()


def outcome_line(m: Matrix, s: Sent) -> str:
    parts = []
    if s.status is not None:
        parts.append(f"{s.status} {s.body.get('error', '')}: {s.body.get('detail', '')}".strip())
    if s.exit_code is not None and s.exit_code != 0:
        parts.append(f"exit {s.exit_code}: {s.stderr.strip()}")
    if s.error:
        parts.append(s.error)
    if s.recording_id:
        got = m.events.by_id[s.recording_id]
        for f in got["RecordingFailed"][:1]:
            parts.append(f"RecordingFailed {f['error_type']}: {f['reason']}")
        for d in got["DeadLetter"][:1]:
            parts.append(f"DeadLetter {d['error_type']}: {d['reason']}")
        if got["RecordingMetadata"] and finished(got) and not got["RecordingFailed"]:
            meta = got["RecordingMetadata"][0]
            parts.append(f"completed: {meta['channels']} channels, {meta['chunk_count']} chunks")
    return "; ".join(parts) or "(nothing)"


def print_matrix(m: Matrix) -> None:
    print("\nbad-input matrix (input | entry | outcome):")
    for (name, entry), s in sorted(m.sent.items()):
        print(f"  {name} | {entry} | {outcome_line(m, s)}")
    steps = {k: round(v, 1) for k, v in m.seconds.items() if " via " not in k}
    slowest = sorted(((v, k) for k, v in m.seconds.items() if " via " in k), reverse=True)[:5]
    print(
        f"  seconds from the start: {steps}; last outcomes: {', '.join(f'{k} {v:.0f}' for v, k in slowest)}"
    )


# -- the assertions, row by row ----------------------------------------------------------------
FILE_ROWS = [(f, entry) for f in FILES for entry in f.entries]


def assert_failed(got: dict[str, list[dict[str, Any]]], f: FileInput, source: str) -> None:
    assert got["RecordingFailed"], f"no RecordingFailed for {f.name}: {dict(got)}"
    failed = got["RecordingFailed"][0]
    assert failed["error_type"] == f.expect, failed
    assert re.search(f.reason, failed["reason"]), failed["reason"]
    assert failed["source"] == source and failed["tenant"] == TENANT
    assert not got["RecordingMetadata"], "a refused recording must not also be accepted"


def assert_completed(got: dict[str, list[dict[str, Any]]], f: FileInput) -> None:
    assert not got["RecordingFailed"], got["RecordingFailed"]
    assert got["RecordingMetadata"], f"{f.name} was never ingested: {dict(got)}"
    meta = got["RecordingMetadata"][0]
    assert meta["channels"] == f.channels and meta["split_channels"] == f.split_channels
    streams = f.channels if f.split_channels else 1
    assert meta["chunk_count"] >= streams
    assert finished(got), f"{f.name} did not complete: { {k: len(v) for k, v in got.items()} }"
    assert recording_quality(got) is not None


@pytest.mark.parametrize("f,entry", FILE_ROWS, ids=[f"{f.name}-{e}" for f, e in FILE_ROWS])
def test_each_file_input_ends_in_its_outcome_at_each_entry_point(
    matrix: Matrix, f: FileInput, entry: str
) -> None:
    s = matrix.sent[(f.name, entry)]
    if entry == "cli":
        assert s.exit_code == 0  # the CLI published it; ingest judges the content
    if entry == "http":
        assert s.status is not None and s.status < 500, s
        if f.expect == ACCEPTED:
            assert s.status == 202 and s.body["status"] == "queued", s.body
        else:
            assert s.status == 422 and s.body["error"] == f.expect, s.body
            assert re.search(f.reason, s.body["detail"]), s.body
    got = matrix.of(f.name, entry)
    if f.expect == ACCEPTED:
        assert_completed(got, f)
    else:
        assert_failed(got, f, {"raw": "kafka", "http": "http", "cli": "cli"}[entry])


@pytest.mark.parametrize("entry", ["raw", "http", "cli"])
def test_a_good_recording_sent_after_the_bad_ones_completes(matrix: Matrix, entry: str) -> None:
    got = matrix.of(GOOD.name, entry)
    assert_completed(got, GOOD)
    [final] = [r for r in got["RedactedTranscript"] if r["scope"] == "recording"][-1:]
    text = json.dumps(final).lower()
    assert "hello" in text, final


@pytest.mark.parametrize(
    "name,reason",
    [
        ("malformed Avro", r"^cannot decode stt\.v1\.RecordingPart: "),
        ("unknown schema fingerprint", r"^unknown writer schema fingerprint 0123456789abcdef$"),
        ("no schema header", r"^no stt-schema header and no registry framing$"),
    ],
)
def test_an_undecodable_raw_message_is_dead_lettered_with_its_reason(
    matrix: Matrix, name: str, reason: str
) -> None:
    got = matrix.of(name, "raw")
    assert got["DeadLetter"], f"no dead letter for {name}"
    letter = got["DeadLetter"][0]
    assert letter["error_type"] == "SerializationError" and letter["service"] == "ingest"
    assert re.search(reason, letter["reason"]), letter["reason"]
    assert letter["source_topic"] == topics.RAW and letter["payload"]


def test_a_message_over_the_topic_maximum_is_refused_with_a_clear_producer_error(matrix: Matrix) -> None:
    s = matrix.sent[("one message over the topic maximum", "raw")]
    errors = json.loads(s.error)
    # refused before it left, naming the topic, the size and the limit
    assert re.match(
        r"MessageTooLarge: a \d+-byte message for stt\.recordings\.raw\.v1 exceeds "
        r"message\.max\.bytes \(10485760",
        errors["publisher"],
    ), errors
    assert errors["broker_code"] == KafkaError.MSG_SIZE_TOO_LARGE, errors
    assert "Message size too large" in errors["broker"], errors
    assert s.recording_id and not any(matrix.events.by_id[s.recording_id].values()), (
        "nothing of it may reach ingest"
    )


def test_a_part_upload_that_never_completes_fails_as_missing_parts(matrix: Matrix) -> None:
    got = matrix.of("part upload that never completes", "raw")
    assert got["RecordingFailed"], "the stalled upload was never failed"
    failed = got["RecordingFailed"][0]
    assert failed["error_type"] == "missing_parts"
    assert failed["reason"] == (f"received 2 of 3 parts, none for {PART_TIMEOUT_S:.0f} s; missing parts: 2")
    assert failed["size_bytes"] == 160_000 and failed["filename"] == "stalled.wav"


def test_the_http_intake_answers_4xx_never_5xx_and_stays_up(matrix: Matrix) -> None:
    http = {
        name: s.status for (name, entry), s in matrix.sent.items() if entry == "http" and s.status is not None
    }
    assert all(400 <= code < 500 or code == 202 for code in http.values()), http
    over = matrix.sent[("body declared over the upload limit", "http")]
    assert over.status == 413 and over.body["error"] == "too_large"
    assert over.body["detail"] == f"the body has {600 * 1024 * 1024} bytes; the limit is {512 * 1024 * 1024}"
    stalled = matrix.sent[("upload that stops mid-body", "http")]
    assert stalled.status == 408 and stalled.body["error"] == "upload_stalled"
    assert stalled.body["detail"] == (
        f"no bytes arrived for {HTTP_PART_TIMEOUT_S:g} s after 1000 of 100000 bytes; send the recording again"
    )
    log = matrix.intake_log.read_text()
    assert "client went away after 1000 of 100000 bytes" in log
    assert matrix.intake_alive, log[-3000:]
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-3000:]


def test_the_cli_refuses_a_file_it_cannot_read_with_exit_2(matrix: Matrix) -> None:
    s = matrix.sent[("file that does not exist", "cli")]
    assert s.exit_code == 2
    assert s.stderr.strip().startswith("no such file: ") and "no-such-call.wav" in s.stderr

"""Survival: every service is killed with SIGKILL in turn while recordings flow, and started
again; then the broker is restarted. Every recording published completes, no chunk is lost,
and the ``calls`` view has exactly one row per recording with the right counts.

The stack is this module's own (its own broker, ClickHouse folder, diarize and quality state
folders), so killing things does not disturb the stack the other e2e modules share. A thread
publishes short recordings cut from the pyannote sample call at a steady rate from start to
end, alternating realtime and batch priority (both pools of asr and diarize get traffic); one
in three travels as several RecordingParts sent a moment apart, so ingest holds a half-received
upload. Each service is killed (``kill -9``: no handler, flush or commit runs) while it has work
in hand (see ``in_hand``: a handler call running, an upload half received, a message just
taken) and started again at once with the same argv and environment, as a supervisor restarts
a crashed container. At most two services start again at once and never both pools of one
service, as a rolling disruption would have it (the diarize pools first: theirs is the slowest
start). Then the broker is stopped and started again on the same data folder and port while
recordings keep coming.

What must hold, and why these are the invariants under at-least-once delivery:

* every recording published (every part acknowledged by Kafka) completes: a RecordingMetadata,
  a recording-scope RedactedTranscript with a speaker on every segment, a recording-scope
  QualityReport that is not partial and an LlmOutcome, and no RecordingFailed or dead letter;
* no chunk is lost: every AudioChunk seq 0..chunk_count-1 is on the recording's chunk topic and
  has a ChunkTranscript on ``stt.transcripts.v1`` (by recording_id and seq);
* duplicates on a topic are allowed: a process killed after its outputs were acknowledged but
  before its input offsets were committed sends them again on replay. What must not be
  duplicated is the result: after dedup by the consumers' idempotency keys ((recording_id,
  seq) for chunks and chunk transcripts, (recording_id, scope) for the final transcript and
  quality report) there is one final result per recording, and ClickHouse, which keeps the
  latest version per identity, shows it once: ``calls`` has count() == uniqExact(recording_id)
  == uniqExact(trace_id) == recordings published, every row completed with its recording's
  chunk count, duration, priority, model, speakers, redaction and LLM outcome; one
  recording-scope transcript row and chunk_count chunk-scope quality rows per recording.

Services must survive the broker restart by themselves or exit non-zero for their supervisor
(``ConsumerStalled``, see ``mesh.rebalance``): the supervisor here restarts any process that
exits, and such exits are reported (none so far: every service lost its assignment, rejoined
and consumed again within seconds of the broker's return). A process that exits while the
broker is up and nobody killed it fails the test. The consumers' session timeout is 10 s, so
a killed member leaves its group in seconds rather than after the 45 s default, and redaction
waits up to 600 s for speaker turns (a diarize pool may take minutes to start again on a busy
machine); the other settings are the e2e stack's.

This test found two bugs, now fixed, each with a test of its own: a partition revoked while
the loop had it paused for long work came back paused for good (``mesh.rebalance``,
tests/integration/test_pause_rebalance.py), and redaction's watch of the diarizer groups froze
after a broker restart (``mesh.groups``, tests/integration/test_groups.py).
"""

from __future__ import annotations

import contextlib
import threading
import time
import wave
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from infra.local import LocalKafka, create_topics, topic_specs
from mesh import DeliveryError, MeshSettings, Output, Publisher, topics
from mesh.trace import new_trace_id
from services.ingest.cli import iter_parts
from services.ingest.events import make_hints, new_recording_id
from stt_mesh.analysis import Results, ResultStoreError
from stt_mesh.demo import SERVICES
from stt_mesh.follow import Events
from tests.e2e.conftest import E2E_ENV, own_sink_env, sample_dir
from tests.kafka_helpers import wait_for
from tests.service_process import SupervisedService, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

TENANT = "e2e-survive"
CLIPS_S = [(0.0, 7.0), (7.0, 13.5), (13.5, 20.0), (20.0, 26.0), (23.0, 30.0)]  # of sample.wav
EVERY_S = 4.0  # one recording starts every EVERY_S seconds
SMALL_PART = 64_000  # one recording in three: about four RecordingParts ...
PART_GAP_S = 0.4  # ... sent this far apart
KILL_ORDER = [
    "diarize-realtime",
    "ingest",
    "asr-realtime",
    "asr-batch",
    "diarize-batch",
    "redact",
    "quality",
    "sink",
    "examples.call_summary",
]
IN = "stt_messages_in_total"
# at most two services start again at once (model loads pile up on two cores), and never both
# pools of one service: a call always has a diarizer (redaction waits for turns only while one
# is deployed, see the README) and an ASR pool
RESTARTING_AT_ONCE = 2
READY_AFTER_KILL_S = 300.0
MIN_RECORDINGS = 30  # published before the flow stops: the kills alone may take less time

SURVIVAL_ENV = {
    # a killed member leaves its group after 10 s rather than 45 s (quality: Faust's settings)
    "STT_SESSION_TIMEOUT_MS": "10000",
    "BROKER_SESSION_TIMEOUT": "10",
    "BROKER_HEARTBEAT_INTERVAL": "1",
    # a consumer the broker restart left without an assignment gives up in a minute, not six
    "STT_UNASSIGNED_UNHEALTHY_S": "60",
    # a diarize pool killed on a busy CI machine can take minutes to load its model again; the
    # calls it holds must still get their speakers (after 120 s redact would send them without)
    "STT_REDACT_TURNS_TIMEOUT_S": "600",
    # short recordings in several chunks each: "no chunk lost" is about more than one chunk
    "STT_INGEST_CHUNK_TARGET_S": "3",
    "STT_INGEST_CHUNK_MAX_S": "5",
}
FINAL_TOPICS = [
    topics.RECORDINGS,
    topics.chunks_topic("realtime"),
    topics.chunks_topic("batch"),
    topics.TRANSCRIPTS,
    topics.DIARIZATION,
    topics.REDACTED,
    topics.QUALITY,
    topics.LLM_OUTCOMES,
]


@dataclass
class Sent:
    recording_id: str
    trace_id: str
    priority: str
    duration_s: float
    parts: int
    resent: int = 0  # parts sent again by a new producer after a delivery failure


@dataclass
class Upload:
    """A multi-part recording being published: parts acknowledged so far."""

    recording_id: str
    part_count: int
    acked: int = 0


class Flow:
    """Publishes a recording every ``every_s`` seconds from a thread until ``stop``; a part
    Kafka did not acknowledge is sent again (same ids) from a new producer, as a producer
    that retries does; only fully acknowledged recordings count as published."""

    def __init__(self, bootstrap: str, clips: list[Path], every_s: float) -> None:
        # librdkafka's own log lines (a connection refused every few ms while the broker is
        # down) would drown the test's output; delivery failures still raise DeliveryError
        self.settings = MeshSettings(
            bootstrap_servers=bootstrap, metrics_port=None, kafka_extra={"log_level": "2"}
        )
        self.clips, self.every_s = clips, every_s
        self.published: dict[str, Sent] = {}
        self.upload: Upload | None = None
        self.delivery_failures = 0
        self.errors: list[str] = []
        self._pub = Publisher(self.settings, service="e2e-survive")
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="survive-flow", daemon=True)

    def start(self) -> Flow:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._done.set()
        self._thread.join(300)
        with contextlib.suppress(DeliveryError):
            self._pub.close(timeout_s=10)

    def _run(self) -> None:
        i = 0
        while not self._done.is_set():
            started = time.monotonic()
            try:
                self._publish(i)
            except Exception as exc:  # reported by the test, never silently lost
                self.errors.append(repr(exc))
            i += 1
            self._done.wait(max(0.0, self.every_s - (time.monotonic() - started)))

    def _publish(self, i: int) -> None:
        clip = self.clips[i % len(self.clips)]
        priority = ("realtime", "batch")[i % 2]
        part_size = SMALL_PART if i % 3 == 0 else 1_000_000
        ids = (new_recording_id(), new_trace_id())
        common = {
            "tenant": TENANT,
            "source": "cli",
            "priority": priority,
            "split_channels": False,
            "hints": make_hints(None, None, None, None, (), None),
            "metadata": {"clip": clip.stem},
        }
        with clip.open("rb") as stream:
            parts = list(iter_parts(stream, clip.stat().st_size, ids, clip.name, part_size, common))
        sent = Sent(ids[0], ids[1], priority, wav_seconds(clip), len(parts))
        self.upload = Upload(ids[0], len(parts)) if len(parts) > 1 else None
        for n, part in enumerate(parts):
            while True:
                try:
                    self._pub.send(Output(topic=topics.RAW, schema="RecordingPart", value=part))
                    self._pub.flush(timeout_s=20)
                    break
                except DeliveryError:
                    self.delivery_failures += 1
                    sent.resent += 1
                    self._renew()
            if self.upload is not None:
                self.upload.acked = n + 1
                if n + 1 < len(parts):
                    time.sleep(PART_GAP_S)
        self.upload = None
        self.published[sent.recording_id] = sent

    def _renew(self) -> None:
        """A producer that could not deliver may be one left without brokers for good
        (librdkafka#5301): a new one takes over."""
        old, self._pub = self._pub, Publisher(self.settings, service="e2e-survive")
        with contextlib.suppress(DeliveryError):
            old.close(timeout_s=1)


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def cut_clips(folder: Path) -> list[Path]:
    with wave.open(str(sample_dir() / "sample.wav")) as src:
        params, rate = src.getparams(), src.getframerate()
        frames = src.readframes(src.getnframes())
    width = params.sampwidth * params.nchannels
    out = []
    for start, end in CLIPS_S:
        path = folder / f"clip-{start:04.1f}-{end:04.1f}.wav"
        with wave.open(str(path), "wb") as dst:
            dst.setparams(params)
            dst.writeframes(frames[int(start * rate) * width : int(end * rate) * width])
        out.append(path)
    return out


class Supervisor:
    """Restarts any service that exits, from a thread, as Kubernetes would."""

    def __init__(self, services: dict[str, SupervisedService]) -> None:
        self.services = services
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="survive-supervisor", daemon=True)

    def start(self) -> Supervisor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._done.set()
        self._thread.join(60)

    def _run(self) -> None:
        while not self._done.wait(1.0):
            for svc in self.services.values():
                svc.restart_if_exited()


@dataclass
class Survival:
    services: dict[str, SupervisedService]
    flow: Flow
    results: Results
    events: Events | None = None
    kills: list[dict[str, Any]] = field(default_factory=list)
    broker: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    exits_while_up: dict[str, list[int]] = field(default_factory=dict)


HANDLED = "stt_handler_batch_messages_sum"  # messages whose handler call returned


def in_hand(svc: SupervisedService, flow: Flow, last_in: float) -> tuple[bool, float]:
    """Whether ``svc`` has work in hand now, and the messages-in count to compare with next
    time. Services on the mesh loop: messages taken whose handler has not returned yet.
    Ingest: an upload half received (its parts are held, uncommitted). The sink, quality and
    the summary app: a message taken since the first look (the sink buffers rows for a second
    before it inserts them; quality's joins and the app's metadata wait in memory until the
    recording's transcript is through; their handlers are too quick to catch in the act)."""
    if svc.name == "ingest":
        upload = flow.upload
        return upload is not None and 2 <= upload.acked < upload.part_count, last_in
    taken = svc.metric(IN)
    if svc.name in ("sink", "quality", "examples.call_summary"):
        return last_in >= 0 and taken > last_in, taken if last_in < 0 else last_in
    handled = svc.metric(HANDLED)
    return taken >= 0 and handled >= 0 and taken > handled, last_in


def kill_with_work_in_hand(svc: SupervisedService, flow: Flow, timeout_s: float = 90.0) -> dict[str, Any]:
    """Kill ``svc`` as soon as it has work in hand (see ``in_hand``), start it again, and
    record when it is ready again (a thread of its own watches, so the next kill need not wait)."""
    deadline, busy, last_in = time.monotonic() + timeout_s, False, -1.0
    while not busy and time.monotonic() < deadline:
        busy, last_in = in_hand(svc, flow, last_in)
        if not busy:
            time.sleep(0.05)
    consumed = svc.metric(IN)
    killed_at = svc.kill_and_restart()
    kill: dict[str, Any] = {
        "service": svc.name,
        "argv": svc.argv,
        "killed_at": killed_at,
        "in_hand": busy,
        "messages_in_before_kill": consumed,
        "ready_after_s": None,
        "published_so_far": len(flow.published),
    }

    def watch() -> None:
        if wait_for(svc.ready, READY_AFTER_KILL_S, every_s=0.25):
            kill["ready_after_s"] = time.monotonic() - killed_at

    kill["watcher"] = threading.Thread(target=watch, name=f"ready-{svc.name}", daemon=True)
    kill["watcher"].start()
    return kill


def wait_for_turn(kills: list[dict[str, Any]], svc: SupervisedService) -> None:
    """Until fewer than RESTARTING_AT_ONCE of the services killed so far are starting again,
    and none of them is another pool of ``svc``'s service (bounded by READY_AFTER_KILL_S)."""

    def restarting(k: dict[str, Any]) -> bool:
        return k["watcher"].is_alive()

    wait_for(
        lambda: (
            sum(map(restarting, kills)) < RESTARTING_AT_ONCE
            and not any(restarting(k) and k["argv"][0] == svc.argv[0] for k in kills)
        ),
        READY_AFTER_KILL_S,
        every_s=0.25,
    )


def await_recovery(
    services: dict[str, SupervisedService], back: float, timeout_s: float
) -> dict[str, float | None]:
    """Seconds from ``back`` until each service is ready and has taken a message since (a
    process started again by the supervisor counts from zero); None: not within timeout_s."""
    marks = {n: (s.starts, s.metric(IN)) for n, s in services.items()}
    out: dict[str, float | None] = dict.fromkeys(services)

    def through(name: str) -> bool:
        svc, (starts, taken) = services[name], marks[name]
        return svc.ready() and svc.metric(IN) > (taken if svc.starts == starts else 0)

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and None in out.values():
        for name in [n for n, v in out.items() if v is None]:
            if through(name):
                out[name] = time.monotonic() - back
        time.sleep(0.5)
    return out


def unexpected_exits(
    services: dict[str, SupervisedService], since: float, until: float
) -> dict[str, list[int]]:
    return {
        n: [code for at, code in s.exits if since <= at <= until]
        for n, s in services.items()
        if any(since <= at <= until for at, _ in s.exits)
    }


@pytest.fixture(scope="module")
def survival(tmp_path_factory: pytest.TempPathFactory) -> Any:
    t0 = time.monotonic()
    home = tmp_path_factory.mktemp("survive")
    broker = LocalKafka(home=home / "kafka", port=free_port(pair=True))
    broker.start()
    create_topics(broker.bootstrap, topic_specs())
    sink, sink_port = own_sink_env(tmp_path_factory)
    env = {
        **{k: v for k, v in E2E_ENV.items() if not k.startswith("STT_ASR_ROLLOUT__")},
        # no rollout candidate: nothing here asks for it, and every ASR restart would load it
        **sink,
        **SURVIVAL_ENV,
        "STT_DIARIZE_STATE_DIR": str(home / "diarize"),
        "STT_QUALITY_DATADIR": str(home / "quality"),
    }
    logs = home / "logs"
    services = {
        svc.name: svc for svc in (SupervisedService(argv, broker.bootstrap, logs, env) for argv in SERVICES)
    }
    assert sorted(services) == sorted(KILL_ORDER), "a service of the mesh is not killed here"
    for svc in services.values():
        svc.start()
    supervisor = Supervisor(services).start()
    flow = Flow(broker.bootstrap, cut_clips(home), EVERY_S)
    state = Survival(services, flow, Results(url=f"http://127.0.0.1:{sink_port}", timeout_s=10))
    try:
        assert wait_for(lambda: all(s.ready() for s in services.values()), 420, every_s=0.5), (
            "the stack did not come up: " + ", ".join(n for n, s in services.items() if not s.ready())
        )
        state.timings["stack_up_s"] = time.monotonic() - t0
        flow.start()
        assert wait_for(lambda: len(flow.published) >= 3, 60, every_s=0.5), (
            f"nothing published: {flow.errors}"
        )
        chaos_started = time.monotonic()
        for name in KILL_ORDER:
            wait_for_turn(state.kills, services[name])
            kill = kill_with_work_in_hand(services[name], flow)
            state.kills.append(kill)
            print(f"killed {name} (work in hand: {kill['in_hand']})", flush=True)
        for kill in state.kills:
            kill.pop("watcher").join(READY_AFTER_KILL_S)
        kills_done = time.monotonic()
        state.exits_while_up = unexpected_exits(services, chaos_started, kills_done)
        state.timings["kills_s"] = kills_done - chaos_started

        started = time.monotonic()
        broker.stop()
        stopped = time.monotonic()
        broker.start()
        back = time.monotonic()
        state.broker = {
            "stop_s": stopped - started,
            "down_s": back - started,
            "recovered_after_s": await_recovery(services, back, timeout_s=300),
        }
        state.broker["exits"] = unexpected_exits(services, started, time.monotonic())
        print(f"broker restarted: {state.broker}", flush=True)
        time.sleep(20)  # recordings published after the restart flow through too
        # enough traffic to judge, however fast the kills went on this machine
        wait_for(lambda: len(flow.published) >= MIN_RECORDINGS, 180, every_s=0.5)
        flow.stop()
        state.timings["published_until_s"] = time.monotonic() - chaos_started
        state.events = drain(state, timeout_s=420)
        state.timings["drained_s"] = time.monotonic() - chaos_started
        state.timings["module_s"] = time.monotonic() - t0
        summarize(state)
        yield state
    except BaseException:
        for svc in services.values():
            print(f"--- {svc.name} (starts {svc.starts}, exits {svc.exits})\n{svc.tail()}")
        raise
    finally:
        flow.stop()
        supervisor.stop()
        if state.events is not None:
            state.events.close()
        codes = {name: svc.stop(timeout_s=60) for name, svc in services.items()}
        broker.stop()
        bad = {name: code for name, code in codes.items() if code not in (0, -15)}
        assert not bad, f"services did not stop cleanly: {bad}; logs in {logs}"


def finished(ev: dict[str, list[dict[str, Any]]]) -> bool:
    final = [r for r in ev["RedactedTranscript"] if r["scope"] == "recording"]
    quality = [q for q in ev["QualityReport"] if q["scope"] == "recording" and not q["partial"]]
    return bool(final and quality and ev["LlmOutcome"])


def all_chunks_seen(ev: dict[str, list[dict[str, Any]]]) -> bool:
    """Every chunk seq the recording's metadata announces, on the chunk topic and transcribed."""
    counts = {m["chunk_count"] for m in ev["RecordingMetadata"]}
    if len(counts) != 1:
        return False
    want = set(range(counts.pop()))
    return {c["seq"] for c in ev["AudioChunk"]} == want == {t["seq"] for t in ev["ChunkTranscript"]}


CALL_SQL = """
SELECT recording_id, trace_id, status, priority, tenant, duration_s, chunk_count, model,
       quality_partial, speaker_count, diarized_speakers, word_count, redaction_policy,
       llm_tasks, failure_type
FROM stt.calls WHERE has({ids:Array(String)}, recording_id)
"""


def drain(state: Survival, timeout_s: float) -> Events:
    """Wait (bounded) until every published recording is through: its events on the topics
    (read by a new follower: one from before the broker restart may be left without brokers)
    and its completed row in ``calls``."""
    ids = set(state.flow.published)
    settings = MeshSettings(bootstrap_servers=state.services["ingest"].bootstrap, metrics_port=None)
    events = Events(settings, FINAL_TOPICS, ids)
    deadline = time.monotonic() + timeout_s
    # the follower reads the topics' partitions in no set order, so it may reach a recording's
    # final events before it has read all its chunks (the biggest messages) or chunk transcripts:
    # wait for every one of them too (a chunk really lost still fails test_no_chunk_is_lost)
    done = events.wait(
        lambda ev: all(finished(ev.by_id[r]) and all_chunks_seen(ev.by_id[r]) for r in ids), timeout_s
    )
    rows: list[dict[str, Any]] = []
    while done and time.monotonic() < deadline:
        try:
            rows = state.results.dicts(CALL_SQL, {"ids": sorted(ids)})
        except ResultStoreError:
            rows = []
        if len({r["recording_id"] for r in rows}) == len(ids) and all(
            r["status"] == "completed" and r["llm_tasks"] for r in rows
        ):
            break
        time.sleep(2.0)
    return events


def summarize(state: Survival) -> None:
    flow = state.flow
    print(
        f"\nsurvival: {len(flow.published)} recordings published "
        f"({Counter(s.priority for s in flow.published.values())}, "
        f"{sum(s.parts > 1 for s in flow.published.values())} multi-part), "
        f"{flow.delivery_failures} parts resent after a delivery failure"
    )
    for k in state.kills:
        print(
            f"  kill -9 {k['service']}: work in hand {k['in_hand']}, ready again after "
            f"{k['ready_after_s'] and round(k['ready_after_s'], 1)} s"
        )
    print(f"  broker: {state.broker}")
    print(f"  exits nobody asked for: {[(n, s.exits) for n, s in state.services.items() if s.exits]}")
    print(f"  timings: { {k: round(v, 1) for k, v in state.timings.items()} }")


# -- the invariants ---------------------------------------------------------------------------
def test_every_service_was_killed_with_work_in_hand_and_came_back(survival: Survival) -> None:
    assert [k["service"] for k in survival.kills] == KILL_ORDER
    assert all(k["in_hand"] for k in survival.kills), survival.kills
    slow = {k["service"]: k["ready_after_s"] for k in survival.kills if k["ready_after_s"] is None}
    assert not slow, f"not ready again within {READY_AFTER_KILL_S:.0f} s of being killed: {slow}"
    assert not survival.exits_while_up, f"services exited with the broker up: {survival.exits_while_up}"


def test_the_mesh_recovers_from_a_broker_restart(survival: Survival) -> None:
    recovery = survival.broker["recovered_after_s"]
    assert None not in recovery.values(), f"not consuming again after the broker restart: {recovery}"
    assert not survival.flow.errors, survival.flow.errors


def test_every_published_recording_completes(survival: Survival) -> None:
    ev = survival.events
    assert ev is not None
    published = survival.flow.published
    assert len(published) >= MIN_RECORDINGS, "too few recordings flowed to say anything"
    failed = {r: ev.by_id[r]["RecordingFailed"] for r in published if ev.by_id[r]["RecordingFailed"]}
    assert not failed, failed
    unfinished = {
        r: {k: len(v) for k, v in ev.by_id[r].items()} for r in published if not finished(ev.by_id[r])
    }
    assert not unfinished, f"{len(unfinished)} of {len(published)} recordings never completed: {unfinished}"
    for rid, sent in published.items():
        metas = ev.by_id[rid]["RecordingMetadata"]
        assert metas and {m["trace_id"] for m in metas} == {sent.trace_id}
        assert {m["priority"] for m in metas} == {sent.priority}
        assert all(m["duration_s"] == pytest.approx(sent.duration_s, abs=0.05) for m in metas)


def test_no_chunk_is_lost(survival: Survival) -> None:
    ev = survival.events
    assert ev is not None
    lost: dict[str, Any] = {}
    for rid, sent in survival.flow.published.items():
        [count] = {m["chunk_count"] for m in ev.by_id[rid]["RecordingMetadata"]}
        chunks = {c["seq"] for c in ev.by_id[rid]["AudioChunk"]}
        transcribed = {t["seq"] for t in ev.by_id[rid]["ChunkTranscript"]}
        if chunks != set(range(count)) or transcribed != set(range(count)):
            lost[rid] = {"chunk_count": count, "chunks": sorted(chunks), "transcripts": sorted(transcribed)}
        assert count >= 2 or sent.duration_s < 5, f"{rid}: a {sent.duration_s:.1f} s clip in one chunk"
    assert not lost, lost


def test_one_final_result_per_recording_after_dedup(survival: Survival) -> None:
    """Duplicates on the topics are counted and allowed (at least once); each recording has
    final transcript per identity: whichever copy a consumer keeps is the recording's whole,
    speaker-attributed transcript of the same trace."""
    ev = survival.events
    assert ev is not None
    dupes: Counter[str] = Counter()
    differing = 0
    for rid in survival.flow.published:
        e = ev.by_id[rid]
        finals = [r for r in e["RedactedTranscript"] if r["scope"] == "recording"]
        reports = [q for q in e["QualityReport"] if q["scope"] == "recording"]
        dupes["ChunkTranscript"] += len(e["ChunkTranscript"]) - len({t["seq"] for t in e["ChunkTranscript"]})
        dupes["AudioChunk"] += len(e["AudioChunk"]) - len({c["seq"] for c in e["AudioChunk"]})
        dupes["RecordingMetadata"] += len(e["RecordingMetadata"]) - 1
        dupes["final RedactedTranscript"] += len(finals) - 1
        dupes["recording QualityReport"] += len(reports) - 1
        dupes["SpeakerTurns"] += len(e["SpeakerTurns"]) - 1
        dupes["LlmOutcome"] += len(e["LlmOutcome"]) - 1
        assert {r["trace_id"] for r in finals} == {survival.flow.published[rid].trace_id}
        assert not any(r["partial"] for r in finals), rid
        assert all(r["segments"] and all(s["speaker"] for s in r["segments"]) for r in finals), rid
        differing += len({r["text"] for r in finals}) > 1
    print(
        f"duplicates on the topics (redeliveries after kills): {dict(dupes)}; recordings whose "
        f"duplicate final transcripts differ in text: {differing}"
    )


def test_calls_view_has_exactly_one_completed_row_per_recording(survival: Survival) -> None:
    published = survival.flow.published
    ids = sorted(published)
    results = survival.results
    [totals] = results.dicts(
        "SELECT count() AS n, uniqExact(recording_id) AS recordings, "
        "uniqExact(trace_id) AS traces FROM stt.calls "
        "WHERE has({ids:Array(String)}, recording_id)",
        {"ids": ids},
    )
    assert totals == {"n": len(ids), "recordings": len(ids), "traces": len(ids)}
    [tenant] = results.dicts("SELECT count() AS n FROM stt.calls WHERE tenant = {t:String}", {"t": TENANT})
    assert tenant["n"] == len(ids), "a recording nobody published (or published twice) has a row"
    ev = survival.events
    assert ev is not None
    for row in results.dicts(CALL_SQL, {"ids": ids}):
        sent = published[row["recording_id"]]
        [count] = {m["chunk_count"] for m in ev.by_id[sent.recording_id]["RecordingMetadata"]}
        assert row["trace_id"] == sent.trace_id and row["tenant"] == TENANT, row
        assert row["status"] == "completed" and not row["quality_partial"] and not row["failure_type"], row
        assert row["priority"] == sent.priority and row["chunk_count"] == count, row
        assert row["duration_s"] == pytest.approx(sent.duration_s, abs=0.05), row
        assert row["model"].startswith("tiny.en@") and row["word_count"] > 0, row
        assert row["speaker_count"] >= 1 and row["diarized_speakers"] >= 1 and row["redaction_policy"], row
        assert row["llm_tasks"] == ["summary"], row
    per_recording = results.dicts(
        "SELECT recording_id, countIf(scope = 'chunk') AS chunk_reports, "
        "countIf(scope = 'recording') AS recording_reports FROM stt.latest_quality "
        "WHERE has({ids:Array(String)}, recording_id) GROUP BY recording_id",
        {"ids": ids},
    )
    transcripts = results.dicts(
        "SELECT recording_id, count() AS n FROM stt.latest_transcripts WHERE scope = 'recording' "
        "AND has({ids:Array(String)}, recording_id) GROUP BY recording_id",
        {"ids": ids},
    )
    assert {t["recording_id"]: t["n"] for t in transcripts} == dict.fromkeys(ids, 1)
    counts = {r: {m["chunk_count"] for m in ev.by_id[r]["RecordingMetadata"]}.pop() for r in ids}
    assert {q["recording_id"]: (q["chunk_reports"], q["recording_reports"]) for q in per_recording} == {
        r: (counts[r], 1) for r in ids
    }
    dead = results.dicts(
        "SELECT count() AS n FROM stt.latest_dead_letters WHERE has({ids:Array(String)}, recording_id)",
        {"ids": ids},
    )
    assert dead[0]["n"] == 0, "a message of a published recording was dead-lettered"

"""Work longer than max.poll.interval.ms against a real broker: it completes once.

The consumers here run with max.poll.interval.ms and session.timeout.ms at 6 s (the broker's
minimum session timeout) and handlers that take 15 s. Without the loop polling while work
runs, librdkafka would leave the group after 6 s, the partition would move to the other
member, which would start the same recording again from its committed offset.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from mesh import MeshSettings, Message, Output, Processor, Publisher, topics
from services.diarize.app import Handler, sweep
from services.diarize.config import DiarizeSettings
from services.diarize.pipeline import PipelineInfo, WindowDiarization
from services.diarize.worker import DiarizeWorker
from tests.integration.test_loop import outcome, publish
from tests.kafka_helpers import read_all, running, wait_for
from tests.unit.diarize.conftest import make_chunk, voice

pytestmark = pytest.mark.integration

INTERVAL_MS = 6000
WORK_S = 15.0  # 2.5 poll intervals


def tight(settings: MeshSettings) -> MeshSettings:
    return settings.model_copy(
        update={"max_poll_interval_ms": INTERVAL_MS, "session_timeout_ms": INTERVAL_MS}
    )


class Calls:
    """Handler calls per recording, from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_id: dict[str, int] = {}

    def add(self, rid: str) -> None:
        with self._lock:
            self.by_id[rid] = self.by_id.get(rid, 0) + 1


def test_a_handler_longer_than_the_poll_interval_runs_once_and_keeps_its_partitions(
    mesh_settings, make_topics, unique
):
    settings = tight(mesh_settings)
    source, sink = make_topics(f"in-{unique}", f"out-{unique}", partitions=2)
    calls = Calls()
    long_ids = {"rec-0"}

    def handle(msg: Message) -> list[Output]:
        rid = msg.value["recording_id"]
        calls.add(rid)
        if rid in long_ids:
            time.sleep(WORK_S)
        return [Output(sink, "LlmOutcome", msg.value)]

    group = f"g-{unique}"
    procs = [
        Processor(settings, service=f"long{k}", topics=[source], group_id=group, handler=handle)
        for k in range(2)
    ]
    n = 12
    with running(*procs):
        assert wait_for(lambda: all(p.assignment.owned for p in procs), timeout_s=60)
        publish(settings, source, [outcome(i) for i in range(n)])
        assert wait_for(lambda: "rec-0" in calls.by_id, timeout_s=30)
        time.sleep(INTERVAL_MS / 1000 * 1.5)  # past the poll interval, mid-work
        worker = next(p for p in procs if p._paused)
        assert worker.health.alive(), "the loop stopped beating during long work"
        records = read_all(settings.bootstrap_servers, sink, expect=n, timeout_s=WORK_S + 60, settle_s=3)
    ids = sorted(v["recording_id"] for _, v, _ in records)
    assert ids == sorted(f"rec-{i}" for i in range(n)), "an output is missing or repeated"
    assert calls.by_id["rec-0"] == 1, f"the long message was handled {calls.by_id['rec-0']} times"
    assert all(count == 1 for count in calls.by_id.values()), calls.by_id
    for p in procs:
        assert (
            p.sensor.registry.get_sample_value(  # type: ignore[attr-defined]
                "stt_assignments_lost_total", {"service": p.service}
            )
            == 0.0
        )


class SlowEngine:
    """A diarization pipeline as slow as a long call's: one speaker, after WORK_S."""

    info = PipelineInfo(name="slow", params={}, model_hashes={}, device="cpu")

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, waveform: np.ndarray, **hints: object) -> WindowDiarization:
        self.calls += 1
        time.sleep(WORK_S)
        return WindowDiarization([(0.0, len(waveform) / 16000, "SPEAKER_00")], {"SPEAKER_00": np.ones(4)})


def test_a_recording_whose_diarization_outlasts_the_poll_interval_gets_one_result(
    mesh_settings, make_topics, unique, tmp_path
):
    settings = tight(mesh_settings)
    source, out_topic = make_topics(f"chunks-{unique}", topics.DIARIZATION, partitions=2)
    engines, procs = [], []
    for k in range(2):  # two replicas of one pool, as a deployment scales it
        engine = SlowEngine()
        worker = DiarizeWorker(
            DiarizeSettings(state_dir=tmp_path / f"replica{k}", fsync=False), engine=engine
        )
        handler = Handler(worker)
        procs.append(
            Processor(
                settings,
                service=f"diarize{k}",
                topics=[source],
                group_id=f"g-{unique}",
                handler=handler,
                tick=sweep(worker),
            )
        )
        handler.sensor = procs[-1].sensor
        engines.append(engine)
    rid = f"rec-{unique}"
    chunks = [
        make_chunk(
            rid, seq=i, start_s=float(i * 4), samples=voice(4.0, seed=i), chunk_count=3, is_last=i == 2
        )
        for i in range(3)
    ]
    with running(*procs):
        assert wait_for(lambda: all(p.assignment.owned for p in procs), timeout_s=60)
        pub = Publisher(settings, service="test-producer")
        for chunk in chunks:
            pub.send(Output(source, "AudioChunk", chunk, key=rid))
        pub.close()
        records = read_all(
            settings.bootstrap_servers, out_topic, expect=1, timeout_s=WORK_S * 2 + 60, settle_s=WORK_S + 5
        )
    mine = [v for _, v, _ in records if v["recording_id"] == rid]
    assert len(mine) == 1, f"{len(mine)} SpeakerTurns for one recording"
    assert not mine[0]["partial"] and mine[0]["processing_ms"] >= WORK_S * 1000
    assert sum(e.calls for e in engines) == 1, "the recording was diarized more than once"

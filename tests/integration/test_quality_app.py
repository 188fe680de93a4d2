"""The quality service as it runs: ``python -m services.quality`` (a faust-streaming worker) in
a subprocess against the real broker, fed schema-valid events on the contract's topics.

The app reads the contract's fixed topic names, so every test tells its recordings apart by
a unique recording id, and runs its own app id (consumer group, table changelogs). A new app
id reads the joined topics from the start, so the events of earlier tests are joined again
by later apps; the assertions only look at this test's recordings.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mesh import MeshSettings, Output, Publisher, topics
from stt_mesh.follow import Events
from tests.quality_events import chunk, metadata, redacted, segment, turns
from tests.service_process import ServiceProcess

pytestmark = pytest.mark.integration

REFERENCE = "hello this is anna from the billing team how can i help you today"


@pytest.fixture(scope="module")
def contract_topics(kafka_bootstrap: str) -> None:
    from infra.local import create_topics, topic_specs

    create_topics(kafka_bootstrap, topic_specs())


class QualityProcess(ServiceProcess):
    """One ``python -m services.quality`` worker with its own log file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        super().__init__("services.quality", env, log)


@pytest.fixture
def quality(kafka_bootstrap: str, contract_topics: None, unique: str, tmp_path: Path) -> Iterator[Any]:
    """``quality(join_timeout_s=...)`` starts a worker of this test's app id; every worker is
    stopped at the end and the tail of its log printed (pytest shows it when the test fails)."""
    started: list[QualityProcess] = []
    app_id = f"stt-quality-test-{unique}"

    def start(join_timeout_s: float = 30.0) -> QualityProcess:
        env = {
            **os.environ,
            "STT_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "STT_QUALITY_APP_ID": app_id,
            "STT_METRICS_PORT": "0",
            "STT_QUALITY_JOIN_TIMEOUT_S": str(join_timeout_s),
            "STT_QUALITY_BATCH_JOIN_TIMEOUT_S": str(join_timeout_s),
            "STT_QUALITY_SWEEP_INTERVAL_S": "1",
            "STT_QUALITY_DATADIR": str(tmp_path / "faust"),
            "STT_QUALITY_FAUST_LOGLEVEL": "info",
            "PYTHONUNBUFFERED": "1",
        }
        proc = QualityProcess(env, tmp_path / f"quality-{len(started)}.log")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
        print(f"--- {proc.log} (exit {proc.proc.returncode}) ---\n{proc.tail()}")


def publish(settings: MeshSettings, events: list[tuple[str, str, dict]]) -> None:
    pub = Publisher(settings, service="quality-test")
    try:
        for topic, schema, value in events:
            pub.send(Output(topic, schema, value))
        pub.flush()
    finally:
        pub.close()


def recording(rid: str, *, second: bool = True) -> dict[str, tuple[str, str, dict]]:
    """The events of a two-chunk recording with a reference, one PII entity and two speakers."""
    from mesh.trace import new_trace_id

    trace = new_trace_id()
    return {
        "meta": (
            topics.RECORDINGS,
            "RecordingMetadata",
            metadata(rid, 2, trace_id=trace, reference=REFERENCE, language="en"),
        ),
        "chunk0": (
            topics.TRANSCRIPTS,
            "ChunkTranscript",
            chunk(
                rid,
                0,
                2,
                [segment("Hello, this is Anna from the billing team.", 0.5)],
                trace_id=trace,
                speech_s=4.0,
                coverage=0.95,
            ),
        ),
        "chunk1": (
            topics.TRANSCRIPTS,
            "ChunkTranscript",
            chunk(rid, 1, 2, [segment("how can i help", 10.5)], trace_id=trace, speech_s=3.0, coverage=0.97),
        ),
        "turns": (
            topics.DIARIZATION,
            "SpeakerTurns",
            turns(rid, [("SPEAKER_00", 0.0, 6.0), ("SPEAKER_01", 5.0, 12.0)], trace_id=trace),
        ),
        "redaction": (
            topics.REDACTED,
            "RedactedTranscript",
            redacted(
                rid,
                "hello this is <PERSON> from the billing team how can i help",
                {"PERSON": 1},
                trace_id=trace,
            ),
        ),
    }


def reports(events: Events, rid: str, scope: str) -> list[dict]:
    return [r for r in events.by_id[rid]["QualityReport"] if r["scope"] == scope]


def follow(settings: MeshSettings, *ids: str, topic: str = topics.QUALITY) -> Events:
    return Events(settings, [topic], set(ids))


def wait(events: Events, done, timeout_s: float, *procs: QualityProcess) -> bool:
    """Wait for ``done(events)``; give up early when a worker died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if events.wait(done, timeout_s=1.0):
            return True
        dead = [p for p in procs if p.proc.poll() is not None]
        assert not dead, f"quality worker exited {dead[0].proc.returncode}:\n{dead[0].tail()}"
    return done(events)


def test_a_complete_recording_gives_chunk_reports_and_one_recording_report(
    quality, mesh_settings, unique
) -> None:
    rid = f"q-complete-{unique}"
    events = recording(rid)
    publish(mesh_settings, list(events.values()))
    worker = quality(join_timeout_s=60.0)
    seen = follow(mesh_settings, rid)
    try:
        assert wait(seen, lambda e: len(reports(e, rid, "recording")) >= 1, 60, worker), worker.tail()
        seen.poll(3.0)  # a duplicate would come within the same round
    finally:
        seen.close()
    chunk_reports = reports(seen, rid, "chunk")
    assert sorted(r["seq"] for r in chunk_reports) == [0, 1]
    [report] = reports(seen, rid, "recording")
    assert report["partial"] is False and report["reasons"] == []
    assert report["features"]["chunks"] == 2 and report["word_count"] == 12
    assert report["true_wer"] == pytest.approx(2 / 14)  # "you today" was never transcribed
    assert report["speaker_count"] == 2
    assert report["pii_counts"] == {"PERSON": 1} and report["privacy_errors"] == 0
    assert report["trace_id"] == events["meta"][2]["trace_id"]
    assert report["verdict"] == "accepted"


def test_a_recording_missing_its_turns_is_reported_partial_and_completed_by_late_turns(
    quality, mesh_settings, unique
) -> None:
    rid = f"q-partial-{unique}"
    events = recording(rid)
    late = events.pop("turns")
    worker = quality(join_timeout_s=4.0)
    seen = follow(mesh_settings, rid)
    try:
        published_ms = int(time.time() * 1000)
        publish(mesh_settings, list(events.values()))
        assert wait(seen, lambda e: len(reports(e, rid, "recording")) >= 1, 60, worker), worker.tail()
        seen.poll(2.0)
        [partial] = reports(seen, rid, "recording")
        # the turns come after the timeout: the join was kept open, the complete report follows
        publish(mesh_settings, [late])
        assert wait(seen, lambda e: len(reports(e, rid, "recording")) >= 2, 30, worker), worker.tail()
        seen.poll(2.0)
    finally:
        seen.close()
    assert partial["partial"] is True and "partial" in partial["reasons"]
    assert partial["verdict"] == "needs_review"
    assert partial["speaker_count"] is None
    assert partial["features"]["chunks"] == 2 and partial["true_wer"] == pytest.approx(2 / 14)
    # not before the timeout, which counts from the recording's last event the worker saw
    assert partial["produced_at_ms"] >= published_ms + 4000
    # at least once: a redelivered event may repeat a report; the newest is the complete one
    complete = reports(seen, rid, "recording")[-1]
    assert complete["partial"] is False and complete["reasons"] == []
    assert complete["speaker_count"] == 2 and complete["features"]["chunks"] == 2
    assert complete["produced_at_ms"] > partial["produced_at_ms"]


def test_a_garbage_message_is_dead_lettered_and_the_next_recording_is_still_reported(
    quality, mesh_settings, unique
) -> None:
    garbage_key = f"q-garbage-{unique}"
    rid = f"q-after-garbage-{unique}"
    pub = Publisher(mesh_settings, service="quality-test")
    pub.send_raw(
        topics.TRANSCRIPTS,
        b"\x00\x01 this is not avro",
        garbage_key.encode(),
        [("x-origin", b"quality-test")],
    )
    pub.flush()
    pub.close()
    publish(mesh_settings, list(recording(rid).values()))
    worker = quality(join_timeout_s=60.0)
    letters = follow(mesh_settings, garbage_key, topic=topics.dlq(topics.TRANSCRIPTS))
    seen = follow(mesh_settings, rid)
    try:
        assert wait(letters, lambda e: bool(e.by_id[garbage_key]["DeadLetter"]), 60, worker), worker.tail()
        assert wait(seen, lambda e: len(reports(e, rid, "recording")) >= 1, 60, worker), worker.tail()
    finally:
        letters.close()
        seen.close()
    letter = letters.by_id[garbage_key]["DeadLetter"][0]
    assert letter["service"] == "quality" and letter["source_topic"] == topics.TRANSCRIPTS
    assert letter["payload"] == b"\x00\x01 this is not avro"
    assert letter["reason"] and letter["error_type"] == "SerializationError"
    assert {"key": "x-origin", "value": b"quality-test"} in letter["headers"]
    [report] = reports(seen, rid, "recording")
    assert report["features"]["chunks"] == 2


def test_the_join_survives_a_restart_of_the_worker(quality, mesh_settings, unique) -> None:
    rid = f"q-restart-{unique}"
    events = recording(rid)
    seen = follow(mesh_settings, rid)
    try:
        first = quality(join_timeout_s=120.0)
        publish(mesh_settings, [events["meta"], events["chunk0"]])
        assert wait(seen, lambda e: len(reports(e, rid, "chunk")) >= 1, 60, first), first.tail()
        # graceful or not (-15: the signal arrived before Faust's handler), the next process
        # must rebuild the join from the changelog
        assert first.stop() in (0, -15), first.tail()
        # a new process, an empty memory store: the join state must come from the changelog
        second = quality(join_timeout_s=120.0)
        publish(mesh_settings, [events["chunk1"], events["turns"], events["redaction"]])
        assert wait(seen, lambda e: len(reports(e, rid, "recording")) >= 1, 60, second), second.tail()
        seen.poll(3.0)
    finally:
        seen.close()
    [report] = reports(seen, rid, "recording")
    assert report["partial"] is False
    assert report["features"]["chunks"] == 2 and report["word_count"] == 12
    assert report["true_wer"] == pytest.approx(2 / 14)
    assert report["speaker_count"] == 2 and report["pii_counts"] == {"PERSON": 1}

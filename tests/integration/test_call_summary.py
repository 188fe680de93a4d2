"""The call-summary example as it runs (``python -m examples.call_summary`` in a subprocess)
and the ``stt-mesh outcome`` command, against the real broker on the contract's topics.

The topics have fixed names, so each test tells its recordings apart by unique ids and runs
its own consumer group; outcomes are read from the start of the outcomes topic and filtered.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer

from mesh import MeshSettings, Output, Publisher, topics
from mesh.serde import AvroSerde
from mesh.trace import new_trace_id
from tests.quality_events import metadata, redacted_call

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CHECKLIST = "refund, invoice, account"
GOOD_CALL = [
    ("SPEAKER_00", "Thanks for calling, how can I help?"),
    ("SPEAKER_01", "My invoice shows a double charge. I would like a refund for that invoice."),
    ("SPEAKER_00", "I see the double charge on your account, and the refund for the invoice is on its way."),
]
OFF_TOPIC_CALL = [
    ("SPEAKER_00", "Good morning, how can I help?"),
    ("SPEAKER_01", "I wanted to ask about the opening hours of the downtown store on weekends."),
    ("SPEAKER_00", "The downtown store opens at nine on weekends and closes at six."),
]


@pytest.fixture(scope="module")
def contract_topics(kafka_bootstrap: str) -> None:
    from infra.local import create_topics, topic_specs

    create_topics(kafka_bootstrap, topic_specs())


def env_for(bootstrap: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "STT_BOOTSTRAP_SERVERS": bootstrap,
        "STT_METRICS_PORT": "0",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@pytest.fixture
def summary_app(
    kafka_bootstrap: str, contract_topics: None, unique: str, tmp_path: Path
) -> Iterator[subprocess.Popen]:
    log = tmp_path / "call-summary.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "examples.call_summary"],
        cwd=ROOT,
        env=env_for(kafka_bootstrap, STT_SUMMARY_GROUP_ID=f"call-summary-{unique}"),
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )
    yield proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    print(f"--- {log} (exit {proc.returncode}) ---\n{log.read_text(errors='replace')[-6000:]}")


def publish(settings: MeshSettings, events: list[tuple[str, str, dict[str, Any]]]) -> None:
    pub = Publisher(settings, service="call-summary-test")
    try:
        for topic, schema, value in events:
            pub.send(Output(topic, schema, value))
    finally:
        pub.close()


def outcomes(
    bootstrap: str, ids: set[str], timeout_s: float, proc: subprocess.Popen | None = None
) -> dict[str, tuple[bytes, dict[str, Any]]]:
    """(Kafka key, value) of the LlmOutcome of each recording in ``ids``, read from the start."""
    serde = AvroSerde()
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topics.LLM_OUTCOMES])
    found: dict[str, tuple[bytes, dict[str, Any]]] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and set(found) != ids:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                schema, value = serde.decode(msg.value(), msg.headers())
                if schema == "stt.v1.LlmOutcome" and value["recording_id"] in ids:
                    found[value["recording_id"]] = (msg.key(), value)
            assert proc is None or proc.poll() is None, f"app exited {proc.returncode}"
    finally:
        consumer.close()
    return found


def test_each_call_gets_one_outcome_keyed_by_trace_id_judged_by_its_checklist(
    summary_app: subprocess.Popen, mesh_settings: MeshSettings, kafka_bootstrap: str, unique: str
) -> None:
    good, off, unlisted = f"sum-good-{unique}", f"sum-off-{unique}", f"sum-unlisted-{unique}"
    traces = {rid: new_trace_id() for rid in (good, off, unlisted)}
    checklist = {"summary_checklist": CHECKLIST}

    def meta(rid: str, extra: dict[str, str]) -> tuple[str, str, dict[str, Any]]:
        return topics.RECORDINGS, "RecordingMetadata", metadata(rid, 1, trace_id=traces[rid], extra=extra)

    def transcript(rid: str, call: list, scope: str = "recording") -> tuple[str, str, dict[str, Any]]:
        return (
            topics.REDACTED,
            "RedactedTranscript",
            redacted_call(rid, call, trace_id=traces[rid], tenant="acme", scope=scope),
        )

    publish(
        mesh_settings,
        [
            meta(good, checklist),
            transcript(good, GOOD_CALL[:1], scope="segment"),
            transcript(good, GOOD_CALL),
            transcript(off, OFF_TOPIC_CALL),
            meta(off, checklist),  # the transcript first: held, then joined
            meta(unlisted, {}),
            transcript(unlisted, OFF_TOPIC_CALL),  # no checklist: the generic slots
        ],
    )

    got = outcomes(kafka_bootstrap, {good, off, unlisted}, timeout_s=60, proc=summary_app)

    assert set(got) == {good, off, unlisted}
    for rid, (key, value) in got.items():
        assert key == traces[rid].encode()
        assert value["trace_id"] == traces[rid]
        assert (value["task"], value["tenant"], value["model"]) == ("summary", "acme", "extractive-luhn-1")
        assert value["latency_ms"] > 0 and value["cost_usd"] > 0
    assert (got[good][1]["accepted"], got[good][1]["score"]) == (True, 1.0)
    assert (got[off][1]["accepted"], got[off][1]["score"]) == (False, 0.0)
    assert (got[unlisted][1]["accepted"], got[unlisted][1]["score"]) == (True, 1.0)

    summary_app.send_signal(signal.SIGTERM)
    assert summary_app.wait(30) == 0


def test_stt_mesh_outcome_publishes_one_outcome_keyed_by_trace_id(
    kafka_bootstrap: str, contract_topics: None, unique: str
) -> None:
    rid, trace = f"cli-{unique}", new_trace_id()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "stt_mesh.cli",
            "outcome",
            trace,
            "--task",
            "qa",
            "--accepted",
            "no",
            "--score",
            "0.25",
            "--latency-ms",
            "812",
            "--cost-usd",
            "0.002",
            "--model",
            "some-llm",
            "--recording-id",
            rid,
            "--tenant",
            "acme",
        ],
        cwd=ROOT,
        env=env_for(kafka_bootstrap),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"key={trace}" in done.stdout

    [(key, value)] = outcomes(kafka_bootstrap, {rid}, timeout_s=30).values()
    assert key == trace.encode()
    assert value == {
        **value,
        "trace_id": trace,
        "task": "qa",
        "accepted": False,
        "score": 0.25,
        "latency_ms": 812.0,
        "cost_usd": 0.002,
        "model": "some-llm",
        "tenant": "acme",
    }


def test_when_stt_mesh_outcome_gets_a_bad_trace_id_then_it_exits_2_without_a_traceback(
    kafka_bootstrap: str,
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "stt_mesh.cli",
            "outcome",
            "not-a-trace-id",
            "--task",
            "summary",
            "--accepted",
            "yes",
        ],
        cwd=ROOT,
        env=env_for(kafka_bootstrap),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "trace_id must be 32 hex digits" in done.stderr
    assert "Traceback" not in done.stderr

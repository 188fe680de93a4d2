"""The sink as it runs: ``python -m services.sink`` in a subprocess against the real broker,
writing to a real embedded ClickHouse (chDB) and answering on its HTTP port.

Each test publishes schema-valid events of whole calls to its own uuid-named topics (the sink
routes by schema, so topic names are free) and asks the sink's read-only query API what an
analyst would see.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from mesh import MeshSettings, Output, Publisher
from tests import sink_events as ev
from tests.service_process import ServiceProcess

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SinkProcess(ServiceProcess):
    def __init__(self, env: dict[str, str], log: Path, port: int) -> None:
        super().__init__("services.sink", env, log)
        self.port = port

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def sql(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        status, body = self.request("POST", "/v1/query", {"sql": sql, "parameters": params})
        if status == 503:
            raise ConnectionError(body["detail"])  # not ready yet: wait_until asks again
        assert status == 200, body
        return [dict(zip(body["columns"], row, strict=True)) for row in body["rows"]]

    def wait_until(self, sql: str, done: Any, timeout_s: float = 60.0, **params: Any) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        rows: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"sink exited {self.proc.returncode}:\n{self.tail()}"
            try:
                rows = self.sql(sql, **params)
                if done(rows):
                    return rows
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.5)
        raise AssertionError(f"not reached in {timeout_s}s; last rows {rows}\n{self.tail()}")


@pytest.fixture
def names(make_topics, unique: str) -> list[str]:
    """This test's topics: one per analysis topic of the contract, named like them."""
    base = ["recordings", "redacted", "diarization", "quality", "gates", "outcomes"]
    return make_topics(*[f"stt.test-{unique}-{b}.v1" for b in base], partitions=2)


@pytest.fixture
def sink(kafka_bootstrap: str, names: list[str], unique: str, tmp_path: Path) -> Iterator[Any]:
    started: list[SinkProcess] = []

    def start(group: str = f"sink-{unique}", dsn: str | None = None, **extra: str) -> SinkProcess:
        port = free_port()
        env = {
            **os.environ,
            "STT_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "STT_METRICS_PORT": "0",
            "STT_SINK_DSN": dsn or f"chdb://{tmp_path / 'clickhouse'}",
            "STT_SINK_GROUP_ID": group,
            "STT_SINK_TOPICS": json.dumps(names),
            "STT_SINK_DLQ_PATTERN": rf"^stt\.test-{unique}-.*\.dlq$",
            "STT_SINK_HTTP_PORT": str(port),
            "STT_SINK_BATCH_MAX_S": "0.5",
            "STT_SINK_STORE_REDACTED_TEXT": "true",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
        proc = SinkProcess(env, tmp_path / f"sink-{len(started)}.log", port)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
        print(f"--- {proc.log} (exit {proc.proc.returncode}) ---\n{proc.tail()}")


TOPIC_OF = {
    "RecordingMetadata": 0,
    "RecordingFailed": 0,
    "RedactedTranscript": 1,
    "SpeakerTurns": 2,
    "QualityReport": 3,
    "GateDecision": 4,
    "LlmOutcome": 5,
}


def publish(settings: MeshSettings, names: list[str], events: list[tuple[str, dict]]) -> None:
    pub = Publisher(settings, service="sink-test")
    try:
        for schema, value in events:
            key = value.get("gate_id") or (value["trace_id"] if schema == "LlmOutcome" else None)
            pub.send(Output(names[TOPIC_OF[schema]], schema, value, key=key))
        pub.flush()
    finally:
        pub.close()


def calls_of(unique: str) -> list[tuple[str, list[tuple[str, Any]]]]:
    """Three complete calls (two with summaries, one with two LLM tasks, one without any), a
    failed recording and a gate decision."""
    out = []
    for i, (accepted, tasks) in enumerate([(True, ["summary", "qa"]), (False, ["summary"]), (None, [])]):
        rid = f"sink-{unique}-{i}"
        trace, events = ev.call(
            rid,
            text=["Hello, this is the billing team.", "Uh the the the bill.", "Thanks for calling."][i],
            probs=[0.9, 0.4, 0.8][i],
        )
        events += [
            ev.outcome(trace, rid, task=t, accepted=bool(accepted) if t == "summary" else True) for t in tasks
        ]
        out.append((rid, events))
    out.append((f"sink-{unique}-failed", [ev.failure(f"sink-{unique}-failed")]))
    out.append(("gate", [ev.gate(gate_id=f"gate-{unique}")]))
    return out


CALLS_SQL = (
    "SELECT recording_id, status, verdict, llm_tasks, llm_accepted, summary_accepted, "
    "pii_counts, speaker_count, wer_proxy FROM stt.calls WHERE startsWith(recording_id, {p:String}) "
    "ORDER BY recording_id"
)


# every message the sink stored, by where it came from (each event of these tests makes one row)
SEEN_SQL = " + ".join(
    f"(SELECT uniqExact(_topic, _partition, _offset) FROM stt.{t})"
    for t in (
        "recordings",
        "recording_failures",
        "transcripts",
        "speaker_turns",
        "quality",
        "gate_decisions",
        "llm_outcomes",
    )
).join(["SELECT ", " AS n"])


def snapshot(sink_proc: SinkProcess, unique: str) -> dict[str, Any]:
    """What an analyst would read about this test's calls."""
    p = f"sink-{unique}"
    return {
        "calls": sink_proc.sql(CALLS_SQL, p=p),
        "outcomes": sink_proc.sql(
            "SELECT trace_id, task, accepted FROM stt.call_outcomes "
            "WHERE startsWith(recording_id, {p:String}) ORDER BY trace_id, task",
            p=p,
        ),
        "slices": sink_proc.sql(
            "SELECT model, arm, language, codec, snr_band, calls, accepted_calls, "
            "round(mean_wer_proxy, 6) AS proxy FROM stt.slices ORDER BY model, codec"
        ),
        "gates": sink_proc.sql(
            "SELECT gate_id, decision, length(slices) AS n FROM stt.latest_gate_decisions "
            "WHERE gate_id = {g:String}",
            g=f"gate-{unique}",
        ),
        "quality": sink_proc.sql(
            "SELECT scope, count() AS n FROM stt.latest_quality "
            "WHERE startsWith(recording_id, {p:String}) GROUP BY scope ORDER BY scope",
            p=p,
        ),
    }


def test_calls_view_has_one_row_per_call_with_its_outcomes_and_replay_changes_nothing(
    sink, mesh_settings, names, unique
) -> None:
    calls = calls_of(unique)
    publish(mesh_settings, names, [e for _, events in calls for e in events])
    first = sink()
    rows = first.wait_until(
        CALLS_SQL,
        lambda r: len(r) == 4 and all(x["status"] in ("completed", "failed") for x in r),
        p=f"sink-{unique}",
    )
    by_id = {r["recording_id"]: r for r in rows}
    assert by_id[f"sink-{unique}-0"]["llm_tasks"] == ["qa", "summary"]
    assert by_id[f"sink-{unique}-0"]["summary_accepted"] is True
    assert by_id[f"sink-{unique}-1"]["summary_accepted"] is False
    assert by_id[f"sink-{unique}-2"]["llm_tasks"] == []
    assert by_id[f"sink-{unique}-2"]["summary_accepted"] is None
    assert by_id[f"sink-{unique}-failed"]["status"] == "failed"
    assert all(by_id[f"sink-{unique}-{i}"]["pii_counts"] == {"PERSON": 1} for i in range(3))
    first.wait_until(
        "SELECT count() AS n FROM stt.latest_gate_decisions WHERE gate_id = {g:String}",
        lambda r: r[0]["n"] == 1,
        g=f"gate-{unique}",
    )
    before = snapshot(first, unique)
    assert first.stop() == 0

    # every topic delivered again: the same events published a second time, and a sink with a
    # new consumer group reading all of them from the start, into the same store
    publish(mesh_settings, names, [e for _, events in calls for e in events])
    again = sink(group=f"sink-replay-{unique}")
    delivered = 2 * sum(len(events) for _, events in calls)
    again.wait_until(SEEN_SQL, lambda r: r[0]["n"] == delivered)  # every message of both deliveries is in
    assert snapshot(again, unique) == before


def test_when_the_store_is_down_the_sink_pauses_keeps_its_group_and_loses_nothing(
    sink, mesh_settings, names, unique, kafka_bootstrap
) -> None:
    group = f"sink-down-{unique}"
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: every insert fails
    rid, events = calls_of(unique)[0]
    publish(mesh_settings, names, events)
    down = sink(group=group, dsn=dead, STT_SINK_RETRY_MAX_S="2", STT_SINK_MIGRATE_ON_START="false")
    time.sleep(20)
    assert down.proc.poll() is None, down.tail()
    log = down.log.read_text()
    assert "partitions paused" in log, down.tail()
    cpu = _cpu_seconds(down.proc.pid)
    assert cpu < 15, f"a sink waiting for its store must not spin ({cpu:.1f} s CPU in 20 s)"
    assert _committed(kafka_bootstrap, group, names) == 0, "offsets moved while nothing was stored"
    assert _members(kafka_bootstrap, group) == 1, "a paused sink stays in its group"
    down.kill()  # a crash while waiting: nothing was stored, so nothing may be lost

    up = sink(group=group)
    rows = up.wait_until(CALLS_SQL, lambda r: len(r) == 1 and r[0]["status"] == "completed", p=rid)
    assert rows[0]["llm_tasks"] == ["qa", "summary"]
    assert (
        up.sql("SELECT count() AS n FROM stt.latest_quality WHERE recording_id = {r:String}", r=rid)[0]["n"]
        == 2
    )


def test_http_queries_are_read_only_and_wrong_ones_get_a_400(sink, unique) -> None:
    proc = sink()
    proc.wait_until("SELECT 1 AS one", lambda r: r == [{"one": 1}])
    status, body = proc.request("POST", "/v1/query", {"sql": "DROP TABLE stt.quality"})
    assert status == 400 and "readonly" in body["detail"].lower()
    insert = "INSERT INTO stt.llm_outcomes (trace_id) VALUES ('x')"
    status, body = proc.request("POST", "/v1/query", {"sql": insert})
    assert status == 400
    status, body = proc.request("POST", "/v1/query", {"sql": "SELECT nosuch FROM stt.calls"})
    assert status == 400 and "nosuch" in body["detail"]
    status, body = proc.request("POST", "/v1/query", {"nosql": 1})
    assert status == 400
    status, body = proc.request("GET", f"/v1/recordings/unknown-{unique}")
    assert status == 404 and body["error"] == "not_found"
    assert proc.sql("SELECT count() AS n FROM stt.quality")[0]["n"] >= 0  # the store still answers


def test_an_unreadable_message_is_dead_lettered_and_its_metadata_kept(
    sink, mesh_settings, names, unique, kafka_bootstrap
) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(names[3], key=b"bad-key", value=b"\x00not avro at all")
    producer.flush(10)
    rid, events = calls_of(unique)[1]
    proc = sink()
    publish(mesh_settings, names, events)
    rows = proc.wait_until(
        "SELECT source_topic, error_type, service, payload_bytes, header_keys "
        "FROM stt.latest_dead_letters WHERE source_topic = {t:String}",
        lambda r: len(r) == 1,
        t=names[3],
    )
    assert rows[0]["service"] == "sink" and rows[0]["error_type"] == "SerializationError"
    assert rows[0]["payload_bytes"] > 0  # the size only; the bytes never reach ClickHouse
    proc.wait_until(CALLS_SQL, lambda r: len(r) == 1 and r[0]["status"] == "completed", p=rid)
    text = proc.sql("SELECT count() AS n FROM stt.dead_letters WHERE position(reason, 'not avro') > 0")
    assert text[0]["n"] == 0


def _members(bootstrap: str, group: str) -> int:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    [future] = admin.describe_consumer_groups([group], request_timeout=30).values()
    described = future.result(timeout=60)
    return len(described.members) if str(described.state).endswith("STABLE") else 0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _committed(bootstrap: str, group: str, names: list[str]) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        parts = [TopicPartition(t, p) for t in names for p in range(2)]
        return sum(max(tp.offset, 0) for tp in consumer.committed(parts, timeout=10))
    finally:
        consumer.close()

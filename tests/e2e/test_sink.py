"""The sink in the running mesh: real calls, a refused upload and an undecodable message go
through every service into ClickHouse, where the `calls` view has one row per call with its
quality and its downstream LLM outcome, the saved queries of docs/queries.md answer, the HTTP
intake and `stt-mesh result` return the finished transcript, and the sink lag is measured.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from mesh import topics
from services.ingest.cli import publish_files
from stt_mesh.demo import SAMPLE_PII, sample_metadata
from tests.e2e.conftest import SINK_PORT, sample_dir, sox_noise
from tests.e2e.test_transcribe import MAX_WER
from tests.service_process import terminate

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
QUERIES = ROOT / "docs" / "queries.md"


def saved_queries(doc: Path = QUERIES) -> list[tuple[str, str]]:
    """(section title, SQL) of every ```sql block in a document (docs/queries.md)."""
    out, title = [], ""
    for block in re.split(r"^```", doc.read_text(), flags=re.M):
        if block.startswith("sql\n"):
            out.append((title, block.removeprefix("sql\n").strip()))
        else:
            heads = re.findall(r"^#{2,3} (.+)$", block, flags=re.M)
            title = heads[-1] if heads else title
    return out


def wait_for(results: Any, sql: str, done: Any, timeout_s: float, **params: Any) -> list[dict[str, Any]]:
    deadline, rows = time.monotonic() + timeout_s, []
    while time.monotonic() < deadline:
        try:
            rows = results.dicts(sql, params)
        except Exception:  # the sink may still be migrating
            rows = []
        if done(rows):
            return rows
        time.sleep(2.0)
    raise AssertionError(f"not reached in {timeout_s:.0f}s: {rows}")


@pytest.fixture(scope="module")
def mesh_data(stack: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A clean call, the same call over a telephone line and buried in noise (each labelled
    with its reference and a summary checklist), a text file named .wav and a raw message that
    is not Avro, published the way producers do; returns their ids once all are in ClickHouse."""
    from mesh import MeshSettings, Publisher
    from stt_mesh.analysis import Results

    tmp = tmp_path_factory.mktemp("sink-e2e")
    wav = sample_dir() / "sample.wav"
    subprocess.run(["sox", str(wav), "-r", "8000", "-e", "u-law", str(tmp / "telephone.wav")], check=True)
    sox_noise(tmp / "noise.wav", 30, "pinknoise", 0.5)
    subprocess.run(["sox", "-m", str(wav), str(tmp / "noise.wav"), str(tmp / "noisy.wav")], check=True)
    (tmp / "notes.wav").write_text("this is a text file, not a recording\n")
    meta = sample_metadata()  # the reference and summary checklist `make run` gives the call
    pub = Publisher(MeshSettings(bootstrap_servers=stack, metrics_port=None), service="e2e-sink")
    try:
        calls = {}
        for name, tenant in (("sample", "e2e-sink-a"), ("telephone", "e2e-sink-b"), ("noisy", "e2e-sink-b")):
            path = wav if name == "sample" else tmp / f"{name}.wav"
            [(rid, trace)] = publish_files(
                [path], pub, tenant=tenant, priority="realtime", metadata=meta, progress=False
            )
            calls[name] = (rid, trace)
        [(failed_rid, _)] = publish_files([tmp / "notes.wav"], pub, tenant="e2e-sink-a", progress=False)
    finally:
        pub.close()
    garbage_key = f"garbage-{os.getpid()}-{time.time_ns()}"
    raw = Producer({"bootstrap.servers": stack})
    raw.produce(topics.RAW, key=garbage_key.encode(), value=os.urandom(64))
    raw.flush(10)
    del raw  # no idle connections left to a broker that stops after the session

    results = Results(url=f"http://127.0.0.1:{SINK_PORT[-1]}")
    ids = [rid for rid, _ in calls.values()]
    wait_for(
        results,
        "SELECT recording_id, status, llm_tasks FROM stt.calls WHERE has({ids:Array(String)}, recording_id)",
        lambda r: len(r) == 3 and all(x["status"] == "completed" and x["llm_tasks"] for x in r),
        900,
        ids=ids,
    )
    wait_for(
        results,
        "SELECT status FROM stt.calls WHERE recording_id = {r:String}",
        lambda r: r and r[0]["status"] == "failed",
        300,
        r=failed_rid,
    )
    wait_for(
        results,
        "SELECT count() AS n FROM stt.latest_dead_letters WHERE recording_id = {k:String}",
        lambda r: r and r[0]["n"] == 1,
        300,
        k=garbage_key,
    )
    return {"calls": calls, "failed": failed_rid, "garbage": garbage_key, "results": results}


def test_calls_view_has_one_row_per_call_with_quality_and_llm_outcome(mesh_data) -> None:
    results = mesh_data["results"]
    rid, trace = mesh_data["calls"]["sample"]
    rows = results.dicts("SELECT * FROM stt.calls WHERE trace_id = {t:String}", {"t": trace})
    assert len(rows) == 1
    call = rows[0]
    assert call["recording_id"] == rid and call["status"] == "completed" and call["tenant"] == "e2e-sink-a"
    assert call["duration_s"] == pytest.approx(30.0, abs=0.5) and call["channels"] == 1
    assert call["priority"] == "realtime" and call["codec"]
    assert call["model"].startswith("tiny.en@") and call["proxy_version"]
    assert call["true_wer"] is not None and call["true_wer"] <= MAX_WER
    assert call["speech_coverage"] >= 0.9 and call["language_mix"] == {"en": pytest.approx(1.0)}
    assert call["speaker_count"] == 2 and call["diarized_speakers"] == 2
    assert call["pii_counts"] and call["redaction_policy"]
    assert call["queue_ms"] >= 0 and call["processing_s"] > 0 and call["end_to_end_s"] > 0 and call["rtf"] > 0
    assert call["cost_usd"] > 0
    assert call["llm_tasks"] == ["summary"] and call["summary_accepted"] is not None
    assert call["llm_latency_ms"][0] > 0 and call["total_cost_usd"] > call["cost_usd"]
    telephone = results.dicts(
        "SELECT codec, sample_rate FROM stt.calls WHERE recording_id = {r:String}",
        {"r": mesh_data["calls"]["telephone"][0]},
    )
    assert telephone[0]["sample_rate"] == 8000


def test_no_raw_text_and_no_payload_bytes_reach_clickhouse(mesh_data) -> None:
    results = mesh_data["results"]
    ids = [rid for rid, _ in mesh_data["calls"].values()]
    texts = results.dicts(
        "SELECT text, segments FROM stt.latest_transcripts WHERE has({ids:Array(String)}, recording_id)",
        {"ids": ids},
    )
    names = [n.lower() for n in SAMPLE_PII]
    for row in texts:  # the stack keeps redacted text (a setting): the names it masks are not in it
        blob = json.dumps(row).lower()
        assert not [n for n in names if n in blob], row
    dl = results.dicts(
        "SELECT * FROM stt.latest_dead_letters WHERE recording_id = {k:String}", {"k": mesh_data["garbage"]}
    )
    assert dl[0]["source_topic"] == topics.RAW and dl[0]["service"] == "ingest"
    assert dl[0]["payload_bytes"] == 64
    assert "payload" not in dl[0]  # the table has no column for it
    meta = results.dicts(
        "SELECT metadata FROM stt.latest_recordings WHERE has({ids:Array(String)}, recording_id)",
        {"ids": ids},
    )
    assert all("reference" not in m["metadata"] for m in meta)


@pytest.mark.parametrize("title_sql", saved_queries(), ids=lambda t: t[0][:40])
def test_saved_query_answers_on_mesh_data(mesh_data, title_sql) -> None:
    title, sql = title_sql
    params = {"trace": mesh_data["calls"]["sample"][1]} if "{trace:String}" in sql else {}
    columns, rows = mesh_data["results"].query(sql, params)
    assert rows, f"{title}: no rows"
    if "LLM rejection" in title:
        assert sum(dict(zip(columns, r, strict=True))["summaries"] for r in rows) >= 3
    if "FROM stt.calls\nWHERE status = 'failed'" in sql:
        assert mesh_data["failed"] in {dict(zip(columns, r, strict=True)).get("recording_id") for r in rows}


@pytest.mark.parametrize("title_sql", saved_queries(ROOT / "docs" / "runbook.md"), ids=lambda t: t[0][:40])
def test_runbook_query_runs_on_mesh_data(mesh_data, title_sql) -> None:
    _, sql = title_sql
    # an incident may have no rows here (an empty answer then has no column names either);
    # what must hold is that ClickHouse runs the query: an error raises ResultStoreError
    mesh_data["results"].query(sql)


def test_stt_mesh_result_returns_the_finished_transcript(mesh_data) -> None:
    rid, trace = mesh_data["calls"]["sample"]
    env = {**os.environ, "STT_SINK_URL": f"http://127.0.0.1:{SINK_PORT[-1]}"}
    out = subprocess.run(
        [sys.executable, "-m", "stt_mesh.cli", "result", rid],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["status"] == "completed" and result["trace_id"] == trace
    segments = result["transcript"]["segments"]
    assert segments and all(s["speaker"] for s in segments) and any(s["text"] for s in segments)
    assert result["quality"]["scope"] == "recording" and result["quality"]["verdict"] in (
        "accepted",
        "needs_review",
    )
    missing = subprocess.run(
        [sys.executable, "-m", "stt_mesh.cli", "result", "no-such-recording"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 3


def test_http_intake_answers_status_until_the_transcript_is_done(mesh_data, stack, tmp_path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "STT_BOOTSTRAP_SERVERS": stack,
        "STT_METRICS_PORT": "0",
        "STT_INGEST_HTTP_PORT": str(port),
        "STT_INGEST_HTTP_HOST": "127.0.0.1",
        "STT_INGEST_RESULTS_URL": f"http://127.0.0.1:{SINK_PORT[-1]}",
    }
    log = tmp_path / "intake.log"
    intake = subprocess.Popen(
        [sys.executable, "-m", "services.ingest", "http"],
        env=env,
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2).read()
                break
            except OSError:
                time.sleep(0.5)
        data = (sample_dir() / "sample.wav").read_bytes()
        req = urllib.request.Request(
            f"{base}/v1/recordings?priority=realtime&tenant=e2e-sink-http",
            data=data,
            method="POST",
            headers={"Content-Type": "audio/wav"},
        )
        with urllib.request.urlopen(req, timeout=120) as resp:
            assert resp.status == 202
            rid = json.loads(resp.read())["recording_id"]
        seen, result = [], {}
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{base}/v1/recordings/{rid}", timeout=30) as resp:
                result = json.loads(resp.read())
            if not seen or seen[-1] != result["status"]:
                seen.append(result["status"])
            if result["status"] in ("completed", "failed"):
                break
            time.sleep(1.0)
        assert seen[-1] == "completed", (seen, result, log.read_text()[-3000:])
        assert seen[0] in ("queued", "processing")
        assert result["transcript"]["segments"] and result["quality"]["verdict"]
    finally:
        terminate(intake)


def test_sink_lag_is_measured(mesh_data) -> None:
    """Publish (Kafka timestamp) to row visible (inserted), over everything this stack stored."""
    rows = mesh_data["results"].dicts(
        "SELECT count() AS n, quantile(0.5)(lag) AS p50, quantile(0.95)(lag) AS p95 FROM ("
        + " UNION ALL ".join(
            f"SELECT dateDiff('millisecond', kafka_ts, inserted_at) AS lag FROM stt.{t}"
            for t in ("recordings", "transcripts", "speaker_turns", "quality", "llm_outcomes")
        )
        + ")"
    )
    lag = rows[0]
    print(f"sink lag over {lag['n']} rows: p50 {lag['p50']:.0f} ms, p95 {lag['p95']:.0f} ms")
    assert lag["n"] > 0 and 0 <= lag["p50"] <= lag["p95"]

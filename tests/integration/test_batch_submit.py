"""``stt-mesh batch submit`` against the real broker: a submitter killed with SIGKILL mid-way
and one that died inside an open transaction are both resumed, and a read_committed reader
of the raw topic sees every part of every manifest row exactly once.

The submitter writes the contract's fixed topics; every test runs its own tenant, hence its
own job id, and the assertions only look at recordings whose metadata names that job.
"""

from __future__ import annotations

import math
import os
import signal
import struct
import subprocess
import sys
import time
import wave
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from mesh import MeshSettings, topics
from mesh.errors import SerializationError
from mesh.serde import AvroSerde
from stt_mesh import batch

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
RATE = 16000


@pytest.fixture(scope="module")
def contract_topics(kafka_bootstrap: str) -> None:
    from infra.local import create_topics, topic_specs

    create_topics(kafka_bootstrap, topic_specs())


@pytest.fixture
def settings(kafka_bootstrap: str, contract_topics: None) -> MeshSettings:
    return MeshSettings(bootstrap_servers=kafka_bootstrap, metrics_port=None)


def write_wav(path: Path, seconds: float, hz: float) -> int:
    """A mono 16-bit tone; 40 s is 1.28 MB, so it travels as two RecordingParts."""
    frames = int(seconds * RATE)
    tone = (int(6000 * math.sin(2 * math.pi * hz * i / RATE)) for i in range(frames))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(struct.pack(f"<{frames}h", *tone))
    return max(1, -(-path.stat().st_size // batch.PART_SIZE))


def make_manifest(folder: Path, seconds: list[float]) -> tuple[Path, list[int]]:
    """A CSV manifest (relative paths, a metadata column); returns it and each row's part count."""
    (folder / "calls").mkdir()
    lines, parts = ["path,recording_id,language,campaign"], []
    for i, secs in enumerate(seconds):
        parts.append(write_wav(folder / "calls" / f"call{i:02d}.wav", secs, 220 + 20 * i))
        lines.append(f"calls/call{i:02d}.wav,{'named-' + folder.name if i == 3 else ''},en,c{i % 3}")
    manifest = folder / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest, parts


def cli(manifest: Path, tenant: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "stt_mesh.cli",
        "batch",
        "submit",
        str(manifest),
        "--tenant",
        tenant,
        *extra,
    ]


def child_env(bootstrap: str) -> dict[str, str]:
    return {**os.environ, "STT_BOOTSTRAP_SERVERS": bootstrap}


def read_parts(
    settings: MeshSettings,
    job_id: str,
    isolation: str = "read_committed",
) -> dict[str, list[dict[str, Any]]]:
    """Every RecordingPart of ``job_id`` on the raw topic (committed ones only, as ingest
    reads them, unless ``isolation`` says otherwise), by recording id."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    serde = AvroSerde()
    consumer = Consumer(
        {
            **settings.consumer_config(f"batch-check-{time.time_ns()}"),
            "enable.partition.eof": True,
            "enable.auto.commit": False,
            "isolation.level": isolation,
        }
    )
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    try:
        partitions = consumer.list_topics(topics.RAW, timeout=10).topics[topics.RAW].partitions
        consumer.assign([TopicPartition(topics.RAW, p, OFFSET_BEGINNING) for p in partitions])
        pending, deadline = set(partitions), time.monotonic() + 60
        while pending and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error() is not None:
                assert msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
                pending.discard(msg.partition())
                continue
            try:
                _, part = serde.decode(msg.value(), msg.headers())
            except SerializationError:
                continue  # the raw topic takes whatever producers send (other suites send junk)
            if part["metadata"].get("batch_job") == job_id:
                assert msg.key() == part["recording_id"].encode()
                found[part["recording_id"]].append(part)
        assert not pending, "raw topic not read to its end"
    finally:
        consumer.close()
    return dict(found)


def assert_each_row_published_once(settings, job_id, manifest, part_counts) -> None:
    rows = batch.read_manifest(manifest)
    found = read_parts(settings, job_id)
    expected = {batch.recording_id_for(job_id, row): row for row in rows}
    assert set(found) == set(expected)
    for rid, parts in found.items():
        row = expected[rid]
        assert sorted(p["part"] for p in parts) == list(range(part_counts[row.index])), rid
        assert {p["part_count"] for p in parts} == {part_counts[row.index]}
        assert len({p["trace_id"] for p in parts}) == 1
        assert parts[0]["metadata"] == {
            "campaign": f"c{row.index % 3}",
            "batch_job": job_id,
            "batch_row": str(row.index),
        }
        assert b"".join(p["data"] for p in sorted(parts, key=lambda p: p["part"])) == row.path.read_bytes()


def wait_for_cursor(
    settings: MeshSettings, job_id: str, at_least: int, proc: subprocess.Popen[bytes], timeout_s: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = batch.read_job(settings, job_id)
        if job is not None and job["cursor"] >= at_least:
            return job
        assert proc.poll() is None, "the submitter exited before it was killed"
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached cursor {at_least}")


def test_when_a_submit_is_killed_mid_way_then_the_resubmit_publishes_every_row_exactly_once(
    settings, kafka_bootstrap, tmp_path, unique
):
    seconds = [40.0 if i % 4 == 1 else 1.0 + 0.5 * i for i in range(20)]
    seconds[10] = 70.0  # three parts
    manifest, part_counts = make_manifest(tmp_path, seconds)
    assert max(part_counts) == 3 and part_counts.count(2) >= 4
    job_id = batch.job_id_for(batch.manifest_sha256(manifest), unique)
    log = tmp_path / "first.log"
    first = subprocess.Popen(
        cli(manifest, unique, "--rows-per-txn", "1", "--max-rows-per-s", "4"),
        env=child_env(kafka_bootstrap),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        wait_for_cursor(settings, job_id, 5, first)
        first.send_signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
    killed = batch.read_job(settings, job_id)
    assert killed["state"] == "submitting" and 5 <= killed["cursor"] < len(seconds) - 1, killed
    assert (killed["resumes"], killed["published"]) == (0, killed["cursor"] + 1)

    second = subprocess.run(
        cli(manifest, unique, "--rows-per-txn", "1"),
        env=child_env(kafka_bootstrap),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resumed: yes" in second.stdout
    assert f"published now: {len(seconds) - 1 - killed['cursor']}" in second.stdout
    final = batch.read_job(settings, job_id)
    assert (final["state"], final["cursor"], final["resumes"], final["published"]) == (
        "submitted",
        len(seconds) - 1,
        1,
        len(seconds),
    )
    assert final["created_at_ms"] == killed["created_at_ms"] and final["models"]
    assert_each_row_published_once(settings, job_id, manifest, part_counts)

    third = subprocess.run(
        cli(manifest, unique),
        env=child_env(kafka_bootstrap),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert third.returncode == 0, third.stderr[-3000:]
    assert "nothing published" in third.stdout and "published now: 0" in third.stdout
    assert batch.read_job(settings, job_id) == final
    assert_each_row_published_once(settings, job_id, manifest, part_counts)


def test_when_a_submitter_died_with_half_a_recording_in_an_open_transaction_then_it_is_aborted(
    settings, tmp_path, unique
):
    manifest, part_counts = make_manifest(tmp_path, [40.0, 1.0, 2.0, 1.5])
    job_id = batch.job_id_for(batch.manifest_sha256(manifest), unique)
    row = batch.read_manifest(manifest)[0]
    zombie = batch.TransactionalPublisher(settings, batch.transactional_id(job_id))
    zombie.init()
    zombie.begin()
    from services.ingest.cli import iter_parts

    common = {
        "tenant": unique,
        "source": "cli",
        "priority": "batch",
        "split_channels": False,
        "hints": row.hints,
        "metadata": batch.row_metadata(job_id, row),
    }
    with row.path.open("rb") as stream:
        first_part = next(
            iter_parts(
                stream,
                row.size,
                (batch.recording_id_for(job_id, row), "ab" * 16),
                row.path.name,
                batch.PART_SIZE,
                common,
            )
        )
    zombie.publish(topics.RAW, "RecordingPart", first_part, key=first_part["recording_id"])
    assert zombie._producer.flush(10) == 0  # the half recording is on the broker, uncommitted

    result = batch.submit(manifest, settings, tenant=unique, progress=False)
    assert (result.published_now, result.cursor, result.resumed, result.state) == (4, 3, False, "submitted")
    with pytest.raises(Exception, match=r"(?i)fenc"):
        zombie.commit(10)
    assert_each_row_published_once(settings, job_id, manifest, part_counts)
    traces = {p["trace_id"] for parts in read_parts(settings, job_id).values() for p in parts}
    uncommitted = read_parts(settings, job_id, "read_uncommitted")
    assert "ab" * 16 not in traces
    assert "ab" * 16 in {p["trace_id"] for p in uncommitted[first_part["recording_id"]]}

    manifest.write_text(manifest.read_text() + "calls/call01.wav,,en,c1\n")
    with pytest.raises(batch.BatchError, match="another manifest"):
        batch.submit(manifest, settings, tenant=unique, job_id=job_id, progress=False)

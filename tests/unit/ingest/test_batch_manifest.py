"""Backfill manifests and job records without a broker: parsing, checks naming the row,
deterministic ids, the metadata every recording carries and the versions a job records."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import schemas
from mesh.serde import AvroSerde
from stt_mesh import batch


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "calls").mkdir()
    for name, size in (("a.wav", 10), ("b.wav", 20), ("c.wav", 30)):
        (tmp_path / "calls" / name).write_bytes(b"x" * size)
    return tmp_path


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_csv_rows_give_hints_priority_and_the_other_columns_as_metadata(folder):
    manifest = write(
        folder,
        "m.csv",
        "path,recording_id,language,num_speakers,split_channels,"
        "channel_roles,priority,campaign,agent\n"
        'calls/a.wav,call-1,en,2,true,"agent,customer",realtime,spring,7\n'
        "calls/b.wav,,,,,,,autumn,\n",
    )
    first, second = batch.read_manifest(manifest)
    assert (first.index, first.line, first.recording_id, first.priority) == (0, 2, "call-1", "realtime")
    assert first.split_channels is True and first.size == 10
    assert first.hints["language"] == "en" and first.hints["num_speakers"] == 2
    assert first.hints["channel_roles"] == ["agent", "customer"]
    assert first.metadata == {"campaign": "spring", "agent": "7"}
    assert (second.recording_id, second.priority, second.split_channels) == (None, None, False)
    assert second.hints["language"] is None and second.metadata == {"campaign": "autumn"}


def test_jsonl_rows_take_lists_and_numbers_and_keep_metadata_as_strings(folder):
    lines = [
        {
            "path": "calls/a.wav",
            "max_speakers": 3,
            "channel_roles": ["agent", "customer"],
            "score": 0.5,
            "tags": ["x"],
        },
        {"path": "calls/c.wav", "min_speakers": "1"},
    ]
    manifest = write(folder, "m.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n\n")
    first, second = batch.read_manifest(manifest)
    assert first.hints["max_speakers"] == 3 and first.hints["channel_roles"] == ["agent", "customer"]
    assert first.metadata == {"score": "0.5", "tags": '["x"]'}
    assert second.hints["min_speakers"] == 1 and second.size == 30


def test_relative_paths_resolve_against_the_manifest_folder_not_the_working_directory(
    folder, tmp_path_factory, monkeypatch
):
    absolute = folder / "calls" / "b.wav"
    manifest = write(folder, "m.csv", f"path\ncalls/a.wav\n{absolute}\n")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    rows = batch.read_manifest(manifest)
    assert [r.path for r in rows] == [folder / "calls" / "a.wav", absolute]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("file\ncalls/a.wav\n", "has no path column (columns: file)"),
        ("path\ncalls/a.wav\ncalls/missing.wav\n", "row 1 (line 3): no such file"),
        ("path,num_speakers\ncalls/a.wav,two\n", "row 0 (line 2): not an integer: 'two'"),
        ("path,num_speakers\ncalls/a.wav,0\n", "row 0 (line 2): num_speakers must be a positive"),
        ("path,min_speakers,max_speakers\ncalls/a.wav,3,2\n", "min_speakers (3) exceeds max_speakers"),
        ("path,split_channels\ncalls/a.wav,maybe\n", "split_channels must be true or false"),
        ("path,priority\ncalls/a.wav,urgent\n", "row 0 (line 2): priority must be one of"),
        (
            "path,recording_id\ncalls/a.wav,x\ncalls/b.wav,x\n",
            "row 1 (line 3): recording_id 'x' repeats row 0",
        ),
        ("path,recording_id\ncalls/a.wav,a b\n", "recording_id must be 1-200 characters"),
        ("path,batch_row\ncalls/a.wav,4\n", "batch_row is set by the submitter"),
        ("path\n", "has no rows"),
        ("path\ncalls/a.wav,extra\n", "line 2 of"),
    ],
)
def test_when_a_csv_manifest_is_bad_then_the_error_names_the_row(folder, text, message):
    with pytest.raises(batch.BatchError) as caught:
        batch.read_manifest(write(folder, "m.csv", text))
    assert message in str(caught.value)


def test_when_a_jsonl_line_is_not_an_object_then_the_error_names_the_line(folder):
    manifest = write(folder, "m.jsonl", '{"path": "calls/a.wav"}\n[1, 2]\n')
    with pytest.raises(batch.BatchError, match=r"line 2 of .*not a JSON object"):
        batch.read_manifest(manifest)
    manifest.write_text('{"path": "calls/a.wav"}\n{"path": \n')
    with pytest.raises(batch.BatchError, match=r"line 2 of .*not JSON"):
        batch.read_manifest(manifest)


def test_job_id_depends_on_the_manifest_bytes_and_tenant_only(folder):
    manifest = write(folder, "m.csv", "path\ncalls/a.wav\n")
    sha = batch.manifest_sha256(manifest)
    assert sha == hashlib.sha256(manifest.read_bytes()).hexdigest()
    job = batch.job_id_for(sha, "acme")
    assert job == batch.job_id_for(batch.manifest_sha256(manifest), "acme")
    assert job.startswith("job-") and len(job) == 20 and int(job[4:], 16) >= 0
    assert batch.job_id_for(sha, "other") != job
    manifest.write_text("path\ncalls/a.wav\ncalls/b.wav\n")
    assert batch.job_id_for(batch.manifest_sha256(manifest), "acme") != job
    assert batch.transactional_id(job) == f"stt-batch-{job}"


def test_recording_ids_are_the_rows_own_or_the_job_id_and_row_index(folder):
    manifest = write(folder, "m.csv", "path,recording_id\ncalls/a.wav,call-1\ncalls/b.wav,\n")
    first, second = batch.read_manifest(manifest)
    assert batch.recording_id_for("job-0123456789abcdef", first) == "call-1"
    assert batch.recording_id_for("job-0123456789abcdef", second) == "job-0123456789abcdef-000001"


def test_every_recording_carries_its_job_and_row_in_its_metadata(folder):
    manifest = write(folder, "m.csv", "path,campaign\ncalls/a.wav,spring\ncalls/b.wav,autumn\n")
    rows = batch.read_manifest(manifest)
    assert batch.row_metadata("job-1", rows[1]) == {
        "campaign": "autumn",
        "batch_job": "job-1",
        "batch_row": "1",
    }
    assert (batch.META_JOB, batch.META_ROW) == ("batch_job", "batch_row")


def test_transactions_are_bounded_by_rows_and_bytes_and_a_big_file_goes_alone(folder):
    rows = batch.read_manifest(
        write(folder, "m.csv", "path\n" + "calls/a.wav\n" * 5 + "calls/c.wav\ncalls/a.wav\n")
    )
    sizes = [[r.size for r in b] for b in batch._batches(rows, 2, 25)]
    assert sizes == [[10, 10], [10, 10], [10], [30], [10]]
    assert [len(b) for b in batch._batches(rows, 8, 10**9)] == [7]


@pytest.fixture
def versions(tmp_path: Path, monkeypatch) -> Path:
    """A local model directory, a missing fallback and a policy book with a tenant entry."""
    model = tmp_path / "m1"
    model.mkdir()
    (model / "model.bin").write_bytes(b"weights")
    (model / "VERSION").write_text("v7\n")
    book = tmp_path / "policies.json"
    book.write_text(
        json.dumps(
            {
                "default": {"name": "std", "version": "3"},
                "tenants": {"acme": {"name": "acme-pii", "version": "2"}},
            }
        )
    )
    monkeypatch.setenv("STT_ASR_MODEL_PATHS", json.dumps({"m1": str(model)}))
    monkeypatch.setenv("STT_ASR_MODEL", "m1")
    monkeypatch.setenv("STT_ASR_FALLBACK_MODEL", "not-installed-here")
    monkeypatch.setenv("STT_ASR_ROLLOUT__CANDIDATE_MODEL", "m1")
    monkeypatch.setenv("STT_ASR_ROLLOUT__CANDIDATE_DECODE", '{"beam_size": 1}')
    monkeypatch.setenv("STT_ASR_MODEL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("STT_REDACT_POLICIES_FILE", str(book))
    return model


def test_snapshot_records_models_decode_options_policy_and_output_schemas(versions):
    snap = batch.version_snapshot("acme")
    digest = hashlib.sha256(b"weights").hexdigest()
    assert snap["models"][0] == {
        "name": "m1",
        "version": "v7",
        "sha256": digest,
        "compute_type": "auto",
        "device": "auto",
    }
    assert snap["models"][1]["name"] == "not-installed-here"
    assert (snap["models"][1]["version"], snap["models"][1]["sha256"]) == ("unresolved", "")
    assert snap["model_roles"] == {"main": "m1", "fallback": "not-installed-here", "candidate": "m1"}
    assert snap["decode_settings"]["beam_size"] == "5"
    assert snap["decode_settings"]["candidate.beam_size"] == "1"
    assert snap["redaction_policy"] == "acme-pii@2"
    assert batch.version_snapshot("other")["redaction_policy"] == "std@3"
    fingerprint = schemas.fingerprint(schemas.load("QualityReport"))
    assert snap["output_schema"]["stt.v1.QualityReport"] == fingerprint
    assert snap["output_schema"]["namespace"] == "stt.v1"


def test_job_record_is_a_valid_batch_job_with_no_audio_text_or_metadata_values(folder, versions):
    manifest = write(folder, "m.csv", "path,campaign\ncalls/a.wav,secret-campaign\n")
    rows = batch.read_manifest(manifest)
    job = batch._new_job(
        "job-1", "acme", "batch", str(manifest), batch.manifest_sha256(manifest), len(rows), clock=lambda: 1.5
    )
    assert (job["cursor"], job["state"], job["resumes"], job["created_at_ms"]) == (-1, "submitting", 0, 1500)
    serde = AvroSerde()
    name, decoded = serde.decode(*serde.encode("BatchJob", job))
    assert name == "stt.v1.BatchJob" and decoded == job
    assert "secret-campaign" not in json.dumps(job) and b"x" * 10 not in serde.encode("BatchJob", job)[0]
    schema = schemas.expanded("BatchJob")
    assert '"bytes"' not in json.dumps(schema) and "text" not in {f["name"] for f in schema["fields"]}


def test_when_a_manifest_is_bad_then_submit_fails_before_connecting_to_kafka(folder):
    from mesh import MeshSettings

    manifest = write(folder, "m.csv", "path\ncalls/a.wav\ncalls/gone.wav\n")
    unreachable = MeshSettings(bootstrap_servers="127.0.0.1:1", metrics_port=None)
    with pytest.raises(batch.BatchError, match=r"row 1 .*no such file"):
        batch.submit(manifest, unreachable, progress=False)


def test_when_the_manifest_differs_from_the_jobs_then_a_resume_is_refused():
    job = {
        "job_id": "job-1",
        "manifest": "old.csv",
        "manifest_sha256": "a" * 64,
        "tenant": "acme",
        "priority": "batch",
    }
    with pytest.raises(batch.BatchError, match=r"another manifest .*new --job-id"):
        batch._check_resumable(job, "b" * 64, "acme", "batch")
    with pytest.raises(batch.BatchError, match="tenant 'acme', not 'other'"):
        batch._check_resumable(job, "a" * 64, "other", "batch")
    batch._check_resumable(job, "a" * 64, "acme", "batch")

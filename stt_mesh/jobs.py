"""``stt-mesh batch status JOB``: a backfill's progress and aggregate quality.

The job record comes from ClickHouse (the sink keeps every version of it); when the sink has
not caught up yet, from stt.jobs.v1 itself. Progress and quality are the calls the job
published, as the ``job_progress`` view counts them; failures list each failed recording's
reason, whether ingest refused it (RecordingFailed) or a service dead-lettered one of its
messages.
"""

from __future__ import annotations

from typing import Any

from mesh import MeshSettings
from stt_mesh.analysis import Results

_RECORD = (
    "SELECT * EXCEPT (_topic, _partition, _offset, kafka_ts, inserted_at, version) "
    "FROM {db}.latest_batch_jobs WHERE job_id = {{job:String}}"
)
_PROGRESS = "SELECT * FROM {db}.job_progress WHERE job_id = {{job:String}}"
_FAILURES = """
SELECT recording_id, failure_type AS error_type, failure_reason AS reason
FROM {db}.calls WHERE job_id = {{job:String}} AND status = 'failed'
UNION ALL
SELECT d.recording_id AS recording_id, d.error_type AS error_type,
       concat(d.service, ': ', d.reason) AS reason
FROM {db}.latest_dead_letters AS d
WHERE d.recording_id IN (SELECT recording_id FROM {db}.latest_recordings WHERE job_id = {{job:String}})
ORDER BY recording_id LIMIT 50
"""


def job_status(results: Results, job_id: str, mesh: MeshSettings | None = None) -> dict[str, Any] | None:
    params, db = {"job": job_id}, results.database
    records = results.dicts(_RECORD.format(db=db), params)
    record = records[0] if records else _from_topic(job_id, mesh)
    if record is None:
        return None
    progress = results.dicts(_PROGRESS.format(db=db), params)
    return {
        "job": record,
        "progress": progress[0] if progress else None,
        "failures": results.dicts(_FAILURES.format(db=db), params),
    }


def _from_topic(job_id: str, mesh: MeshSettings | None) -> dict[str, Any] | None:
    if mesh is None:
        return None
    from stt_mesh.batch import read_job

    try:
        return read_job(mesh, job_id, timeout_s=10.0)
    except Exception:
        return None


def status_lines(status: dict[str, Any]) -> list[str]:
    job, p = status["job"], status["progress"] or {}
    models = job.get("models") or []
    names = [
        m if isinstance(m, str) else f"{m['name']}@{m['version']} sha256 {m.get('sha256', '')[:12]}"
        for m in models
    ]
    lines = [
        f"job {job['job_id']} ({job['state']}), tenant {job['tenant']}, priority {job['priority']}",
        f"  manifest sha256 {job['manifest_sha256'][:16]}, {job['manifest_rows']} rows, "
        f"cursor {job['cursor']}, published {job['published']}, resumed {job['resumes']} time(s)",
        f"  models: {', '.join(names) or 'unknown'}; redaction policy {job.get('redaction_policy') or '?'}",
    ]
    if p:
        lines.append(
            f"  progress: {p['done']} done, {p['failed']} failed, {max(p['pending'], 0)} pending, "
            f"{p['retries']} retries"
        )
        accepted = "n/a" if p["accepted_rate"] is None else f"{p['accepted_rate']:.0%}"
        proxy = "n/a" if p["mean_wer_proxy"] is None else f"{p['mean_wer_proxy']:.3f}"
        wer = (
            "n/a"
            if not p["referenced"] or p["mean_true_wer"] is None
            else f"{p['mean_true_wer']:.3f} on {p['referenced']} referenced"
        )
        lines.append(
            f"  quality: accepted {accepted}, mean WER proxy {proxy}, WER {wer}, "
            f"cost ${p['cost_usd'] or 0:.4f}"
        )
    else:
        lines.append("  progress: nothing from this job has reached the result store yet")
    for f in status["failures"]:
        lines.append(f"  failed {f['recording_id']}: {f['error_type']}: {f['reason']}")
    return lines

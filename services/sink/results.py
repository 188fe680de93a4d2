"""Answers built from ClickHouse: a recording's status and result, a batch job's progress.

Kafka is the queue and ClickHouse the result store (no Celery, Redis or RabbitMQ): a
recording is ``queued`` once its metadata is in, ``processing`` once any transcript, turns
or quality report is, ``completed`` once its call-scope transcript and complete quality
report are, and ``failed`` once a RecordingFailed is. Any replica asking the store gets the
same answer, and it survives restarts.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from services.sink.store import Store

_CALL = """
SELECT recording_id, trace_id, tenant, status, priority, duration_s, codec, channels, snr_db,
       model, arm, verdict, reasons, wer_proxy, proxy_version, true_wer, speech_coverage, language,
       language_mix, speaker_count, pii_counts, redaction_policy, redaction_policy_version,
       queue_ms, processing_s, end_to_end_s, rtf, cost_usd, failure_type, failure_reason,
       llm_tasks, llm_accepted, llm_scores, job_id, submitted_at
FROM {db}.calls WHERE recording_id = {{rid:String}} LIMIT 1
"""
_TRANSCRIPT = """
SELECT segments, text, partial, language, entity_counts FROM {db}.latest_transcripts
WHERE recording_id = {{rid:String}} AND scope = 'recording' LIMIT 1
"""
_QUALITY = """
SELECT * EXCEPT (_topic, _partition, _offset, kafka_ts, inserted_at, version)
FROM {db}.latest_quality WHERE recording_id = {{rid:String}} AND scope = 'recording' LIMIT 1
"""
_FAILED_DLQ = """
SELECT source_topic, service, error_type, reason, failed_at FROM {db}.latest_dead_letters
WHERE recording_id = {{rid:String}} ORDER BY failed_at
"""


def recording_result(store: Store, recording_id: str) -> dict[str, Any] | None:
    """The public status of a recording, with its transcript and quality report once
    completed; None when the store has never heard of it."""
    db = store.database
    calls = store.dicts(_CALL.format(db=db), {"rid": recording_id})
    if not calls:
        dlq = store.dicts(_FAILED_DLQ.format(db=db), {"rid": recording_id})
        if not dlq:
            return None
        return {"recording_id": recording_id, "status": "failed", "dead_letters": jsonable(dlq)}
    call = calls[0]
    out: dict[str, Any] = {
        "recording_id": recording_id,
        "trace_id": call["trace_id"],
        "tenant": call["tenant"],
        "status": call["status"],
        "priority": call["priority"],
        "job_id": call["job_id"] or None,
    }
    if call["status"] == "failed":
        out |= {"error_type": call["failure_type"], "reason": call["failure_reason"]}
        return jsonable(out)
    out["audio"] = {
        "duration_s": call["duration_s"],
        "codec": call["codec"],
        "channels": call["channels"],
        "snr_db": call["snr_db"],
    }
    if call["status"] == "completed":
        out["transcript"] = _transcript(store, recording_id)
        quality = store.dicts(_QUALITY.format(db=db), {"rid": recording_id})
        out["quality"] = quality[0] if quality else None
        out["llm_outcomes"] = [
            {"task": t, "accepted": a, "score": s}
            for t, a, s in zip(call["llm_tasks"], call["llm_accepted"], call["llm_scores"], strict=False)
        ]
    return jsonable(out)


def _transcript(store: Store, recording_id: str) -> dict[str, Any] | None:
    rows = store.dicts(_TRANSCRIPT.format(db=store.database), {"rid": recording_id})
    if not rows:
        return None
    t = rows[0]
    kept = bool(t["text"])
    fields = ("speaker", "start_s", "end_s", "channel", "text")
    segments = []
    for seg in t["segments"]:  # a named Tuple comes back as a dict or a tuple, by client version
        seg = seg if isinstance(seg, dict) else dict(zip(fields, seg, strict=True))
        segments.append(
            {
                "speaker": seg["speaker"] or None,
                "start_s": seg["start_s"],
                "end_s": seg["end_s"],
                "channel": seg["channel"],
                "text": seg["text"] if kept else None,
            }
        )
    return {
        "text": t["text"] if kept else None,
        "text_kept": kept,
        "segments": segments,
        "partial": t["partial"],
        "language": t["language"] or None,
        "entity_counts": dict(t["entity_counts"]),
        **(
            {}
            if kept
            else {
                "note": "the sink keeps no transcript text unless "
                "STT_SINK_STORE_REDACTED_TEXT=true (redacted text only)"
            }
        ),
    }


def jsonable(value: Any) -> Any:
    """Dates as ISO strings, tuples as lists, NaN as None, so the answer is plain JSON."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value

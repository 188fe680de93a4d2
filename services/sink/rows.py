"""Event -> row: which table each event type lands in, and the columns it fills.

Routing is by the event's schema (its Avro type), not by topic name, so a deployment can
rename topics without touching the sink. Every row also carries where it came from (topic,
partition, offset, Kafka timestamp), which is what the dedup token and the lag figures use.

Privacy lives here: raw transcript text never arrives (the sink reads only the redacted
topic), redacted text is kept only when configured, producer metadata only for an
allow-list of keys, and a dead letter contributes its metadata, never its payload.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.sink.config import SinkSettings

Row = dict[str, Any]
Source = tuple[str, int, int, int]  # topic, partition, offset, Kafka timestamp (ms)

JOB_KEY, JOB_ROW_KEY = "batch_job", "batch_row"
# ground truth and declared personal data: never copied, whatever the allow-list says
NEVER_KEPT = frozenset({"reference", "reference_channels", "pii_values"})
UINT32_MAX = 2**32 - 1
GOLDEN_RUN_KEY, GOLDEN_SLICE_KEY = "golden_run", "golden_slice"


def ts(ms: int | float | None) -> datetime:
    return datetime.fromtimestamp((ms or 0) / 1000.0, tz=UTC)


def kept_metadata(producer: Mapping[str, Any], s: SinkSettings) -> dict[str, str]:
    return {k: str(producer[k]) for k in s.metadata_keys if k in producer and k not in NEVER_KEPT}


def _meta_row(v: Mapping[str, Any], s: SinkSettings, topic: str) -> Row:
    producer = v.get("metadata") or {}
    stats, hints = v.get("stats") or {}, v.get("hints") or {}
    row = producer.get(JOB_ROW_KEY, "")
    return {
        "recording_id": v["recording_id"],
        "trace_id": v["trace_id"],
        "tenant": v["tenant"],
        "source": v["source"],
        "codec": v["codec"],
        "container": v["container"],
        "original_sample_rate": v["original_sample_rate"],
        "channels": v["channels"],
        "duration_s": v["duration_s"],
        "size_bytes": v["size_bytes"],
        "sha256": v["sha256"],
        "priority": v["priority"],
        "split_channels": v["split_channels"],
        "language_hint": hints.get("language") or "",
        "speakers_hint": hints.get("num_speakers"),
        "arm_hint": hints.get("arm") or "",
        "snr_db": stats.get("snr_db", 0.0),
        "rms_dbfs": stats.get("rms_dbfs", 0.0),
        "clipping_ratio": stats.get("clipping_ratio", 0.0),
        "silence_ratio": stats.get("silence_ratio", 0.0),
        "chunk_count": v["chunk_count"],
        "job_id": producer.get(JOB_KEY, ""),
        "job_row": int(row) if str(row).isdigit() and int(row) <= UINT32_MAX else None,
        "golden_run": producer.get(GOLDEN_RUN_KEY, ""),
        "golden_slice": producer.get(GOLDEN_SLICE_KEY, ""),
        "metadata": kept_metadata(producer, s),
        "submitted_at": ts(v["submitted_at_ms"]),
        "ingested_at": ts(v["ingested_at_ms"]),
        "version": v["ingested_at_ms"],
    }


def _failed_row(v: Mapping[str, Any], s: SinkSettings, topic: str) -> Row:
    producer = v.get("metadata") or {}
    return {
        "recording_id": v["recording_id"],
        "trace_id": v["trace_id"],
        "tenant": v["tenant"],
        "source": v["source"],
        "priority": v.get("priority") or "batch",
        "error_type": v["error_type"],
        "reason": v["reason"][:2000],
        "size_bytes": v.get("size_bytes") or 0,
        "job_id": producer.get(JOB_KEY, ""),
        "metadata": kept_metadata(producer, s),
        "failed_at": ts(v["failed_at_ms"]),
        "version": v["failed_at_ms"],
    }


def _redacted_row(v: Mapping[str, Any], s: SinkSettings, topic: str) -> Row | None:
    if v["scope"] != "recording" and not s.store_segment_scope:
        return None
    keep = s.store_redacted_text
    segments = [
        (g.get("speaker") or "", g["start_s"], g["end_s"], g.get("channel") or 0, g["text"] if keep else "")
        for g in v.get("segments") or []
    ]
    return {
        "recording_id": v["recording_id"],
        "trace_id": v["trace_id"],
        "tenant": v["tenant"],
        "scope": v["scope"],
        "seq": -1 if v.get("seq") is None else v["seq"],
        "policy_name": v["policy_name"],
        "policy_version": v["policy_version"],
        "partial": v["partial"],
        "model": v.get("model") or "",
        "language": v.get("language") or "",
        "entity_counts": dict(v.get("entity_counts") or {}),
        "speakers": sorted({g[0] for g in segments if g[0]}),
        "segments": segments,
        "text": v["text"] if keep else "",
        "produced_at": ts(v["produced_at_ms"]),
        "version": v["produced_at_ms"],
    }


def _turns_row(v: Mapping[str, Any], s: SinkSettings, topic: str) -> Row:
    turns = [
        (
            t["speaker"],
            t["start_s"],
            t["end_s"],
            t["overlap"],
            -1 if t.get("channel") is None else t["channel"],
        )
        for t in v.get("turns") or []
    ]
    return {
        "recording_id": v["recording_id"],
        "trace_id": v["trace_id"],
        "tenant": v["tenant"],
        "num_speakers": v["num_speakers"],
        "partial": v["partial"],
        "mode": v["mode"],
        "pipeline": v["pipeline"],
        "device": v.get("device") or "cpu",
        "audio_duration_s": v["audio_duration_s"],
        "processing_ms": v["processing_ms"],
        "rtf": v["rtf"],
        "turns": turns,
        "produced_at": ts(v["produced_at_ms"]),
        "version": v["produced_at_ms"],
    }


def _quality_row(v: Mapping[str, Any], s: SinkSettings, topic: str) -> Row:
    f, model, sl = v.get("features") or {}, v.get("model") or {}, v.get("slice") or {}
    queue = f.get("queue_ms_max", f.get("queue_ms", 0.0))
    return {
        "recording_id": v["recording_id"],
        "trace_id": v["trace_id"],
        "tenant": v["tenant"],
        "scope": v["scope"],
        "seq": -1 if v.get("seq") is None else v["seq"],
        "model": f"{model.get('name', '')}@{model.get('version', '')}" if model else "",
        "model_sha256": model.get("sha256", ""),
        "device": model.get("device", ""),
        "arm": v["arm"],
        "verdict": v["verdict"],
        "reasons": list(v.get("reasons") or []),
        "proxy_version": v.get("proxy_version") or "",
        "wer_proxy": v["wer_proxy"],
        "true_wer": v.get("true_wer"),
        "speech_coverage": v.get("speech_coverage"),
        "audio_duration_s": v["audio_duration_s"],
        "word_count": v["word_count"],
        "mean_word_probability": v["mean_word_probability"],
        "mean_avg_logprob": v["mean_avg_logprob"],
        "language": v.get("language") or "",
        "language_mix": dict(v.get("language_mix") or {}),
        "speaker_count": v.get("speaker_count"),
        "pii_counts": dict(v.get("pii_counts") or {}),
        "models": list(v.get("models") or []),
        "redaction_policy": v.get("redaction_policy") or "",
        "slice": dict(sl),
        "codec": sl.get("codec", ""),
        "snr_band": sl.get("snr_band", ""),
        "partial": v["partial"],
        "hallucinated_words": v.get("hallucinated_words", 0),
        "repetition_loops": int(f.get("repetition_loops", 0)),
        "privacy_errors": v.get("privacy_errors", 0),
        "retries": v.get("retries", 0),
        "queue_ms": float(queue),
        "processing_s": v.get("processing_s", 0.0),
        "latency_s": f.get("latency_s"),
        "rtf": v.get("rtf", 0.0),
        "cost_usd": v.get("cost_usd", 0.0),
        "golden_run": v.get("golden_run") or "",
        "features": {k: float(x) for k, x in f.items()},
        "produced_at": ts(v["produced_at_ms"]),
        "version": v["produced_at_ms"],
    }


def _gate_row(v: Mapping[str, Any], s: SinkSettings, topic: str) -> Row:
    def name(m: Mapping[str, Any] | None) -> str:
        return f"{m['name']}@{m['version']}" if m else ""

    slices = [
        (
            c["slice"],
            c["metric"],
            c["control_n"],
            c["candidate_n"],
            c["control"],
            c["candidate"],
            c["relative_delta"],
            c.get("p_value"),
            c["effect_size"],
            c["protected"],
            c["bound"],
            c["verdict"],
        )
        for c in v.get("slices") or []
    ]
    return {
        "gate_id": v["gate_id"],
        "source": v.get("source") or "live",
        "golden_run": v.get("golden_run") or "",
        "decision": v["decision"],
        "reason": v.get("reason") or "",
        "reasons": list(v.get("reasons") or []),
        "canary": name(v.get("canary")),
        "control": name(v.get("control")),
        "slice_deltas": dict(v.get("slice_deltas") or {}),
        "slices": slices,
        "window_start": ts(v.get("window_start_ms")),
        "window_end": ts(v.get("window_end_ms")),
        "produced_at": ts(v["produced_at_ms"]),
        "version": v["produced_at_ms"],
    }


def _outcome_row(v: Mapping[str, Any], s: SinkSettings, topic: str) -> Row:
    return {
        "trace_id": v["trace_id"],
        "recording_id": v["recording_id"],
        "tenant": v["tenant"],
        "task": v["task"],
        "accepted": v["accepted"],
        "score": v.get("score"),
        "latency_ms": v["latency_ms"],
        "cost_usd": v.get("cost_usd", 0.0),
        "model": v.get("model") or "",
        "produced_at": ts(v["produced_at_ms"]),
        "version": v["produced_at_ms"],
    }


def _dead_letter_row(v: Mapping[str, Any], s: SinkSettings, topic: str) -> Row:
    key = v.get("source_key") or b""
    try:
        recording_id = key.decode("utf-8") if isinstance(key, bytes) else str(key)
    except UnicodeDecodeError:
        recording_id = ""
    return {
        "dlq_topic": topic,
        "source_topic": v["source_topic"],
        "source_partition": v["source_partition"],
        "source_offset": v["source_offset"],
        "recording_id": recording_id[:200],
        "trace_id": v.get("trace_id") or "",
        "service": v["service"],
        "error_type": v["error_type"],
        "reason": v["reason"][:2000],
        "retries": v.get("retries", 0),
        "header_keys": [h["key"] for h in v.get("headers") or []],
        "payload_bytes": len(v.get("payload") or b""),
        "failed_at": ts(v["failed_at_ms"]),
        "version": v["failed_at_ms"],
    }


def _job_row(v: Mapping[str, Any], s: SinkSettings, topic: str) -> Row:
    models = v.get("models") or []
    return {
        "job_id": v["job_id"],
        "tenant": v["tenant"],
        "priority": v["priority"],
        "manifest": v.get("manifest") or "",
        "manifest_sha256": v["manifest_sha256"],
        "manifest_rows": v["manifest_rows"],
        "cursor": v["cursor"],
        "published": v["published"],
        "state": v["state"],
        "resumes": v.get("resumes", 0),
        "models": [f"{m['name']}@{m['version']}" for m in models],
        "model_hashes": [m.get("sha256", "") for m in models],
        "model_roles": dict(v.get("model_roles") or {}),
        "decode_settings": dict(v.get("decode_settings") or {}),
        "redaction_policy": v.get("redaction_policy") or "",
        "output_schema": dict(v.get("output_schema") or {}),
        "created_at": ts(v["created_at_ms"]),
        "updated_at": ts(v["updated_at_ms"]),
        "version": v["updated_at_ms"],
    }


@dataclass(frozen=True)
class Route:
    table: str
    build: Callable[..., Row | None]


ROUTES: dict[str, Route] = {
    "RecordingMetadata": Route("recordings", _meta_row),
    "RecordingFailed": Route("recording_failures", _failed_row),
    "RedactedTranscript": Route("transcripts", _redacted_row),
    "SpeakerTurns": Route("speaker_turns", _turns_row),
    "QualityReport": Route("quality", _quality_row),
    "GateDecision": Route("gate_decisions", _gate_row),
    "LlmOutcome": Route("llm_outcomes", _outcome_row),
    "DeadLetter": Route("dead_letters", _dead_letter_row),
    "BatchJob": Route("batch_jobs", _job_row),
}


def to_row(
    schema: str, value: Mapping[str, Any], source: Source, settings: SinkSettings
) -> tuple[str, Row] | None:
    """The (table, row) an event becomes, or None for an event the sink does not keep."""
    route = ROUTES.get(schema)
    if route is None:
        return None
    topic, partition, offset, kafka_ms = source
    row = route.build(value, settings, topic)
    if row is None:
        return None
    row.update({"_topic": topic, "_partition": partition, "_offset": offset, "kafka_ts": ts(kafka_ms)})
    return route.table, row

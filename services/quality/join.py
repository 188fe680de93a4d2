"""The per-recording join: every chunk's transcript, the metadata, the speaker turns and the
redaction counts of one recording, and the QualityReports built from them.

The state of one recording is a plain JSON-able dict (the Faust table stores it and its
changelog restores it); the functions here are pure, so the join is tested without a broker.

A recording is *complete* once it has its metadata, ``chunk_count`` distinct chunks, its
SpeakerTurns (when ``expect_turns``) and its recording-scope RedactedTranscript (when
``expect_redaction``). One that receives no event for ``join_timeout_s`` (realtime) or
``batch_join_timeout_s`` (batch) is reported ``partial`` with what it has, and its state is
kept: when the missing events arrive later, the complete report follows (a newer report of
the same recording, which the sink keeps instead of the partial one). A partial join quiet
for ``join_expire_s`` is forgotten.

Raw text: a chunk's normalised text is kept in the state only while it may be needed for
the true WER, i.e. when the metadata carries a ``reference`` or has not arrived yet; the
state is deleted once reported, and the changelog topic keeps deleted keys no longer than
the raw transcript topic does (one day).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from mesh.textnorm import normalize
from services.quality import features as feat
from services.quality import verdict
from services.quality.config import QualitySettings
from services.quality.cost import cost_usd
from services.quality.proxy import WerProxy

REFERENCE_KEY = "reference"  # producer metadata: the reference transcript (labelled recordings)
REFERENCE_CHANNELS_KEY = "reference_channels"  # JSON list: one reference per channel (split channels)
PII_VALUES_KEY = "pii_values"  # producer metadata: JSON list of values that must not survive redaction
GOLDEN_RUN_KEY, GOLDEN_SLICE_KEY, GOLDEN_SPLIT_KEY = "golden_run", "golden_slice", "golden_split"
GOLDEN_SIZE_KEY = "golden_run_size"  # recordings published in the run: its gate waits for all of them
META_FIELDS = (
    "duration_s",
    "codec",
    "container",
    "channels",
    "original_sample_rate",
    "priority",
    "chunk_count",
    "stats",
    "hints",
    "metadata",
    "submitted_at_ms",
    "ingested_at_ms",
    "split_channels",
)


def now_ms() -> int:
    return int(time.time() * 1000)


def new_state(rid: str, trace_id: str, tenant: str, partition: int, at_ms: int) -> dict[str, Any]:
    return {
        "rid": rid,
        "trace_id": trace_id,
        "tenant": tenant,
        "partition": partition,
        "first_ms": at_ms,
        "meta": None,
        "chunks": {},
        "chunk_count": None,
        "turns": None,
        "redaction": None,
        "failed": None,
    }


def _keeps_text(state: Mapping[str, Any]) -> bool:
    meta = state["meta"]
    # an empty reference is a reference too: a probe's words are counted as hallucinated
    return meta is None or any(
        meta["metadata"].get(k) is not None for k in (REFERENCE_KEY, REFERENCE_CHANNELS_KEY)
    )


def absorb(
    state: dict[str, Any],
    schema: str,
    value: Mapping[str, Any],
    chunk_feats: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Fold one event into the state (idempotent: a redelivered event changes nothing).
    ``chunk_feats``: a ChunkTranscript's features when the caller has them already."""
    state["priority"] = state.get("priority") or value.get("priority")
    if schema == "RecordingMetadata":
        state["meta"] = {k: value.get(k) for k in META_FIELDS}
        state["chunk_count"] = value["chunk_count"]
        state["trace_id"] = state["trace_id"] or value["trace_id"]
        if not _keeps_text(state):
            for chunk in state["chunks"].values():
                chunk["text"] = None
        redaction = state["redaction"]
        if redaction is not None and redaction.get("text") is not None:  # it came first
            known = verdict.metadata_list(state["meta"], PII_VALUES_KEY)
            redaction["privacy_errors"] = verdict.privacy_errors(redaction["text"], known)
            redaction["text"] = None
    elif schema == "RecordingFailed":
        state["failed"] = value.get("reason") or "failed"
    elif schema == "ChunkTranscript":
        key = f"{value['channel']}:{value['seq']}"
        state["chunks"][key] = _chunk_summary(value, keep_text=_keeps_text(state), feats=chunk_feats)
        state["chunk_count"] = state["chunk_count"] or value["chunk_count"]
    elif schema == "SpeakerTurns":
        state["turns"] = {
            "num_speakers": value["num_speakers"],
            "rtf": value["rtf"],
            "partial": value["partial"],
            "pipeline": value["pipeline"],
            "processing_ms": value["processing_ms"],
            "overlap_share": feat.overlap_share(value["turns"]),
            "turns": [],
        }  # the turns themselves are not needed once summarised
    elif schema == "RedactedTranscript" and value["scope"] == "recording":
        known = verdict.metadata_list(state["meta"], PII_VALUES_KEY) if state["meta"] else []
        state["redaction"] = {
            "entity_counts": dict(value["entity_counts"]),
            "policy": f"{value['policy_name']}@{value['policy_version']}",
            "partial": value["partial"],
            "privacy_errors": verdict.privacy_errors(value["text"], known),
            # the redacted text waits for the metadata's declared values
            "text": value["text"] if state["meta"] is None else None,
        }
    return state


def _chunk_summary(
    chunk: Mapping[str, Any], keep_text: bool, feats: Mapping[str, float] | None = None
) -> dict[str, Any]:
    m = chunk["model"]
    settings = chunk.get("decode_settings") or {}
    return {
        "seq": chunk["seq"],
        "channel": chunk["channel"],
        "language": chunk["language"],
        "speech_s": chunk["speech_s"],
        "model": f"{m['name']}@{m['version']}",
        "device": m["device"],
        "arm": chunk.get("arm") or "control",
        "redecode_model": settings.get("redecode_model"),
        "recording_duration_s": chunk["recording_duration_s"],
        "start_s": chunk["start_s"],
        "features": dict(feats) if feats is not None else feat.chunk_features(chunk),
        "text": normalize(feat.chunk_text(chunk)) if keep_text else None,
        "word_count": len(feat.chunk_words(chunk)),
    }


def complete(state: Mapping[str, Any], settings: QualitySettings) -> bool:
    if state["failed"]:
        return True
    if state["meta"] is None or state["chunk_count"] is None:
        return False
    if len(state["chunks"]) < state["chunk_count"]:
        return False
    redaction = state["redaction"]
    if settings.expect_redaction and redaction is None:
        return False
    # redact emits a partial recording once it gave up waiting for the turns itself: the
    # diarizer has nothing for this recording (or is not deployed), so neither waits longer
    gave_up = redaction is not None and redaction.get("partial")
    return not (settings.expect_turns and state["turns"] is None and not gave_up)


def timeout_s(state: Mapping[str, Any], settings: QualitySettings) -> float:
    """Realtime recordings wait ``join_timeout_s`` for their next event, batch recordings
    ``batch_join_timeout_s``: a batch backlog delays each stage by as long as the backlog."""
    priority = (state["meta"] or {}).get("priority") or state.get("priority")
    return settings.join_timeout_s if priority == "realtime" else settings.batch_join_timeout_s


def done_marker(state: Mapping[str, Any], at_ms: int) -> dict[str, Any]:
    """What is kept of a completely reported recording: enough to ignore a redelivered event
    (which would otherwise start a new join and, after its timeout, a partial report newer than
    the complete one) until ``join_expire_s`` has passed."""
    return {
        "rid": state["rid"],
        "trace_id": state["trace_id"],
        "tenant": state["tenant"],
        "partition": state["partition"],
        "first_ms": state["first_ms"],
        "done_ms": at_ms,
    }


def timed_out(state: Mapping[str, Any], settings: QualitySettings, at_ms: int) -> bool:
    """No event for the timeout and not reported partial yet."""
    if state.get("partial_ms") or state.get("done_ms"):
        return False
    return at_ms - state.get("last_ms", state["first_ms"]) >= timeout_s(state, settings) * 1000


def expired(state: Mapping[str, Any], settings: QualitySettings, at_ms: int) -> bool:
    """Reported partial and quiet since for ``join_expire_s`` (or reported complete that long
    ago): the join is forgotten."""
    if state.get("done_ms"):
        return at_ms - state["done_ms"] >= settings.join_expire_s * 1000
    return bool(state.get("partial_ms")) and (
        at_ms - state.get("last_ms", state["first_ms"]) >= settings.join_expire_s * 1000
    )


# -- slices ---------------------------------------------------------------------------------
def snr_band(snr_db: float | None) -> str:
    if snr_db is None:
        return "unknown"
    for upper, label in ((10.0, "<10dB"), (20.0, "10-20dB"), (30.0, "20-30dB")):
        if snr_db < upper:
            return label
    return ">=30dB"


def duration_band(seconds: float) -> str:
    for upper, label in ((30.0, "<30s"), (120.0, "30s-2m"), (600.0, "2-10m")):
        if seconds < upper:
            return label
    return ">=10m"


def slice_of(
    state: Mapping[str, Any],
    feats: Mapping[str, float],
    model: str,
    arm: str,
    language: str,
    settings: QualitySettings,
) -> dict[str, str]:
    meta = state["meta"] or {}
    producer = meta.get("metadata") or {}
    channels = meta.get("channels")
    dims = {
        "model": model,
        "arm": arm,
        "language": language,
        "tenant": state["tenant"],
        "codec": meta.get("codec") or "unknown",
        "channels": "unknown" if channels is None else ("mono" if channels == 1 else "stereo"),
        "snr_band": snr_band(feats.get("snr_db")),
        "duration_band": duration_band(feats.get("duration_s", 0.0)),
        "priority": meta.get("priority") or "unknown",
    }
    if producer.get(GOLDEN_SLICE_KEY):
        dims["slice"] = producer[GOLDEN_SLICE_KEY]
    for key in settings.slice_metadata_keys:
        dims[key] = producer.get(key, "unknown")
    return dims


# -- reports --------------------------------------------------------------------------------
def _model_info(name_version: str, device: str) -> dict[str, Any]:
    name, _, version = name_version.partition("@")
    return {"name": name, "version": version, "sha256": "", "compute_type": "", "device": device}


def chunk_report(chunk: Mapping[str, Any], proxy: WerProxy, settings: QualitySettings) -> dict[str, Any]:
    """The chunk-scope QualityReport of one ChunkTranscript (no join needed)."""
    f = feat.chunk_features(chunk)
    proxy_input = {**f, "redecoded_share": f["redecoded"], "fallback_share": f["fallback"]}
    estimate = proxy.predict(proxy_input) if f["words"] else 0.0
    hint = (chunk.get("hints") or {}).get("language")
    why = verdict.reasons(f, estimate, settings.verdict, language=chunk["language"], hint=hint)
    arm = chunk.get("arm") or "control"
    m = chunk["model"]
    state = {"meta": None, "tenant": chunk["tenant"]}
    return {
        "recording_id": chunk["recording_id"],
        "trace_id": chunk["trace_id"],
        "tenant": chunk["tenant"],
        "scope": "chunk",
        "seq": chunk["seq"],
        "model": dict(m),
        "audio_duration_s": chunk["duration_s"],
        "word_count": int(f["words"]),
        "mean_word_probability": f["mean_word_probability"],
        "mean_avg_logprob": f["avg_logprob"],
        "wer_proxy": estimate,
        "language": chunk["language"],
        "rtf": f["rtf"],
        "flags": why,
        "produced_at_ms": now_ms(),
        "arm": arm,
        "verdict": "needs_review" if why else "accepted",
        "reasons": why,
        "proxy_version": proxy.version,
        "true_wer": None,
        "speech_coverage": chunk.get("speech_coverage"),
        "features": f,
        "language_mix": feat.language_mix([chunk]),
        "speaker_count": None,
        "pii_counts": {},
        "models": [f"{m['name']}@{m['version']}"],
        "redaction_policy": "",
        "slice": slice_of(state, f, f"{m['name']}@{m['version']}", arm, chunk["language"], settings),
        "partial": False,
        "hallucinated_words": 0,
        "privacy_errors": 0,
        "retries": int(chunk.get("retries") or 0),
        "processing_s": f["compute_ms"] / 1000.0,
        "cost_usd": cost_usd(f["compute_ms"] / 1000.0, m["device"], settings.cost),
        "golden_run": None,
    }


def recording_report(
    state: Mapping[str, Any], proxy: WerProxy, settings: QualitySettings, partial: bool
) -> dict[str, Any]:
    """The recording-scope QualityReport from a (complete or timed-out) join state."""
    chunks = sorted(state["chunks"].values(), key=lambda c: (c["start_s"], c["channel"]))
    chunk_feats = [c["features"] for c in chunks]
    meta = state["meta"] or {}
    producer = meta.get("metadata") or {}
    f = feat.recording_features(chunks, chunk_feats, meta or None, state["turns"])
    models = Counter(c["model"] for c in chunks)
    main_model = models.most_common(1)[0][0] if models else "none@"
    used = sorted(set(models) | {f"{c['redecode_model']}" for c in chunks if c["redecode_model"]})
    if state["turns"]:
        used.append(f"diarization:{state['turns']['pipeline']}")
    arms = Counter(c["arm"] for c in chunks)
    arm = arms.most_common(1)[0][0] if arms else "control"
    mix = feat.language_mix(
        [
            {
                "speech_s": c["speech_s"],
                "language": c["language"],
                "segments": [{"words": [{}] * c["word_count"]}],
            }
            for c in chunks
        ]
    )
    language = max(mix, key=lambda lang: mix[lang]) if mix else (chunks[0]["language"] if chunks else None)
    redaction = state["redaction"] or {}
    privacy = int(redaction.get("privacy_errors", 0))
    partial = partial or bool(redaction.get("partial")) or bool((state["turns"] or {}).get("partial"))
    estimate = proxy.predict(f) if f["words"] else 0.0
    hint = (meta.get("hints") or {}).get("language")
    why = verdict.reasons(
        f, estimate, settings.verdict, language=language, hint=hint, partial=partial, privacy_errors=privacy
    )
    if state["failed"]:
        why = ["failed", *why]
    reference = producer.get(REFERENCE_KEY)
    hypothesis = " ".join(c["text"] or "" for c in chunks) if reference is not None else ""
    per_channel = verdict.metadata_list(meta, REFERENCE_CHANNELS_KEY)
    if per_channel and len({c["channel"] for c in chunks}) > 1:
        hyps = [
            " ".join(c["text"] or "" for c in chunks if c["channel"] == ch) for ch in range(len(per_channel))
        ]
        wer = verdict.pooled_wer(per_channel, hyps)
    else:
        wer = verdict.true_wer(reference, hypothesis)
    hallucinated = verdict.hallucinated_words(reference, hypothesis)
    if wer is not None:
        f["reference_words"] = float(len(normalize(reference or "").split()))
    device = chunks[0]["device"] if chunks else "cpu"
    produced_at = now_ms()
    if meta.get("submitted_at_ms"):
        f["latency_s"] = max(0.0, (produced_at - meta["submitted_at_ms"]) / 1000.0)
    processing_s = f["processing_s"] + (state["turns"] or {}).get("processing_ms", 0.0) / 1000.0
    return {
        "recording_id": state["rid"],
        "trace_id": state["trace_id"],
        "tenant": state["tenant"],
        "scope": "recording",
        "seq": None,
        "model": _model_info(main_model, device),
        "audio_duration_s": f["duration_s"],
        "word_count": int(f["words"]),
        "mean_word_probability": f["mean_word_probability"],
        "mean_avg_logprob": f["avg_logprob"],
        "wer_proxy": estimate,
        "language": language,
        "rtf": f["rtf_p50"],
        "flags": why,
        "produced_at_ms": produced_at,
        "arm": arm,
        "verdict": "needs_review" if why else "accepted",
        "reasons": why,
        "proxy_version": proxy.version,
        "true_wer": wer,
        "speech_coverage": f["speech_coverage"] if f["speech_s"] > 0 else None,
        "features": f,
        "language_mix": mix,
        "speaker_count": (state["turns"] or {}).get("num_speakers"),
        "pii_counts": dict(redaction.get("entity_counts", {})),
        "models": used,
        "redaction_policy": redaction.get("policy", ""),
        "slice": slice_of(state, f, main_model, arm, language or "unknown", settings),
        "partial": partial,
        "hallucinated_words": hallucinated,
        "privacy_errors": privacy,
        "retries": int(f["retries"]),
        "processing_s": processing_s,
        "cost_usd": cost_usd(processing_s, device, settings.cost),
        "golden_run": producer.get(GOLDEN_RUN_KEY),
    }


def golden_run_size(state: Mapping[str, Any]) -> int:
    raw = ((state["meta"] or {}).get("metadata") or {}).get(GOLDEN_SIZE_KEY)
    try:
        return int(raw) if raw else 0
    except ValueError:
        return 0

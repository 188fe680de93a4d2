"""Schema-valid events for the quality service's tests, built the way the services build them.

ChunkTranscript through ``services.asr.events.chunk_transcript`` and RecordingMetadata through
``services.ingest.events.recording_metadata`` (the real builders); SpeakerTurns and the
RedactedTranscript mirror ``services/diarize/worker.py`` and ``services/redact/worker.py``,
whose modules import the models. Every builder returns the value after an Avro round trip
(``AvroSerde`` encode, decode), i.e. exactly what the quality app's agent receives.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mesh.serde import AvroSerde
from mesh.trace import new_trace_id
from services.asr.events import Quality, Timing, chunk_transcript
from services.asr.results import ModelInfo, Segment, Word
from services.ingest.events import IngestRequest, make_hints, recording_metadata

SERDE = AvroSerde()
TINY = ModelInfo(name="tiny.en", version="ct2-int8-1", sha256="ab" * 32, compute_type="int8", device="cpu")


def round_trip(schema: str, value: Mapping[str, Any]) -> dict[str, Any]:
    """``value`` as a reader of the topic sees it (raises when it does not fit the schema)."""
    data, headers = SERDE.encode(schema, dict(value))
    name, decoded = SERDE.decode(data, headers)
    assert name == f"stt.v1.{schema}"
    return decoded


def now_ms() -> int:
    return int(time.time() * 1000)


def stats(
    snr_db: float = 25.0, clipping: float = 0.0, silence: float = 0.2, duration_s: float = 10.0
) -> dict[str, float]:
    return {
        "duration_s": duration_s,
        "rms_dbfs": -22.0,
        "peak_dbfs": -3.0,
        "clipping_ratio": clipping,
        "snr_db": snr_db,
        "silence_ratio": silence,
    }


def segment(
    text: str,
    start_s: float,
    probs: Sequence[float] | float = 0.9,
    *,
    word_s: float = 0.4,
    avg_logprob: float = -0.2,
    no_speech_prob: float = 0.01,
    compression_ratio: float = 1.3,
) -> Segment:
    """One ASR segment whose words are ``text``'s tokens, ``word_s`` seconds each from ``start_s``."""
    tokens = text.split()
    ps = [probs] * len(tokens) if isinstance(probs, float | int) else list(probs)
    assert len(ps) == len(tokens)
    words = tuple(
        Word(f" {t}", start_s + i * word_s, start_s + (i + 1) * word_s, float(p))
        for i, (t, p) in enumerate(zip(tokens, ps, strict=True))
    )
    end = start_s + max(len(tokens), 1) * word_s
    return Segment(start_s, end, f" {text}", words, avg_logprob, no_speech_prob, compression_ratio)


def chunk(
    rid: str,
    seq: int,
    chunk_count: int,
    segments: Iterable[Segment] = (),
    *,
    trace_id: str = "",
    tenant: str = "acme",
    start_s: float | None = None,
    duration_s: float = 10.0,
    channel: int = 0,
    channel_role: str | None = None,
    speech_s: float = 0.0,
    coverage: float | None = None,
    low_coverage: bool = False,
    redecodes: int = 0,
    repetition_loops: int = 0,
    language: str = "en",
    language_probability: float = 0.97,
    model: ModelInfo = TINY,
    arm: str = "control",
    fallback_reason: str | None = None,
    retries: int = 0,
    processing_ms: float = 500.0,
    queue_ms: float = 40.0,
    recording_duration_s: float | None = None,
    audio_stats: Mapping[str, float] | str | None = "default",
    priority: str = "batch",
    decode_settings: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A ChunkTranscript as the ASR worker publishes it (``audio_stats=None``: a chunk without
    audio statistics)."""
    start = seq * duration_s if start_s is None else start_s
    audio_chunk = {
        "recording_id": rid,
        "tenant": tenant,
        "seq": seq,
        "is_last": seq == chunk_count - 1,
        "chunk_count": chunk_count,
        "channel": channel,
        "channel_role": channel_role,
        "start_s": start,
        "duration_s": duration_s,
        "priority": priority,
        "recording_duration_s": recording_duration_s
        if recording_duration_s is not None
        else chunk_count * duration_s,
        "stats": stats(duration_s=duration_s)
        if audio_stats == "default"
        else None
        if audio_stats is None
        else dict(audio_stats),
    }
    value = chunk_transcript(
        audio_chunk,
        trace_id or new_trace_id(),
        list(segments),
        language,
        language_probability,
        model,
        dict(decode_settings or {"beam_size": "1", "vad_filter": "true"}),
        Timing(queue_ms=queue_ms, processing_ms=processing_ms, batch_size=1, produced_at_ms=now_ms()),
        fallback_reason=fallback_reason,
        retries=retries,
        quality=Quality(
            speech_s=speech_s,
            speech_coverage=coverage,
            low_coverage=low_coverage,
            redecodes=redecodes,
            repetition_loops=repetition_loops,
        ),
        arm=arm,
    )
    return round_trip("ChunkTranscript", value)


def metadata(
    rid: str,
    chunk_count: int,
    *,
    trace_id: str = "",
    tenant: str = "acme",
    reference: str | None = None,
    pii_values: Sequence[str] | None = None,
    language: str | None = None,
    extra: Mapping[str, str] | None = None,
    channels: int = 1,
    split_channels: bool = False,
    duration_s: float = 20.0,
    codec: str = "pcm_s16le",
    snr_db: float = 25.0,
    priority: str = "batch",
    submitted_at_ms: int | None = None,
) -> dict[str, Any]:
    """A RecordingMetadata as ingest publishes it; ``reference`` and ``pii_values`` go into
    the producer metadata the way a labelled (golden) recording carries them."""
    producer = dict(extra or {})
    if reference is not None:
        producer["reference"] = reference
    if pii_values is not None:
        producer["pii_values"] = json.dumps(list(pii_values))
    request = IngestRequest(
        recording_id=rid,
        tenant=tenant,
        source="cli",
        filename=f"{rid}.wav",
        priority=priority,
        split_channels=split_channels,
        hints=make_hints(language=language),
        metadata=producer,
        submitted_at_ms=submitted_at_ms,
    )
    now = now_ms()
    value = recording_metadata(
        request,
        trace_id or new_trace_id(),
        codec=codec,
        container="wav",
        original_sample_rate=16000,
        channels=channels,
        duration_s=duration_s,
        size_bytes=int(duration_s * 32000),
        sha256="cd" * 32,
        stats=stats(snr_db=snr_db, duration_s=duration_s),
        chunk_count=chunk_count,
        submitted_at_ms=submitted_at_ms or now - 5000,
        ingested_at_ms=now - 4000,
    )
    return round_trip("RecordingMetadata", value)


def turns(
    rid: str,
    spans: Sequence[tuple[str, float, float]],
    *,
    trace_id: str = "",
    tenant: str = "acme",
    partial: bool = False,
    duration_s: float = 20.0,
    processing_ms: float = 1200.0,
) -> dict[str, Any]:
    """SpeakerTurns as the diarize worker publishes them (``overlap`` as it marks it)."""
    overlap = [
        any(o is not i and s2 < e1 and s1 < e2 and spk2 != spk1 for o, (spk2, s2, e2) in enumerate(spans))
        for i, (spk1, s1, e1) in enumerate(spans)
    ]
    value = {
        "recording_id": rid,
        "trace_id": trace_id or new_trace_id(),
        "tenant": tenant,
        "turns": [
            {"speaker": spk, "start_s": float(s), "end_s": float(e), "overlap": overlap[i], "channel": None}
            for i, (spk, s, e) in enumerate(spans)
        ],
        "num_speakers": len({spk for spk, _, _ in spans}),
        "partial": partial,
        "mode": "model",
        "pipeline": "pyannote-segmentation-3.0+campplus",
        "pipeline_params": {"window_s": "300.0"},
        "model_hashes": {"segmentation": "ef" * 32},
        "device": "cpu",
        "audio_duration_s": duration_s,
        "processing_ms": processing_ms,
        "rtf": processing_ms / 1000.0 / duration_s,
        "produced_at_ms": now_ms(),
    }
    return round_trip("SpeakerTurns", value)


def redacted(
    rid: str,
    text: str,
    entity_counts: Mapping[str, int] | None = None,
    *,
    trace_id: str = "",
    tenant: str = "acme",
    scope: str = "recording",
    seq: int | None = None,
    partial: bool = False,
) -> dict[str, Any]:
    """A RedactedTranscript as the redact worker publishes it (``<TYPE>`` mask operator)."""
    counts = dict(entity_counts or {})
    entities = []
    for entity_type in counts:
        at = text.find(f"<{entity_type}>")
        if at >= 0:
            entities.append(
                {
                    "entity_type": entity_type,
                    "score": 0.85,
                    "start_char": at,
                    "end_char": at + len(entity_type) + 2,
                    "start_s": None,
                    "end_s": None,
                    "operator": "mask",
                }
            )
    value = {
        "recording_id": rid,
        "trace_id": trace_id or new_trace_id(),
        "tenant": tenant,
        "language": "en",
        "scope": scope,
        "seq": seq,
        "text": text,
        "segments": [{"speaker": "SPEAKER_00", "start_s": 0.0, "end_s": 1.0, "text": text, "channel": 0}],
        "entities": entities,
        "entity_counts": counts,
        "policy_name": "default",
        "policy_version": "3",
        "partial": partial,
        "model": "en_core_web_md",
        "produced_at_ms": now_ms(),
    }
    return round_trip("RedactedTranscript", value)


def redacted_call(
    rid: str,
    turns: Sequence[tuple[str | None, str]],
    *,
    trace_id: str = "",
    tenant: str = "acme",
    scope: str = "recording",
    seg_s: float = 4.0,
) -> dict[str, Any]:
    """A RedactedTranscript of a conversation: one segment per (speaker, text) turn, ``seg_s``
    seconds each, the text of the whole call their concatenation."""
    value = redacted(rid, " ".join(text for _, text in turns), trace_id=trace_id, tenant=tenant, scope=scope)
    value["segments"] = [
        {"speaker": speaker, "start_s": i * seg_s, "end_s": (i + 1) * seg_s, "text": text, "channel": 0}
        for i, (speaker, text) in enumerate(turns)
    ]
    return round_trip("RedactedTranscript", value)

"""Quality features of a chunk and of a recording, computed from events only.

Nothing here re-decodes audio: every figure comes from the ChunkTranscript (decoder
confidences, coverage, re-decodes, the chunk's audio statistics), the RecordingMetadata, the
SpeakerTurns and the recording-scope RedactedTranscript. A feature is a float (flags are 0/1)
so that the WER proxy, the verdict and the QualityReport's ``features`` map read one shape.

Recording features weight chunk features by the chunk's speech seconds (a chunk of silence
says nothing about the transcript), except the minima and maxima, which are taken over all
chunks with words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

LOW_WORD_PROBABILITY = 0.5
MAX_NGRAM = 6


def chunk_words(chunk: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [w for seg in chunk.get("segments") or () for w in seg.get("words") or ()]


def chunk_text(chunk: Mapping[str, Any]) -> str:
    return " ".join(seg["text"].strip() for seg in chunk.get("segments") or () if seg["text"].strip())


def longest_repeat_run(tokens: Sequence[str], max_n: int = MAX_NGRAM) -> int:
    """Most back-to-back copies of any n-gram (n <= max_n): 1 when nothing repeats.

    "no no no" is 3, "thank you thank you" is 2 (n=2), "a b c" is 1."""
    best = 1 if tokens else 0
    for n in range(1, max_n + 1):
        for start in range(len(tokens) - 2 * n + 1):
            copies, pos = 1, start + n
            while pos + n <= len(tokens) and tokens[pos : pos + n] == tokens[start : start + n]:
                copies, pos = copies + 1, pos + n
            best = max(best, copies)
    return best


def _tokens(words: Iterable[Mapping[str, Any]]) -> list[str]:
    return [t for t in ("".join(c for c in w["word"].lower() if c.isalnum()) for w in words) if t]


def chunk_features(chunk: Mapping[str, Any]) -> dict[str, float]:
    """The features of one ChunkTranscript."""
    words = chunk_words(chunk)
    probs = np.array([w["probability"] for w in words], dtype=float)
    segments = [s for s in chunk.get("segments") or () if s.get("words")]
    seg_len = np.array([max(s["end_s"] - s["start_s"], 1e-3) for s in segments], dtype=float)
    logprob = np.array([s["avg_logprob"] for s in segments], dtype=float)
    speech_s = float(chunk.get("speech_s") or 0.0)
    stats = chunk.get("stats") or {}
    coverage = chunk.get("speech_coverage")
    out = {
        "duration_s": float(chunk["duration_s"]),
        "speech_s": speech_s,
        "words": float(len(words)),
        "mean_word_probability": float(probs.mean()) if len(probs) else 1.0,
        "min_word_probability": float(probs.min()) if len(probs) else 1.0,
        "low_probability_share": float((probs < LOW_WORD_PROBABILITY).mean()) if len(probs) else 0.0,
        "avg_logprob": float(np.average(logprob, weights=seg_len)) if len(segments) else 0.0,
        "min_avg_logprob": float(logprob.min()) if len(segments) else 0.0,
        "no_speech_prob": max((s["no_speech_prob"] for s in segments), default=0.0),
        "compression_ratio": max((s["compression_ratio"] for s in segments), default=0.0),
        "words_per_speech_s": len(words) / speech_s if speech_s > 0 else 0.0,
        "speech_coverage": 1.0 if coverage is None else float(coverage),
        "repetition_run": float(longest_repeat_run(_tokens(words))),
        "repetition_loops": float(chunk.get("repetition_loops") or 0),
        "language_probability": float(chunk.get("language_probability") or 0.0),
        "redecoded": float(bool(chunk.get("redecodes"))),
        "fallback": float(bool(chunk.get("fallback_used"))),
        "low_coverage": float(bool(chunk.get("low_coverage"))),
        "rtf": float(chunk.get("rtf") or 0.0),
        "queue_ms": float(chunk.get("queue_ms") or 0.0),
        "processing_ms": float(chunk.get("processing_ms") or 0.0),
        # the ASR times a whole batched call: a chunk's share of the compute is 1/batch of it
        "compute_ms": float(chunk.get("processing_ms") or 0.0) / max(int(chunk.get("batch_size") or 1), 1),
        "retries": float(chunk.get("retries") or 0),
    }
    for key in ("snr_db", "clipping_ratio", "silence_ratio"):
        if stats.get(key) is not None:
            out[key] = float(stats[key])
    return out


def _weighted(values: Sequence[float], weights: Sequence[float]) -> float:
    w = np.asarray(weights, dtype=float)
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return 0.0
    return float(np.average(v, weights=w)) if w.sum() > 0 else float(v.mean())


def language_mix(chunks: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Share of the recording's speech seconds per detected language (sums to 1)."""
    seconds: dict[str, float] = {}
    for c in chunks:
        if c.get("speech_s") and chunk_words(c):
            seconds[c["language"]] = seconds.get(c["language"], 0.0) + float(c["speech_s"])
    total = sum(seconds.values())
    return {lang: s / total for lang, s in sorted(seconds.items())} if total else {}


def overlap_share(turns: Sequence[Mapping[str, Any]]) -> float:
    """Seconds where two or more speakers talk, over seconds where anyone talks."""
    edges = sorted([(t["start_s"], 1) for t in turns] + [(t["end_s"], -1) for t in turns])
    active, last, speech, overlap = 0, 0.0, 0.0, 0.0
    for time_s, step in edges:
        if active >= 1:
            speech += time_s - last
        if active >= 2:
            overlap += time_s - last
        active, last = active + step, time_s
    return overlap / speech if speech > 0 else 0.0


def recording_features(
    chunks: Sequence[Mapping[str, Any]],
    chunk_feats: Sequence[Mapping[str, float]],
    meta: Mapping[str, Any] | None,
    turns: Mapping[str, Any] | None,
) -> dict[str, float]:
    """A recording's features from its chunks (with their features), metadata and turns."""
    speech = [f["speech_s"] for f in chunk_feats]
    spoken = [f for f in chunk_feats if f["words"] > 0]
    words = sum(f["words"] for f in chunk_feats)
    speech_total = sum(speech)
    covered = sum(f["speech_s"] * f["speech_coverage"] for f in chunk_feats)
    rtf = [f["rtf"] for f in chunk_feats]
    queue = [f["queue_ms"] for f in chunk_feats]
    out = {
        "chunks": float(len(chunk_feats)),
        "words": words,
        "speech_s": speech_total,
        "speech_coverage": covered / speech_total if speech_total > 0 else 1.0,
        "words_per_speech_s": words / speech_total if speech_total > 0 else 0.0,
        "rtf_p50": float(np.median(rtf)) if rtf else 0.0,
        "rtf_max": max(rtf, default=0.0),
        "queue_ms_p50": float(np.median(queue)) if queue else 0.0,
        "queue_ms_max": max(queue, default=0.0),
        "processing_s": sum(f.get("compute_ms", f["processing_ms"]) for f in chunk_feats) / 1000.0,
        "retries": sum(f["retries"] for f in chunk_feats),
        "redecoded_share": _weighted([f["redecoded"] for f in chunk_feats], speech),
        "fallback_share": _weighted([f["fallback"] for f in chunk_feats], speech),
        "low_coverage_chunks": sum(f["low_coverage"] for f in chunk_feats),
        "repetition_run": max((f["repetition_run"] for f in chunk_feats), default=0.0),
        "repetition_loops": sum(f["repetition_loops"] for f in chunk_feats),
        "min_word_probability": min((f["min_word_probability"] for f in spoken), default=1.0),
        "min_avg_logprob": min((f["min_avg_logprob"] for f in spoken), default=0.0),
        "no_speech_prob": max((f["no_speech_prob"] for f in spoken), default=0.0),
        "compression_ratio": max((f["compression_ratio"] for f in spoken), default=0.0),
    }
    wspeech = [f["speech_s"] for f in spoken]
    for key in ("mean_word_probability", "low_probability_share", "avg_logprob", "language_probability"):
        out[key] = _weighted([f[key] for f in spoken], wspeech) if spoken else (1.0 if "prob" in key else 0.0)
    if not spoken:
        out["low_probability_share"] = 0.0
        out["avg_logprob"] = 0.0
    for key in ("snr_db", "clipping_ratio", "silence_ratio"):
        have = [f for f in chunk_feats if key in f]
        if have:
            out[key] = _weighted([f[key] for f in have], [f["duration_s"] for f in have])
    stats = (meta or {}).get("stats") or {}
    for key in ("snr_db", "clipping_ratio", "silence_ratio"):  # the whole file's figure wins
        if stats.get(key) is not None:
            out[key] = float(stats[key])
    duration = (meta or {}).get("duration_s") or (chunks[0].get("recording_duration_s") if chunks else 0.0)
    out["duration_s"] = float(duration or 0.0)
    if out["duration_s"] > 0:
        out["compute_rtf"] = out["processing_s"] / out["duration_s"]
    hint = ((meta or {}).get("hints") or {}).get("language")
    if hint and speech_total > 0:  # speech decoded in another language than the producer said
        wanted = hint.split("-")[0]
        off = sum(c["speech_s"] for c in chunks if c.get("language", hint).split("-")[0] != wanted)
        out["off_hint_share"] = off / speech_total
    if turns is not None:
        out["speaker_count"] = float(turns.get("num_speakers") or 0)
        # the join keeps the share it computed when the turns arrived, not the turns themselves
        shared = turns.get("overlap_share")
        out["overlap_share"] = (
            float(shared) if shared is not None else overlap_share(turns.get("turns") or ())
        )
        out["diarization_rtf"] = float(turns.get("rtf") or 0.0)
    return out

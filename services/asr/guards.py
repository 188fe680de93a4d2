"""Hallucination guards: what keeps text out of transcripts of audio without speech.

Whisper was trained on subtitles, so silence, hum and noise decode to "You", "Thank you very
much." and repeated lines. Layers, cheapest first:

1. ``silent_chunk``: a chunk whose RMS is below ``silent_chunk_dbfs`` is not decoded at all.
2. VAD (in the engine): a chunk without detected speech is not decoded at all.
3. Per segment, after decoding (the scores are per window, every segment of it shares them):
   - ``no_speech``: Whisper's own rule, no-speech probability high *and* log-probability low;
   - ``uncertain_no_speech``: no-speech probability high and the words themselves unlikely
     (catches "You" on mains hum, whose log-probability sits just above -1);
   - ``repetitive``: gzip compression ratio above the threshold (a repetition loop that
     survived temperature fallback);
   - ``low_confidence``: mean word probability below a floor.
4. Per word: ``quiet_word`` drops words whose loudest 20 ms is below ``min_word_dbfs``
   (a segment left without words is dropped as ``quiet``).
5. Per chunk: ``repetition_loop`` trims an n-gram repeated back to back (``repetition.py``);
   the count is of loops, not words.

Each rule can be switched off with ``None``; the counts of what was dropped travel with the
result so a run can be audited.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from services.asr import repetition
from services.asr.audio import dbfs, peak_frame_dbfs
from services.asr.results import Decoded, Segment


@dataclass(frozen=True, slots=True)
class GuardSettings:
    silent_chunk_dbfs: float | None = -60.0
    no_speech_threshold: float | None = 0.6
    log_prob_threshold: float | None = -1.0
    uncertain_word_probability: float | None = 0.5
    compression_ratio_threshold: float | None = 2.4
    min_mean_word_probability: float | None = 0.2
    min_word_dbfs: float | None = -60.0
    loop_min_repeats: int | None = 3  # None: keep repetition loops
    loop_min_repeats_single: int = 4


def is_silent(audio: np.ndarray, settings: GuardSettings) -> bool:
    return settings.silent_chunk_dbfs is not None and dbfs(audio) < settings.silent_chunk_dbfs


def apply(decoded: Decoded, audio: np.ndarray, settings: GuardSettings) -> Decoded:
    """Drop hallucinated segments and silent words; times are relative to ``audio``."""
    dropped: Counter[str] = Counter(decoded.dropped)
    kept: list[Segment] = []
    for segment in decoded.segments:
        reason = segment_verdict(segment, settings)
        if reason is None and segment.words:
            segment = _drop_quiet_words(segment, audio, settings, dropped)
            reason = None if segment.words else "quiet"
        if reason is None:
            kept.append(segment)
        else:
            dropped[reason] += 1
    if settings.loop_min_repeats is None:
        return replace(decoded, segments=tuple(kept), dropped=dict(dropped))
    loops = repetition.LoopSettings(settings.loop_min_repeats, settings.loop_min_repeats_single)
    trimmed = repetition.trim(tuple(kept), loops)
    if trimmed.loops:
        dropped["repetition_loop"] += len(trimmed.loops)
    return replace(
        decoded, segments=trimmed.segments, dropped=dict(dropped), suspect=decoded.suspect + trimmed.loops
    )


def segment_verdict(segment: Segment, s: GuardSettings) -> str | None:
    """Name of the first rule the segment breaks, or None to keep it."""
    silent = s.no_speech_threshold is not None and segment.no_speech_prob > s.no_speech_threshold
    mean_p = _mean_probability(segment)
    if silent and s.log_prob_threshold is not None and segment.avg_logprob < s.log_prob_threshold:
        return "no_speech"
    if (
        silent
        and s.uncertain_word_probability is not None
        and mean_p is not None
        and mean_p < s.uncertain_word_probability
    ):
        return "uncertain_no_speech"
    if (
        s.compression_ratio_threshold is not None
        and segment.compression_ratio > s.compression_ratio_threshold
    ):
        return "repetitive"
    if (
        s.min_mean_word_probability is not None
        and mean_p is not None
        and mean_p < s.min_mean_word_probability
    ):
        return "low_confidence"
    return None


def _mean_probability(segment: Segment) -> float | None:
    if not segment.words:
        return None
    return float(np.mean([w.probability for w in segment.words]))


def _drop_quiet_words(
    segment: Segment, audio: np.ndarray, s: GuardSettings, dropped: Counter[str]
) -> Segment:
    if s.min_word_dbfs is None or not segment.words:
        return segment
    words = tuple(w for w in segment.words if peak_frame_dbfs(audio, w.start, w.end) >= s.min_word_dbfs)
    if len(words) == len(segment.words):
        return segment
    dropped["quiet_word"] += len(segment.words) - len(words)
    text = "".join(w.word for w in words)
    return replace(
        segment,
        words=words,
        text=text,
        start=words[0].start if words else segment.start,
        end=words[-1].end if words else segment.end,
    )

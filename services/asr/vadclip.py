"""Voice activity clipping before decoding, and mapping times back afterwards.

Whisper invents text for audio without speech (silence, hum, noise: "Thank you.", "you").
Silero VAD (shipped inside faster-whisper as ONNX, so it runs offline) finds the speech; a
chunk without any is never decoded, and a chunk with some is decoded as its speech regions
glued together, the way faster-whisper's batched pipeline does. Word times are then mapped
back to the chunk's own timeline through the removed gaps.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from faster_whisper.vad import SpeechTimestampsMap, VadOptions, get_speech_timestamps

from mesh.audio import SAMPLE_RATE
from services.asr.results import Segment, Word


@dataclass(frozen=True, slots=True)
class Clipped:
    """Speech-only audio and how to map its times back (``None`` map: nothing removed).

    ``regions`` are the speech regions in seconds of the original audio: what the worker's
    coverage check measures the words against (empty without VAD: speech unknown).
    """

    audio: np.ndarray
    speech_s: float
    ts_map: SpeechTimestampsMap | None
    regions: tuple[tuple[float, float], ...] = ()


def vad_options(threshold: float = 0.5, min_silence_ms: int = 160, pad_ms: int = 400) -> VadOptions:
    """faster-whisper's batched-mode defaults; one chunk never holds more than 30 s."""
    return VadOptions(
        threshold=threshold,
        min_silence_duration_ms=min_silence_ms,
        speech_pad_ms=pad_ms,
        max_speech_duration_s=30.0,
    )


def clip_speech(audio: np.ndarray, options: VadOptions | None) -> Clipped:
    """Keep only the speech regions of ``audio`` (everything when ``options`` is None)."""
    if options is None:
        return Clipped(audio, len(audio) / SAMPLE_RATE, None)
    regions = get_speech_timestamps(audio, options, sampling_rate=SAMPLE_RATE)
    if not regions:
        return Clipped(np.zeros(0, dtype=np.float32), 0.0, None)
    speech = np.concatenate([audio[r["start"] : r["end"]] for r in regions])
    seconds = tuple((r["start"] / SAMPLE_RATE, r["end"] / SAMPLE_RATE) for r in regions)
    return Clipped(speech, len(speech) / SAMPLE_RATE, SpeechTimestampsMap(regions, SAMPLE_RATE), seconds)


def restore_times(segments: list[Segment], ts_map: SpeechTimestampsMap | None) -> list[Segment]:
    """Move segment and word times from the glued speech back onto the chunk timeline."""
    if ts_map is None:
        return segments
    return [_restore(segment, ts_map) for segment in segments]


def _restore(segment: Segment, ts_map: SpeechTimestampsMap) -> Segment:
    if not segment.words:
        return replace(
            segment,
            start=ts_map.get_original_time(segment.start),
            end=ts_map.get_original_time(segment.end, is_end=True),
        )
    words = tuple(_restore_word(w, ts_map) for w in segment.words)
    return replace(segment, start=words[0].start, end=words[-1].end, words=words)


def _restore_word(word: Word, ts_map: SpeechTimestampsMap) -> Word:
    # Both ends resolve through the region holding the midpoint, so a word never spans a gap.
    index = ts_map.get_chunk_index(word.mid)
    return Word(
        word.word,
        ts_map.get_original_time(word.start, index),
        ts_map.get_original_time(word.end, index),
        word.probability,
    )

"""Decoding options and the token-level steps of one batched Whisper decode.

faster-whisper's ``BatchedInferencePipeline`` batches the windows of *one* file under one
language, one prompt and a single temperature. A batch here mixes chunks of different
recordings, so each window gets its own prompt (language token, tenant prompt, hotwords) and
its own temperature fallback, and windows whose decoder prompts differ in length are generated
in separate groups (CTranslate2 needs ``<|startoftranscript|>`` at the same position across
a batch).

Windows are decoded without timestamp tokens, as in the batched pipeline: with them, Whisper
may close a window early with a timestamp pair, which in its sequential loop means "go on
from here in the next window". A chunk is a single window, so the rest would be lost
(measured: base stopped after 5.8 s of a 12 s chunk of the sample call). Segments are cut
from the aligned words instead (``align.split_sentences``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import ctranslate2
import numpy as np


@dataclass(frozen=True, slots=True)
class DecodeOptions:
    beam_size: int = 5
    best_of: int = 5
    patience: float = 1.0
    length_penalty: float = 1.0
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    compression_ratio_threshold: float | None = 2.4
    log_prob_threshold: float | None = -1.0
    no_speech_threshold: float | None = 0.6
    word_timestamps: bool = True
    segment_gap_s: float = 1.0  # a pause this long between words starts a new segment
    max_new_tokens: int | None = None
    suppress_blank: bool = True
    suppress_tokens: tuple[int, ...] = (-1,)
    vad_filter: bool = True
    vad_threshold: float = 0.5
    vad_min_silence_ms: int = 160
    vad_pad_ms: int = 400

    def as_settings(self) -> dict[str, str]:
        """Every option as strings: the ``decode_settings`` map of a transcript."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
        return out


@dataclass(slots=True)
class Attempt:
    """One generated hypothesis for one window."""

    tokens: list[int]
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    temperature: float


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def needs_retry(attempt: Attempt, opts: DecodeOptions) -> bool:
    """Whisper's rule: too repetitive or too unlikely, unless it is confidently silence."""
    unlikely = opts.log_prob_threshold is not None and attempt.avg_logprob < opts.log_prob_threshold
    silent = opts.no_speech_threshold is not None and attempt.no_speech_prob > opts.no_speech_threshold
    if silent and unlikely:
        return False
    repetitive = (
        opts.compression_ratio_threshold is not None
        and attempt.compression_ratio > opts.compression_ratio_threshold
    )
    return repetitive or unlikely


def best_attempt(attempts: list[Attempt], opts: DecodeOptions) -> Attempt:
    """The first that passed, else the likeliest among those that are not repetitive."""
    for attempt in attempts:
        if not needs_retry(attempt, opts):
            return attempt
    limit = opts.compression_ratio_threshold
    fluent = [a for a in attempts if limit is None or a.compression_ratio <= limit]
    return max(fluent or attempts, key=lambda a: a.avg_logprob)


def generate(
    model: Any,
    encoder_output: Any,
    prompts: list[list[int]],
    tokenizer: Any,
    opts: DecodeOptions,
    take: Callable[[list[int]], Any],
) -> list[Attempt]:
    """Decode every window, retrying failed ones at the next temperature (in sub-batches)."""
    attempts: list[list[Attempt]] = [[] for _ in prompts]
    pending = list(range(len(prompts)))
    for temperature in opts.temperatures:
        results = _generate_grouped(
            model, encoder_output, prompts, pending, tokenizer, opts, temperature, take
        )
        for i, attempt in zip(pending, results, strict=True):
            attempts[i].append(attempt)
        pending = [i for i in pending if needs_retry(attempts[i][-1], opts)]
        if not pending:
            break
    return [best_attempt(a, opts) for a in attempts]


def _generate_grouped(
    model: Any,
    encoder_output: Any,
    prompts: list[list[int]],
    indices: list[int],
    tokenizer: Any,
    opts: DecodeOptions,
    temperature: float,
    take: Callable[[list[int]], Any],
) -> list[Attempt]:
    groups: dict[int, list[int]] = {}
    for i in indices:
        groups.setdefault(prompts[i].index(tokenizer.sot), []).append(i)
    by_index: dict[int, Attempt] = {}
    for group in groups.values():
        features = encoder_output if group == list(range(len(prompts))) else take(group)
        results = _generate_once(model, features, [prompts[i] for i in group], tokenizer, opts, temperature)
        by_index.update(zip(group, results, strict=True))
    return [by_index[i] for i in indices]


def _generate_once(
    model: Any,
    features: Any,
    prompts: list[list[int]],
    tokenizer: Any,
    opts: DecodeOptions,
    temperature: float,
) -> list[Attempt]:
    greedy = temperature == 0.0
    max_length = (
        448 if opts.max_new_tokens is None else min(448, max(map(len, prompts)) + opts.max_new_tokens)
    )
    results = model.model.generate(
        features,
        prompts,
        beam_size=opts.beam_size if greedy else 1,
        patience=opts.patience,
        num_hypotheses=1 if greedy else opts.best_of,
        length_penalty=opts.length_penalty,
        repetition_penalty=opts.repetition_penalty,
        no_repeat_ngram_size=opts.no_repeat_ngram_size,
        max_length=max_length,
        return_scores=True,
        return_no_speech_prob=True,
        suppress_blank=opts.suppress_blank,
        suppress_tokens=suppressed(tokenizer, opts),
        sampling_topk=1 if greedy else 0,
        sampling_temperature=temperature if not greedy else 1.0,
    )
    return [_pick(result, tokenizer, opts, temperature) for result in results]


def _pick(result: Any, tokenizer: Any, opts: DecodeOptions, temperature: float) -> Attempt:
    best: Attempt | None = None
    for tokens, score in zip(result.sequences_ids, result.scores, strict=True):
        length = len(tokens)
        avg = score * (length**opts.length_penalty) / (length + 1)
        if best is None or avg > best.avg_logprob:
            ratio = compression_ratio(tokenizer.decode(tokens))
            best = Attempt(list(tokens), avg, result.no_speech_prob, ratio, temperature)
    assert best is not None
    return best


def suppressed(tokenizer: Any, opts: DecodeOptions) -> list[int]:
    tokens = [t for t in opts.suppress_tokens if t >= 0]
    if -1 in opts.suppress_tokens:
        tokens.extend(tokenizer.non_speech_tokens)
    tokens.extend(
        [
            tokenizer.transcribe,
            tokenizer.translate,
            tokenizer.sot,
            tokenizer.sot_prev,
            tokenizer.sot_lm,
            tokenizer.no_speech,
        ]
    )
    return sorted(set(t for t in tokens if t is not None))


def prompt_for(tokenizer: Any, initial_prompt: str | None, hotwords: str | None) -> list[int]:
    """``[<|startofprev|> hotwords prompt] <|sot|> <|lang|> <|task|> <|notimestamps|>``."""
    previous = tokenizer.encode(" " + initial_prompt.strip()) if initial_prompt else []
    words = tokenizer.encode(" " + hotwords.strip()) if hotwords else []
    prompt: list[int] = []
    if previous or words:
        prompt = [tokenizer.sot_prev, *words[: 223 - len(previous[-223:])], *previous[-223:]]
    prompt.extend(tokenizer.sot_sequence)
    prompt.append(tokenizer.no_timestamps)
    return prompt


def window_segment(tokens: list[int], tokenizer: Any, duration: float) -> list[dict]:
    """The window's text tokens as one segment spanning the audio (none without text)."""
    text = [t for t in tokens if t < tokenizer.eot]
    return [{"start": 0.0, "end": duration, "tokens": text}] if text else []


def take_rows(encoder_output: Any, rows: list[int]) -> Any:
    """Rows of a CPU encoder output as a new batch (CPU only; GPU batches re-encode)."""
    array = np.asarray(encoder_output)[rows]
    return ctranslate2.StorageView.from_array(np.ascontiguousarray(array))

"""Batched faster-whisper decoding of independent chunks (one Whisper window each).

Why not ``WhisperModel.transcribe`` per chunk: it encodes and decodes one window at a time,
so a batch of 8 chunks costs 8 encoder passes and 8 beam searches. Here the whole batch is
encoded in one call and decoded in one ``generate`` call (per prompt-length group), which is
what makes batching across recordings pay off, on CPU a little and on GPU a lot.

Steps: VAD clipping (chunks without speech stop here) -> log-mel features -> one encoder
pass -> language per chunk (hint, or detection from the same encoder output) -> per-chunk
prompts -> batched generate with temperature fallback -> batched word alignment per language
-> segments cut at sentence ends and pauses -> times mapped back through the VAD gaps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from faster_whisper.audio import pad_or_trim
from faster_whisper.tokenizer import Tokenizer

from services.asr import decode
from services.asr.align import align_batch, split_sentences
from services.asr.decode import Attempt, DecodeOptions
from services.asr.results import Decoded, DecodeRequest, ModelInfo, Segment, Word
from services.asr.vadclip import Clipped, clip_speech, restore_times, vad_options

MIN_SPEECH_S = 0.1  # shorter than this after VAD is not worth a decoder pass
MAX_WINDOW_S = 30.0


class Engine(Protocol):
    """What the worker needs from a model; tests pass fakes with the same shape."""

    info: ModelInfo

    def decode_settings(self) -> dict[str, str]: ...

    def transcribe_batch(self, requests: Sequence[DecodeRequest]) -> list[Decoded]: ...


class WhisperEngine:
    def __init__(self, model: Any, info: ModelInfo, options: DecodeOptions | None = None) -> None:
        self.model = model
        self.info = info
        self.options = options or DecodeOptions()
        self.multilingual = bool(model.model.is_multilingual)
        self._tokenizers: dict[str, Tokenizer] = {}
        self._vad = (
            vad_options(self.options.vad_threshold, self.options.vad_min_silence_ms, self.options.vad_pad_ms)
            if self.options.vad_filter
            else None
        )

    def decode_settings(self) -> dict[str, str]:
        return self.options.as_settings()

    def with_options(self, options: DecodeOptions) -> WhisperEngine:
        """The same loaded weights decoding with other options (a rollout's candidate arm)."""
        return WhisperEngine(self.model, self.info, options)

    def transcribe_batch(self, requests: Sequence[DecodeRequest]) -> list[Decoded]:
        for request in requests:
            if request.duration_s > MAX_WINDOW_S + 0.01:
                raise ValueError(
                    f"chunk of {request.duration_s:.2f} s is longer than one "
                    f"{MAX_WINDOW_S:.0f} s Whisper window"
                )
        clips = [clip_speech(r.audio.astype(np.float32, copy=False), self._vad) for r in requests]
        results = [self._silent(r, c) for r, c in zip(requests, clips, strict=True)]
        live = [i for i, c in enumerate(clips) if c.speech_s >= MIN_SPEECH_S]
        if live:
            decoded = self._decode([requests[i] for i in live], [clips[i] for i in live])
            for i, result in zip(live, decoded, strict=True):
                results[i] = result
        return results

    # -- steps ------------------------------------------------------------------------------
    def _decode(self, requests: list[DecodeRequest], clips: list[Clipped]) -> list[Decoded]:
        features = np.stack([self._features(c.audio) for c in clips])
        encoded = self.model.encode(features)
        take = self._taker(encoded, features)
        languages = self._languages(requests, encoded, take)
        tokenizers = [self._tokenizer(lang) for lang, _ in languages]
        prompts = [
            decode.prompt_for(tok, r.initial_prompt, r.hotwords)
            for tok, r in zip(tokenizers, requests, strict=True)
        ]
        attempts = self._generate(encoded, prompts, tokenizers, take)
        windows = [
            decode.window_segment(a.tokens, tok, c.speech_s)
            for a, tok, c in zip(attempts, tokenizers, clips, strict=True)
        ]
        if self.options.word_timestamps:
            self._align(encoded, tokenizers, windows, clips, take)
        return [
            self._result(lang, windows[i], attempts[i], tokenizers[i], clips[i])
            for i, lang in enumerate(languages)
        ]

    def _features(self, audio: np.ndarray) -> np.ndarray:
        return pad_or_trim(self.model.feature_extractor(audio)[..., :-1])

    def _taker(self, encoded: Any, features: np.ndarray) -> Any:
        """Select rows of the batch: slice on CPU, re-encode on GPU (no host round trip)."""
        if self.model.model.device == "cpu":
            return lambda rows: decode.take_rows(encoded, rows)
        return lambda rows: self.model.encode(features[rows])

    def _languages(self, requests: list[DecodeRequest], encoded: Any, take: Any) -> list[tuple[str, float]]:
        if not self.multilingual:
            return [("en", 1.0)] * len(requests)
        supported = set(self.model.supported_languages)
        unknown = [i for i, r in enumerate(requests) if r.language not in supported]
        out = [(r.language or "", 1.0) for r in requests]
        if unknown:
            rows = encoded if len(unknown) == len(requests) else take(unknown)
            for i, ranked in zip(unknown, self.model.model.detect_language(rows), strict=True):
                token, prob = ranked[0]
                out[i] = (token[2:-2], float(prob))
        return out

    def _tokenizer(self, language: str) -> Tokenizer:
        if language not in self._tokenizers:
            self._tokenizers[language] = Tokenizer(
                self.model.hf_tokenizer,
                self.multilingual,
                task="transcribe",
                language=language if self.multilingual else None,
            )
        return self._tokenizers[language]

    def _generate(
        self, encoded: Any, prompts: list[list[int]], tokenizers: list[Tokenizer], take: Any
    ) -> list[Attempt]:
        # Special tokens are shared by every language of one model, so any tokenizer will do.
        return decode.generate(self.model, encoded, prompts, tokenizers[0], self.options, take)

    def _align(
        self,
        encoded: Any,
        tokenizers: list[Tokenizer],
        windows: list[list[dict]],
        clips: list[Clipped],
        take: Any,
    ) -> None:
        groups: dict[str, list[int]] = {}
        for i, (tok, segs) in enumerate(zip(tokenizers, windows, strict=True)):
            if segs:
                groups.setdefault(tok.language_code, []).append(i)
        for rows in groups.values():
            batch = encoded if rows == list(range(len(windows))) else take(rows)
            frames = [min(3000, math.ceil(clips[i].speech_s) * 100) for i in rows]
            align_batch(self.model, tokenizers[rows[0]], batch, [windows[i] for i in rows], frames)

    def _result(
        self,
        language: tuple[str, float],
        window: list[dict],
        attempt: Attempt,
        tokenizer: Tokenizer,
        clip: Clipped,
    ) -> Decoded:
        segments = restore_times([self._segment(s, attempt, tokenizer) for s in window], clip.ts_map)
        gap = self.options.segment_gap_s
        segments = [p for s in segments for p in split_sentences(s, gap) if p.text.strip()]
        return Decoded(language[0], language[1], tuple(segments), clip.speech_s, clip.regions)

    @staticmethod
    def _segment(seg: dict, attempt: Attempt, tokenizer: Tokenizer) -> Segment:
        words = tuple(Word(w["word"], w["start"], w["end"], w["probability"]) for w in seg.get("words", ()))
        return Segment(
            round(seg["start"], 3),
            round(seg["end"], 3),
            tokenizer.decode(seg["tokens"]),
            words,
            attempt.avg_logprob,
            attempt.no_speech_prob,
            attempt.compression_ratio,
            attempt.temperature,
        )

    def _silent(self, request: DecodeRequest, clip: Clipped) -> Decoded:
        language = (request.language or "") if self.multilingual else "en"
        return Decoded(language, 0.0, (), clip.speech_s, clip.regions)

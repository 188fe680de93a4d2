"""Token-level decoding steps: window segment, retry rule, prompts, settings map."""

from __future__ import annotations

from types import SimpleNamespace

from services.asr.decode import (
    Attempt,
    DecodeOptions,
    best_attempt,
    compression_ratio,
    needs_retry,
    prompt_for,
    window_segment,
)

EOT = 50256
TOKENIZER = SimpleNamespace(
    eot=EOT,
    sot=50257,
    sot_prev=50360,
    no_timestamps=50362,
    sot_sequence=[50257],
    encode=lambda text: [ord(c) for c in text],
)


def test_a_window_is_one_segment_of_its_text_tokens():
    assert window_segment([1, 2, 3, EOT], TOKENIZER, 3.0) == [{"start": 0.0, "end": 3.0, "tokens": [1, 2, 3]}]
    assert window_segment([EOT], TOKENIZER, 3.0) == []


def attempt(logprob=-0.3, no_speech=0.1, ratio=1.5, temperature=0.0) -> Attempt:
    return Attempt([1], logprob, no_speech, ratio, temperature)


def test_retry_rule_follows_whisper():
    opts = DecodeOptions()
    assert not needs_retry(attempt(), opts)
    assert needs_retry(attempt(ratio=2.9), opts)
    assert needs_retry(attempt(logprob=-1.4), opts)
    assert not needs_retry(attempt(logprob=-1.4, no_speech=0.8), opts)  # silence: no retry


def test_best_attempt_prefers_a_passing_one_else_the_likeliest_fluent_one():
    opts = DecodeOptions()
    looping, unlikely, worse = attempt(ratio=4.0, logprob=-0.1), attempt(-1.5), attempt(-2.0)
    assert best_attempt([looping, unlikely, worse], opts) is unlikely
    good = attempt(-0.5, temperature=0.4)
    assert best_attempt([looping, good], opts) is good


def test_prompt_puts_hotwords_and_prompt_before_the_start_of_transcript():
    prompt = prompt_for(TOKENIZER, "ab", "z")
    assert prompt == [50360, ord(" "), ord("z"), ord(" "), ord("a"), ord("b"), 50257, 50362]
    assert prompt_for(TOKENIZER, None, None) == [50257, 50362]


def test_compression_ratio_flags_repetition():
    assert compression_ratio("thank you " * 30) > 2.4 > compression_ratio("a normal sentence")


def test_decode_settings_are_all_strings():
    settings = DecodeOptions(beam_size=2).as_settings()
    assert settings["beam_size"] == "2"
    assert settings["temperatures"] == "0.0,0.2,0.4,0.6,0.8,1.0"
    assert settings["vad_filter"] == "True"
    assert all(isinstance(v, str) for v in settings.values())

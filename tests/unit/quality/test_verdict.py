"""Each verdict rule alone, the reference checks (true WER, hallucinations) and privacy errors."""

from __future__ import annotations

import pytest

from services.quality import verdict
from services.quality.config import VerdictSettings

S = VerdictSettings()

# features of a clean chunk: every rule is quiet
CLEAN = {
    "speech_s": 8.0,
    "speech_coverage": 0.98,
    "low_coverage": 0.0,
    "repetition_run": 1.0,
    "words": 20.0,
    "mean_word_probability": 0.9,
    "low_probability_share": 0.05,
    "words_per_speech_s": 2.5,
    "language_probability": 0.95,
}


def reasons(feats=None, proxy=0.1, **kw):
    return verdict.reasons({**CLEAN, **(feats or {})}, proxy, S, **kw)


def test_clean_features_are_accepted() -> None:
    assert reasons() == []
    assert reasons(language="en", hint="en") == []
    assert reasons(language="en", hint="en-US") == []  # a region is not a different language


@pytest.mark.parametrize(
    ("change", "kw", "reason"),
    [
        ({"speech_coverage": 0.8}, {}, "low_coverage"),
        ({"low_coverage": 1.0}, {}, "low_coverage"),  # the ASR's own flag
        ({"low_coverage_chunks": 2.0}, {}, "low_coverage"),  # recording scope
        ({"repetition_run": 3.0}, {}, "repetition"),
        ({"mean_word_probability": 0.5}, {}, "low_confidence"),
        ({"low_probability_share": 0.4}, {}, "low_confidence"),
        ({}, {"language": "es", "hint": "en"}, "language_mismatch"),
        ({}, {"proxy": 0.31}, "high_proxy"),
        ({"words_per_speech_s": 0.5}, {}, "sparse_words"),
        ({"words_per_speech_s": 6.5}, {}, "dense_words"),
        ({}, {"partial": True}, "partial"),
        ({}, {"privacy_errors": 1}, "privacy"),
    ],
)
def test_each_rule_fires_alone(change, kw, reason) -> None:
    kw = dict(kw)
    proxy = kw.pop("proxy", 0.1)
    assert reasons(change, proxy, **kw) == [reason]


@pytest.mark.parametrize(
    ("change", "kw"),
    [
        ({"speech_coverage": 0.9}, {}),  # at the bound
        ({"speech_coverage": 0.1, "speech_s": 0.0}, {}),  # no speech: nothing to cover
        ({"repetition_run": 2.0}, {}),
        ({"mean_word_probability": 0.55}, {}),
        ({"low_probability_share": 0.35}, {}),
        (
            {
                "mean_word_probability": 0.1,
                "low_probability_share": 1.0,
                "words": 0.0,
                "words_per_speech_s": 0.0,
            },
            {},
        ),  # no words: no confidence to judge
        ({"language_probability": 0.4}, {"language": "es", "hint": "en"}),  # detector unsure
        ({}, {"language": "es", "hint": None}),  # no hint
        ({}, {"language": None, "hint": "en"}),
        ({}, {"proxy": 0.30}),
        ({"words_per_speech_s": 0.1, "speech_s": 1.5}, {}),  # under 2 s of speech: no rate rule
        ({"words_per_speech_s": 6.0}, {}),
    ],
)
def test_rules_stay_quiet_otherwise(change, kw) -> None:
    kw = dict(kw)
    proxy = kw.pop("proxy", 0.1)
    assert reasons(change, proxy, **kw) == []


def test_thresholds_come_from_the_settings() -> None:
    strict = VerdictSettings(min_coverage=0.99, max_proxy=0.05)
    assert verdict.reasons(CLEAN, 0.1, strict) == ["low_coverage", "high_proxy"]


def test_true_wer_against_a_reference() -> None:
    assert verdict.true_wer("The cat sat on the mat.", "the cat sat on the mat") == 0.0
    assert verdict.true_wer("the cat sat on the mat", "the cat sat on a hat") == pytest.approx(2 / 6)
    assert verdict.true_wer("the cat sat", "the cat sat down") == pytest.approx(1 / 3)
    assert verdict.true_wer("the cat sat on the mat", "") == 1.0
    assert verdict.true_wer("it costs 42 dollars", "it costs forty two dollars") == 0.0  # normalised


def test_true_wer_is_none_without_a_reference_or_with_an_empty_one() -> None:
    assert verdict.true_wer(None, "anything") is None
    assert verdict.true_wer("", "thank you") is None
    assert verdict.true_wer("  ...  ", "thank you") is None


def test_hallucinated_words_only_count_for_a_probe() -> None:
    assert verdict.hallucinated_words("", "Thank you. Bye!") == 3
    assert verdict.hallucinated_words("", "") == 0
    assert verdict.hallucinated_words(None, "thank you") == 0
    assert verdict.hallucinated_words("hello", "hello thank you") == 0


@pytest.mark.parametrize(
    ("text", "known", "errors"),
    [
        ("the year 2024 was good", [], 0),
        ("please call <PHONE_NUMBER> today", [], 0),
        ("my card is <CREDIT_CARD> and my pin is <LONG_NUMBER>", [], 0),
        ("call 555 123 4567 now", [], 1),  # 10 digits left over
        ("the account 1234-5678-90 is closed", [], 1),
        ("codes 123456 and 654321", [], 0),  # two 6-digit runs are not one long number
        ("numbers 1234567 and 7654321", [], 2),
        ("it is John Smith calling", ["John Smith"], 1),
        ("it is john smith calling", ["John Smith"], 1),  # case-insensitive
        ("it is <PERSON> calling", ["John Smith"], 0),
        ("my pin is 4 7 1 1", ["4711"], 1),  # digit for digit, whatever the spacing
        ("my pin is <LONG_NUMBER>", ["4711"], 0),
        ("ssn <US_SSN>, name <PERSON>", ["123-45-6789", "Jane Doe"], 0),
        ("", ["Jane Doe"], 0),
        ("hello", [""], 0),  # an empty declared value matches nothing
    ],
)
def test_privacy_errors(text, known, errors) -> None:
    assert verdict.privacy_errors(text, known) == errors


def test_privacy_errors_ignore_the_digits_of_hashed_placeholders() -> None:
    # the hash operator writes <TYPE:hex digest>; a digest's digits are not personal data
    text = "call <PHONE_NUMBER:1234567a9b0c> or <CREDIT_CARD:0412345abcde>, ask for <PERSON:1f2e3d4c5b6a>"
    assert verdict.privacy_errors(text) == 0
    assert verdict.privacy_errors(text, ["4123", "1234"]) == 0


def test_a_known_number_must_appear_as_one_number() -> None:
    # digits of different numbers in the text do not add up to a declared value
    assert verdict.privacy_errors("we met at 12 and left at 34", ["1234"]) == 0
    assert verdict.privacy_errors("room 12 34 please", ["1234"]) == 1
    assert verdict.privacy_errors("the code is (12) 3-4", ["12-34"]) == 1
    # an IBAN left in the text, letters and all
    assert verdict.privacy_errors("iban GB82 WEST 1234 56", ["GB82WEST123456"]) == 1


def test_metadata_list() -> None:
    assert verdict.metadata_list({"metadata": {"pii": '["a", 42]'}}, "pii") == ["a", "42"]
    assert verdict.metadata_list({"metadata": {"pii": "not json"}}, "pii") == ["not json"]
    assert verdict.metadata_list({"metadata": {"pii": '"one"'}}, "pii") == ["one"]
    assert verdict.metadata_list({"metadata": {}}, "pii") == []
    assert verdict.metadata_list(None, "pii") == []

"""The engine factory and the batched detector on top of Presidio (real spaCy model)."""

from __future__ import annotations

import pytest

from services.redact.analyzer import (
    SUPPORTED_ENTITIES,
    CallNlpEngine,
    Detection,
    Detector,
    may_contain_ner,
    merge_overlaps,
)

pytestmark = pytest.mark.slow


def found(detector: Detector, text: str, entities=SUPPORTED_ENTITIES) -> list[tuple[str, str]]:
    return [(d.entity_type, text[d.start : d.end]) for d in detector.detect(text, entities)]


def test_factory_keeps_only_the_ner_component(analyzer):
    assert isinstance(analyzer.nlp_engine, CallNlpEngine)
    assert analyzer.nlp_engine.get_nlp("en").pipe_names == ["ner"]


def test_detector_finds_spoken_and_written_pii_together(detector):
    text = (
        "Hi, this is Sarah Johnson. My email is sarah dot johnson at gmail dot com, "
        "my card is 4111 1111 1111 1111 and I live at 42 Elm Street in Springfield."
    )
    assert found(detector, text) == [
        ("PERSON", "Sarah Johnson"),
        ("EMAIL_ADDRESS", "sarah dot johnson at gmail dot com"),
        ("CREDIT_CARD", "4111 1111 1111 1111"),
        ("LOCATION", "42 Elm Street"),
        ("LOCATION", "Springfield"),
    ]


@pytest.mark.parametrize("text", [
    "I will call you at four.", "The order number is A B 1 2.", "The product code is X J 9 0 0.",
    "I have two kids.", "I'll be there at ten thirty tomorrow.", "We spoke on Monday.",
])  # fmt: skip
def test_negatives_are_left_alone(detector, text):
    assert found(detector, text) == []


def test_dates_must_be_calendar_dates(detector):
    text = "I was born on March third, nineteen eighty two."
    spans = found(detector, text)
    assert {t for t, _ in spans} == {"DATE_TIME"}
    assert " ".join(s for _, s in spans).replace(",", "") == "March third nineteen eighty two"
    assert found(detector, "Call me tomorrow morning.") == []


def test_policy_entities_limit_what_is_found(detector):
    text = "This is Sarah Johnson, my number is two one two five five five oh one nine eight."
    assert found(detector, text, ["PHONE_NUMBER"]) == [
        ("PHONE_NUMBER", "two one two five five five oh one nine eight")
    ]


def test_batch_gives_the_same_spans_as_one_by_one(detector):
    texts = [
        "Thanks, Marcus.",
        "my social is one two three four five six seven eight nine",
        "okay",
        "I'm calling from Denver about jane.doe@example.com",
    ]
    batch = detector.detect_many(texts, SUPPORTED_ENTITIES)
    assert batch == [detector.detect(t, SUPPORTED_ENTITIES) for t in texts]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yeah, one moment please.", False),
        ("Sure. Can you hold on?", False),
        ("my SSN is one two three", False),
        ("Thanks, Marcus.", True),
        ("talked to sarah yesterday", False),
        ("my name is sarah", True),
        ("I was born in march", True),
    ],
)
def test_ner_gate(text, expected):
    assert may_contain_ner(text) is expected


def test_ner_gate_skips_the_model_but_not_the_patterns(analyzer):
    gated, ungated = Detector(analyzer), Detector(analyzer, ner_gate=False)
    texts = ["okay my cell is two one two five five five oh one nine eight", "Hello Tom."]
    assert gated.detect_many(texts, SUPPORTED_ENTITIES) == ungated.detect_many(texts, SUPPORTED_ENTITIES)
    assert (gated.ner_runs, ungated.ner_runs) == (1, 2)


def test_overlapping_spans_merge_into_the_best_type():
    merged = merge_overlaps(
        [
            Detection("LOCATION", 0, 10, 0.85),
            Detection("PERSON", 0, 5, 0.88),
            Detection("PHONE_NUMBER", 20, 30, 0.7),
        ]
    )
    assert merged == [Detection("PERSON", 0, 10, 0.88), Detection("PHONE_NUMBER", 20, 30, 0.7)]


def test_the_year_half_of_a_split_date_stays_with_it(detector):
    text = "My date of birth is July ninth, nineteen ninety one."
    found = detector.detect(text, ["DATE_TIME"])
    covered = {i for d in found for i in range(d.start, d.end)}
    start = text.index("July")
    end = text.index("one.") + 3
    assert set(range(start, end)) - covered <= {i for i, c in enumerate(text) if c in " ,"}

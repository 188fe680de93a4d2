"""The given-name recognizer: names a small NER model calls places, and real places."""

from __future__ import annotations

import importlib.util

import pytest

from services.redact.analyzer import SUPPORTED_ENTITIES
from services.redact.gazetteer import GivenNameRecognizer, census_given_names

NAMES = {"leona", "daria", "savannah", "diego", "gloria"}


def spans(text: str) -> list[str]:
    rec = GivenNameRecognizer(given_names=NAMES)
    return [text[r.start : r.end] for r in rec.analyze(text, ["PERSON"])]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("I was helped by Leona last time", "Leona"),
        ("Can you transfer me to Daria in claims?", "Daria"),
        ("Gloria Brennan called yesterday", "Gloria Brennan"),
    ],
)
def test_known_given_names_are_people(text, name):
    assert spans(text) == [name]


@pytest.mark.parametrize(
    "text",
    [
        "we're moving to Savannah next month",
        "I'm calling from Savannah",
        "the word leona in lower case",
        "LEONA in capitals is an acronym",
    ],
)
def test_places_lower_case_and_acronyms_are_not(text):
    assert spans(text) == []


@pytest.mark.slow
def test_a_given_name_inside_a_place_name_stays_a_place(detector):
    text = "We're out near Austin, it's about an hour from San Diego."
    found = [(d.entity_type, text[d.start : d.end]) for d in detector.detect(text, SUPPORTED_ENTITIES)]
    assert ("LOCATION", "San Diego") in found
    assert all(t != "PERSON" for t, _ in found)


@pytest.mark.skipif(importlib.util.find_spec("names") is None, reason="names not installed")
def test_census_list_loads_without_everyday_words_or_states():
    given = census_given_names()
    assert len(given) > 4000
    assert {"gloria", "leona"} <= given
    assert not {"will", "may", "georgia", "grace", "the"} & given

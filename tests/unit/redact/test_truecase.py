"""Truecasing lower-case ASR text for NER and the gazetteer, and lower-case names and places
through the whole detector (real spaCy model)."""

from __future__ import annotations

import pytest

from services.redact.analyzer import SUPPORTED_ENTITIES, Detector
from services.redact.truecase import Truecaser

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def truecaser(detector: Detector) -> Truecaser:
    return detector.truecaser


@pytest.mark.parametrize(
    ("text", "cased"),
    [
        ("okay john smith i have updated the record", "okay John Smith i have updated the record"),
        ("we moved to leeds last year", "we moved to Leeds last year"),
        ("so ngozi told me it was fixed", "so Ngozi told me it was fixed"),
        ("i'll call you at four there were two agents", "i'll call you at four there were two agents"),
        ("will you mark it as paid", "will you mark it as paid"),
    ],
)
def test_names_and_places_get_their_capitals_back_and_words_do_not(truecaser, text, cased):
    assert truecaser.truecase(text) == cased


def test_truecasing_keeps_every_offset(truecaser):
    text = "thanks harold, the refund for ngozi okafor went to 12 baker street london"
    cased = truecaser.truecase(text)
    assert len(cased) == len(text) and cased.lower() == text


def test_common_words_come_from_the_vector_ranks(truecaser):
    assert truecaser.common_lower("will") and truecaser.common_lower("reimbursement")
    assert not truecaser.common_lower("john") and truecaser.mostly_capitalised("london")
    assert truecaser.unknown("oyelaran") and not truecaser.unknown("record")
    assert truecaser.mostly_capitalised("okonjo")


def found(detector: Detector, text: str) -> list[tuple[str, str]]:
    return [(d.entity_type, text[d.start : d.end]) for d in detector.detect(text, SUPPORTED_ENTITIES)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("okay john smith i have updated the record", [("PERSON", "john smith")]),
        ("thanks harold have a good day", [("PERSON", "harold")]),
        ("so i told sandra it was fixed", [("PERSON", "sandra")]),
        ("we're at twelve baker street london", [("LOCATION", "twelve baker street london")]),
        ("i'm staying in coventry this week", [("LOCATION", "coventry")]),
    ],
)
def test_lower_case_names_and_places_without_a_cue_are_found(detector, text, expected):
    assert found(detector, text) == expected


@pytest.mark.parametrize("text", [
    "i'll call you at four", "there were two agents on the line", "will you mark it as paid",
    "the bank said it would take three days", "i bought it from amazon",
])  # fmt: skip
def test_lower_case_text_without_pii_is_left_alone(detector, text):
    assert found(detector, text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "deliver to forty three oakfield avenue cork please",
            [("LOCATION", "forty three oakfield avenue cork")],
        ),
        ("kwame asante called earlier about the claim", [("PERSON", "kwame asante")]),
    ],
)
def test_lower_case_towns_after_addresses_and_no_name_after_called(detector, text, expected):
    assert found(detector, text) == expected


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("it was seraphina who called me", "seraphina"),
        ("can you put ignatius on please", "ignatius"),
    ],
)
def test_lower_case_names_before_who_and_after_put(detector, text, name):
    assert ("PERSON", name) in found(detector, text)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("hello orlaith it's me again", "orlaith"),
        ("i'm speaking to temperance okonkwo am i", "temperance okonkwo"),
        ("uzoma ibekwe phoned earlier", "uzoma ibekwe"),
    ],
)
def test_lower_case_names_in_caseless_text_without_a_cue_list(detector, text, name):
    assert ("PERSON", name) in found(detector, text)


@pytest.mark.parametrize("text", ["we moved to houston last year", "i bought it from amazon"])
def test_known_capitalised_words_after_to_or_from_and_acronyms_are_no_names(detector, text):
    assert [e for e, _ in found(detector, text)] in ([], ["LOCATION"])

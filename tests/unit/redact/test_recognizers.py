"""Each recognizer on its own (no spaCy model needed except where noted); numbers and
identifiers are in test_numbers.py."""

from __future__ import annotations

import socket

import pytest
import tldextract

from services.redact import names, recognizers


def email_spans(text: str) -> list[str]:
    rec = recognizers.SpokenEmailRecognizer()
    return [text[r.start : r.end] for r in rec.analyze(text, ["EMAIL_ADDRESS"])]


@pytest.mark.parametrize(
    "said",
    [
        "john dot smith at example dot com",
        "j o h n at gmail dot com",
        "mary underscore jones at outlook dot co dot uk",
        "mike42 at yahoo dot com",
        "jane.doe@gmail.com",
        "jane dot doe at gmail.com",
    ],
)
def test_when_an_email_is_spelled_out_then_the_whole_address_is_found(said):
    assert email_spans(f"sure, it's {said}, thanks") == [said]


@pytest.mark.parametrize(
    "text",
    [
        "visit us at acme dot com",
        "I'm at home right now",
        "we meet at the office dot",
    ],
)
def test_when_at_and_dot_are_ordinary_words_then_no_email(text):
    assert email_spans(text) == []


def test_written_email_validation_never_touches_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    extractor = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    rec = recognizers.OfflineEmailRecognizer(extractor=extractor)
    text = "mail jane.doe@example.co.uk today"
    results = rec.analyze(text, ["EMAIL_ADDRESS"])
    assert [text[r.start : r.end] for r in results] == ["jane.doe@example.co.uk"]
    assert results[0].score == 1.0


@pytest.mark.parametrize("address", [
    "42 Elm Street", "1600 Pennsylvania Avenue", "four twenty Oak Lane",
    "eleven twenty Birch Drive", "7 Main St",
])  # fmt: skip
def test_street_addresses_in_digits_or_words(address):
    rec = recognizers.StreetAddressRecognizer()
    text = f"I live at {address}, near the park"
    assert [text[r.start : r.end].rstrip(".") for r in rec.analyze(text, ["LOCATION"])] == [address]


def test_street_recognizer_ignores_counts_before_ordinary_words():
    rec = recognizers.StreetAddressRecognizer()
    assert rec.analyze("we waited two hours on the road", ["LOCATION"]) == []


def person_spans(text: str) -> list[str]:
    rec = names.NameCueRecognizer()
    return sorted({text[r.start : r.end] for r in rec.analyze(text, ["PERSON"])})


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("my name is priya nair and I'm calling about a bill", "priya nair"),
        ("Hi, this is Sarah calling from the bank", "Sarah"),
        ("can I speak with Mr. Okafor please", "Okafor"),
        ("Yes, Marcus, I can hold", "Marcus"),
        ("my wife Natalia handles it", "Natalia"),
        ("Rebecca said you could waive it", "Rebecca"),
        ("the last name is spelled S M I T H", "S M I T H"),
        ("Santos, S A N T O S.", "S A N T O S"),
    ],
)
def test_when_a_cue_introduces_a_name_then_it_is_a_person(text, name):
    assert name in person_spans(text)


@pytest.mark.parametrize(
    "text",
    [
        "this is great, thanks",
        "my name is on the account",
        "I'm calling about my order",
        "the order number is A B 1 2",
        "Okay, Monday works",
        "Thanks, bye.",
    ],
)
def test_when_cue_words_are_followed_by_ordinary_words_then_no_person(text):
    assert person_spans(text) == []


def test_guarded_recognizer_skips_texts_without_its_trigger():
    calls = []

    class Counting(recognizers.StreetAddressRecognizer):
        def analyze(self, *args, **kwargs):
            calls.append(args[0])
            return super().analyze(*args, **kwargs)

    rec = recognizers.guarded(Counting, r"(?i)street")
    rec.analyze("no address here", ["LOCATION"])
    assert calls == []
    assert rec.analyze("at 42 Elm Street", ["LOCATION"])
    assert calls == ["at 42 Elm Street"]


def test_an_email_whose_at_the_asr_dropped_is_found_after_an_email_cue():
    from services.redact.recognizers import AtlessEmailRecognizer

    rec = AtlessEmailRecognizer()
    for text, expected in [
        ("My email is john.smith.example.com.", "john.smith.example.com"),
        ("my e-mail is john dot smith example dot com thanks", "john dot smith example dot com"),
    ]:
        [found] = rec.analyze(text, ["EMAIL_ADDRESS"])
        assert text[found.start : found.end] == expected
    assert rec.analyze("Visit shop.example.com for the manual.", ["EMAIL_ADDRESS"]) == []

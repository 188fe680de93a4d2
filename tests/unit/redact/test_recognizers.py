"""Each recognizer on its own (no spaCy model needed except where noted)."""

from __future__ import annotations

import socket

import pytest
import tldextract

from services.redact import names, recognizers
from services.redact.recognizers import CARD, PHONE, SSN


def numbers(text: str, context: list[str] | None = None) -> list[tuple[str, str, float]]:
    rec = recognizers.SpokenNumberRecognizer()
    raw = rec.analyze(text, rec.supported_entities)
    scored = rec.enhance_using_context(text, raw, [], None, context)
    return [(r.entity_type, text[r.start:r.end], round(r.score, 2)) for r in scored]


def kept(text: str, threshold: float = 0.4, context: list[str] | None = None) -> list:
    return [(e, span) for e, span, score in numbers(text, context) if score >= threshold]


def test_when_a_luhn_valid_card_is_said_in_words_then_it_is_a_card():
    text = "my card is four one one one, one one one one, one one one one, one one one one."
    assert kept(text) == [(CARD, text[11:-1])]


def test_when_the_card_checksum_fails_then_only_card_words_make_it_a_card():
    digits = "four one one one one one one one one one one one one one one two"
    assert kept(f"uh {digits} sorry") == []
    assert kept(f"the card number is {digits}") == [(CARD, digits)]


def test_when_a_card_is_split_over_numerals_then_the_whole_number_is_one_span():
    text = "use 4111 1111 1111 1111 please"
    assert kept(text) == [(CARD, "4111 1111 1111 1111")]


@pytest.mark.parametrize("said", [
    "two one two, five five five, oh one nine eight",
    "two one two five five five oh one nine eight",
    "212 555 0198",
    "two one two, double five five, oh one ninety eight",
    "one two one two five five five oh one nine eight",
    "plus four four two oh seven nine four six oh nine five eight",
])
def test_when_a_phone_number_is_said_then_it_is_a_phone(said):
    assert kept(f"sure, it's {said}.") == [(PHONE, said)]


def test_when_seven_digits_have_a_phone_cue_then_they_are_a_phone():
    assert kept("it's five five five one two three four") == []
    assert kept("my cell is five five five one two three four") == [
        (PHONE, "five five five one two three four")]


def test_when_an_ssn_is_said_then_social_words_raise_its_score():
    said = "one two three, four five, six seven eight nine"
    ((entity, span, plain),) = numbers(f"it's {said}")
    ((_, _, cued),) = numbers(f"my social is {said}")
    assert (entity, span) == (SSN, said)
    assert cued > plain >= 0.4


def test_when_the_cue_came_before_the_text_then_external_context_counts():
    said = "five five five one two three four"
    assert kept(f"it's {said}", context=["phone"]) == [(PHONE, said)]


def test_when_nine_digits_are_an_invalid_ssn_then_nothing_is_found():
    assert kept("it's nine nine nine, one two, three four five six") == []
    assert kept("it's six six six, one two, three four five six") == []


@pytest.mark.parametrize("text", [
    "your order number is five five two one nine eight three three four",
    "the tracking number is 5551234567",
    "the reference number is two one two five five five oh one nine eight",
    "I will call you at four",
    "the order number is A B 1 2",
    "the product code is X J 9 0 0",
    "I have two kids",
])
def test_when_numbers_are_not_pii_then_they_stay(text):
    assert kept(text) == []


def test_when_two_numbers_are_said_back_to_back_then_sentence_breaks_split_them():
    text = "two one two five five five four five six seven. One more thing"
    assert kept(text) == [(PHONE, "two one two five five five four five six seven")]


def test_edge_fragment_at_chunk_end_with_a_card_cue_is_a_card():
    text = "okay my card is four one one one, one one one one,"
    (frag,) = recognizers.edge_fragments(text, [])
    assert (frag.entity, text[frag.start:frag.end]) == (CARD, "four one one one, one one one one")
    assert recognizers.edge_fragments("one one one one, two two", [], ("card", "is")) != []
    assert recognizers.edge_fragments("one one one one, two two", []) == []
    assert recognizers.edge_fragments("order number is one two three four", []) == []


def email_spans(text: str) -> list[str]:
    rec = recognizers.SpokenEmailRecognizer()
    return [text[r.start:r.end] for r in rec.analyze(text, ["EMAIL_ADDRESS"])]


@pytest.mark.parametrize("said", [
    "john dot smith at example dot com",
    "j o h n at gmail dot com",
    "mary underscore jones at outlook dot co dot uk",
    "mike42 at yahoo dot com",
    "jane.doe@gmail.com",
    "jane dot doe at gmail.com",
])
def test_when_an_email_is_spelled_out_then_the_whole_address_is_found(said):
    assert email_spans(f"sure, it's {said}, thanks") == [said]


@pytest.mark.parametrize("text", [
    "visit us at acme dot com",
    "I'm at home right now",
    "we meet at the office dot",
])
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
    assert [text[r.start:r.end] for r in results] == ["jane.doe@example.co.uk"]
    assert results[0].score == 1.0


@pytest.mark.parametrize("address", [
    "42 Elm Street", "1600 Pennsylvania Avenue", "four twenty Oak Lane",
    "eleven twenty Birch Drive", "7 Main St",
])
def test_street_addresses_in_digits_or_words(address):
    rec = recognizers.StreetAddressRecognizer()
    text = f"I live at {address}, near the park"
    assert [text[r.start:r.end].rstrip(".") for r in rec.analyze(text, ["LOCATION"])] == [address]


def test_street_recognizer_ignores_counts_before_ordinary_words():
    rec = recognizers.StreetAddressRecognizer()
    assert rec.analyze("we waited two hours on the road", ["LOCATION"]) == []


def person_spans(text: str) -> list[str]:
    rec = names.NameCueRecognizer()
    return sorted({text[r.start:r.end] for r in rec.analyze(text, ["PERSON"])})


@pytest.mark.parametrize(("text", "name"), [
    ("my name is priya nair and I'm calling about a bill", "priya nair"),
    ("Hi, this is Sarah calling from the bank", "Sarah"),
    ("can I speak with Mr. Okafor please", "Okafor"),
    ("Yes, Marcus, I can hold", "Marcus"),
    ("my wife Natalia handles it", "Natalia"),
    ("Rebecca said you could waive it", "Rebecca"),
    ("the last name is spelled S M I T H", "S M I T H"),
    ("Santos, S A N T O S.", "S A N T O S"),
])
def test_when_a_cue_introduces_a_name_then_it_is_a_person(text, name):
    assert name in person_spans(text)


@pytest.mark.parametrize("text", [
    "this is great, thanks",
    "my name is on the account",
    "I'm calling about my order",
    "the order number is A B 1 2",
    "Okay, Monday works",
    "Thanks, bye.",
])
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
        assert text[found.start:found.end] == expected
    assert rec.analyze("Visit shop.example.com for the manual.", ["EMAIL_ADDRESS"]) == []

"""Spoken-number and spoken-email normalisation, with offsets into the original text."""

from __future__ import annotations

import pytest

from services.redact import spoken


def runs(text: str) -> list[tuple[str, str]]:
    return [(r.digits, text[r.start : r.end]) for r in spoken.find_digit_runs(text)]


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("four one one one", "4111"),
        ("five five five, oh one nine eight", "5550198"),
        ("zero nought naught o", "0000"),
        ("double five triple two", "55222"),
        ("double oh seven", "007"),
        ("twenty one forty three", "2143"),
        ("twenty-one", "21"),
        ("fifteen", "15"),
        ("sixty", "60"),
        ("one eight hundred", "1800"),
        ("five hundred twenty", "520"),
        ("two thousand", "2000"),
        ("555 123 4567", "5551234567"),
        ("(212) 555-0198", "2125550198"),
        ("4111-1111-1111-1111", "4111111111111111"),
        ("212.555.0198", "2125550198"),
        ("555 one two three, 4567", "5551234567"),
        ("five uh five five", "555"),
        ("five dash five", "55"),
    ],
)
def test_when_digits_are_said_or_written_then_the_run_reads_them(text, digits):
    found = spoken.find_digit_runs(text)
    assert len(found) == 1
    assert found[0].digits == digits


def test_when_a_number_is_found_then_its_span_covers_exactly_the_words_said():
    text = "My number is five five five, one two three, four five six seven. Thanks!"
    assert runs(text) == [("5551234567", "five five five, one two three, four five six seven")]


def test_when_oh_is_an_interjection_then_it_is_not_a_zero():
    assert runs("Oh, five five five one two three four") == [("5551234", "five five five one two three four")]
    assert runs("oh I see") == []


def test_when_words_are_not_numbers_then_runs_break_there():
    text = "I have two kids and four dogs"
    assert runs(text) == [("2", "two"), ("4", "four")]


def test_when_plus_precedes_a_number_then_the_run_is_international():
    for text in ("+44 20 7946 0958", "plus four four two oh seven nine four six oh nine five"):
        (run,) = spoken.find_digit_runs(text)
        assert run.plus


def test_when_punctuation_separates_groups_then_units_carry_break_hints():
    (run,) = spoken.find_digit_runs("five five five. one two")
    assert [u.break_after for u in run.units] == ["", "", "strong", "", ""]


@pytest.mark.parametrize(("digits", "valid"), [
    ("4111111111111111", True), ("4111111111111112", False), ("371449635398431", True),
    ("6011000990139424", True), ("79927398713", True), ("79927398710", False), ("", False),
    ("12a4", False),
])  # fmt: skip
def test_luhn(digits, valid):
    assert spoken.luhn_valid(digits) is valid


@pytest.mark.parametrize(
    ("said", "written"),
    [
        ("john dot smith at example dot com", "john.smith@example.com"),
        ("j o h n at gmail dot com", "john@gmail.com"),
        ("mary underscore jones at mail dot co dot uk", "mary_jones@mail.co.uk"),
        ("ann dash lee at acme dot io", "ann-lee@acme.io"),
        ("bob seven at yahoo dot com", "bob7@yahoo.com"),
        ("Jane.Doe@Gmail.com", "jane.doe@gmail.com"),
    ],
)
def test_spoken_email_normalisation(said, written):
    assert spoken.normalise_spoken_email(said) == written


def test_normalise_number_words_keeps_the_rest_of_the_text():
    assert spoken.normalise_number_words("call five five five one two one two now") == "call 5551212 now"

"""The WER text normaliser: style differences are not errors, word differences are."""

from __future__ import annotations

import pytest

from mesh.textnorm import normalize, word_error_rate


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Mr. John Dashwood", "mister john dashwood"),
        ("I'm in New Jersey now, though.", "i am in new jersey now though"),
        ("He wasn't ill-disposed.", "he was not ill disposed"),
        ("It's 42%.", "it is forty two percent"),
        ("In 1999, $5 bought 3.5 kg.", "in nineteen ninety nine five dollars bought three point five kg"),
        ("the 21st of 2,000 OK", "the twenty first of two thousand okay"),
        ("Um, well \u2014 we won't.", "well we will not"),
        ("\u201cDashwood\u2019s\u201d", "dashwoods"),
    ],
)
def test_equivalent_spellings_normalise_to_the_same_words(a, b):
    assert normalize(a) == normalize(b) == b


def test_possessive_s_after_a_noun_is_not_expanded():
    assert normalize("John's car") == "johns car"


def test_whitespace_is_collapsed():
    assert normalize("  a \n\t b  ") == "a b"


def test_corpus_wer_counts_errors_over_all_reference_words():
    assert word_error_rate(["a b c d", "e f"], ["a x c d", "e f"]) == pytest.approx(1 / 6)


def test_words_where_nothing_was_said_count_as_insertions():
    assert word_error_rate(["a b", ""], ["a b", "thank you"]) == pytest.approx(1.0)

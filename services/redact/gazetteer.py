"""PERSON from a list of given names, for the names a small NER model gets wrong.

en_core_web_sm often calls a lone first name in conversation a place or an organisation
("I was helped by Leona" -> GPE, "Zoe MacLeod" -> ORG). A capitalised word that is a known
given name is taken as a PERSON (with the capitalised words right after it, the surname),
scored just above NER so it wins the overlap, except where the sentence makes it a place:
after "in", "from", "near" ..., or after "to" unless a verb of talking or sending comes
before ("transfer me to Daria" is a person, "moving to Savannah" a place).

The list is the US Census 1990 given-name files shipped in the ``names`` package (MIT,
5,163 names). Without that package installed the recognizer finds nothing.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from importlib import resources

from presidio_analyzer import EntityRecognizer, RecognizerResult

from services.redact import spoken
from services.redact.names import (
    BUSINESS_WORDS,
    CALENDAR_WORDS,
    COMMON_WORDS,
    is_title_word,
)

log = logging.getLogger(__name__)

# fmt: off
PLACE_PREPOSITIONS = frozenset({"in", "from", "near", "around", "outside", "visiting", "into",
                                "toward", "towards", "at", "of", "across", "downtown"})
PERSON_VERBS = frozenset({"talk", "talked", "talking", "speak", "spoke", "speaking", "transfer",
                          "transferred", "send", "sent", "give", "gave", "write", "wrote",
                          "email", "emailed", "mail", "text", "texted", "forward", "married",
                          "engaged", "introduce", "listen", "reply", "replied", "me", "it",
                          "this", "that", "them"})
# Given names that are also everyday words or card brands are never taken on their own.
AMBIGUOUS = frozenset({"will", "may", "june", "april", "august", "grant", "bill", "mark", "hope",
                       "joy", "faith", "art", "sue", "pat", "chase", "rose", "summer", "guy",
                       "don", "young", "king", "ray", "rich", "frank", "sandy", "dawn", "lane",
                       "major", "sterling", "miles", "else", "dusty", "page", "penny", "ruby",
                       "holly", "brook", "misty", "angel", "merry", "precious", "star", "sunny",
                       "royal", "cliff", "ivy", "iris", "amber", "crystal", "grace", "ben", "ed",
                       "al", "rob", "bob", "jack", "drew", "christian", "an", "in", "so", "le"})


# Places that double as given names: the 50 states' and a few countries' names.
PLACE_NAMES = frozenset({
    "alabama", "alaska", "arizona", "arkansas", "california", "colorado", "connecticut",
    "delaware", "florida", "georgia", "hawaii", "idaho", "illinois", "indiana", "iowa",
    "kansas", "kentucky", "louisiana", "maine", "maryland", "massachusetts", "michigan",
    "minnesota", "mississippi", "missouri", "montana", "nebraska", "nevada", "hampshire",
    "jersey", "mexico", "york", "carolina", "dakota", "ohio", "oklahoma", "oregon",
    "pennsylvania", "rhode", "tennessee", "texas", "utah", "vermont", "virginia",
    "washington", "wisconsin", "wyoming", "america", "canada", "china", "india", "ireland",
    "israel", "italy", "jordan", "kenya", "england", "france", "spain", "cuba", "chile"})
# fmt: on


def read_census_names(*parts: str) -> set[str]:
    """Lower-cased names (the first column) of the ``names`` package's census files
    ``parts``; ModuleNotFoundError without the package."""
    root = resources.files("names")
    return {
        line.split()[0].lower()
        for part in parts
        for line in (root / part).read_text().splitlines()
        if line.strip()
    }


@functools.cache
def census_given_names() -> frozenset[str]:
    """Lower-cased given names from the ``names`` package, or an empty set."""
    try:
        found = read_census_names("dist.male.first", "dist.female.first")
    except ModuleNotFoundError:
        log.warning("package 'names' not installed: given-name recognizer disabled")
        return frozenset()
    return frozenset(found - AMBIGUOUS - PLACE_NAMES - COMMON_WORDS - CALENDAR_WORDS - BUSINESS_WORDS)


def _place_spans(nlp_artifacts) -> list[tuple[int, int]]:
    doc = getattr(nlp_artifacts, "tokens", None)
    if doc is None:
        return []
    return [(e.start_char, e.end_char) for e in doc.ents if e.label_ in ("GPE", "LOC", "FAC")]


class GivenNameRecognizer(EntityRecognizer):
    """Capitalised known given names (plus a following capitalised surname) as PERSON."""

    SCORE = 0.87

    def __init__(self, given_names: Iterable[str] | None = None, supported_language: str = "en"):
        self.given_names = (
            frozenset(n.lower() for n in given_names) if given_names is not None else census_given_names()
        )
        super().__init__(
            supported_entities=["PERSON"], name="GivenNameRecognizer", supported_language=supported_language
        )

    def load(self) -> None:
        return None

    def analyze(self, text, entities, nlp_artifacts=None):
        if not self.given_names or (entities and "PERSON" not in entities):
            return []
        cased = spoken.truecased_text(text, nlp_artifacts)
        toks = spoken.tokenize(cased)
        places = _place_spans(nlp_artifacts)
        results = []
        for i, tok in enumerate(toks):
            core = tok.core
            if not (
                core[:1].isupper() and not core.isupper() and core.lower() in self.given_names
            ) or self._place_context(toks, i, places):
                continue
            end = i + 1
            while (
                end < len(toks)
                and end - i < 3
                and not toks[end - 1].punct_after.strip()
                and is_title_word(toks[end].core)
            ):
                end += 1
            results.append(
                RecognizerResult(
                    entity_type="PERSON",
                    start=tok.start,
                    end=toks[end - 1].end,
                    score=self.SCORE,
                    recognition_metadata={
                        RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                        RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                    },
                )
            )
        return results

    @staticmethod
    def _place_context(toks: list[spoken.Token], i: int, places: list[tuple[int, int]]) -> bool:
        """Part of a longer place name ("San Diego"), right after a place ("Austin, Georgia"),
        or after a place preposition."""
        start = toks[i].start
        if any(s < start < e for s, e in places):
            return True
        prev = [t.core.lower() for t in toks[max(0, i - 3) : i]]
        if not prev:
            return False
        if toks[i - 1].punct_after.strip():
            return toks[i - 1].punct_after.strip() == "," and any(
                s <= toks[i - 1].start < e for s, e in places
            )
        if prev[-1] in PLACE_PREPOSITIONS or prev[-1] in ("the", "a", "an"):
            return True  # "in Savannah", "the Denver office"
        return prev[-1] == "to" and not any(w in PERSON_VERBS for w in prev[:-1])

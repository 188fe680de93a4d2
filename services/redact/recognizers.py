"""Presidio recognizers for the way PII is *said* on a call.

They plug into Presidio through its own extension points (``EntityRecognizer`` with context
words, ``PatternRecognizer`` with ``validate_result``), so they combine with Presidio's
written-form recognizers, score thresholds and duplicate removal like any other recognizer.

* numbers (phone, card, SSN, account, the LONG_NUMBER catch-all) live in ``numbers.py``;
  IPv4 addresses, IBANs and lettered account codes in ``identifiers.py``.
* ``SpokenEmailRecognizer``: "john dot smith at example dot com", spelled letters.
* ``OfflineEmailRecognizer``: Presidio's written-email recognizer with a tldextract that
  never downloads the public suffix list (the default one fetches it on first use).
* ``StreetAddressRecognizer``: "42 Elm Street", "four twenty Oak Avenue" (LOCATION).
* names from conversational cues live in ``names.py``.
"""

from __future__ import annotations

import re

import tldextract
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer
from presidio_analyzer.predefined_recognizers import EmailRecognizer, IbanRecognizer
from spacy.lang.en.stop_words import STOP_WORDS

from services.redact import spoken

# --- e-mail ----------------------------------------------------------------------------

# fmt: off
TLDS = ("com", "org", "net", "edu", "gov", "io", "co", "uk", "us", "ca", "de", "fr", "au",
        "info", "biz", "me", "ai", "app", "dev", "email", "mail", "nl", "ie", "in", "eu")
# fmt: on
_WORD = r"(?!(?:at|dot)\b)[a-z0-9]+"
_LSEP = r"(?:\s+(?:dot|period|point|underscore|dash|hyphen)\s+|\s*[._-]\s*)"
_DSEP = r"(?:\s+(?:dot|period|point)\s+|\s*\.\s*)"
_LETTERS = r"(?:(?<![\w'\u2019])[a-z](?:[\s,]+[a-z]){2,})"
SPOKEN_EMAIL_REGEX = (
    rf"\b(?:{_LETTERS}|{_WORD}(?:{_LSEP}{_WORD})*)(?:\s+at\s+|\s*@\s*)"
    rf"{_WORD}(?:(?:{_DSEP}|-){_WORD})*{_DSEP}(?:{'|'.join(TLDS)})\b"
)
_EMAIL_SHAPE = re.compile(r"^[a-z0-9._+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+$")
# fmt: off
_NOT_LOCAL = frozenset({"me", "us", "you", "him", "her", "them", "it", "is", "was", "be",
                        "we", "they", "she", "he", "i", "here", "there", "home", "work",
                        "site", "online", "website", "web"})
# fmt: on


class SpokenEmailRecognizer(PatternRecognizer):
    """E-mail addresses said in words; validated after normalisation."""

    def __init__(self, supported_language: str = "en"):
        super().__init__(
            supported_entity="EMAIL_ADDRESS",
            name="SpokenEmailRecognizer",
            patterns=[Pattern("spoken email", SPOKEN_EMAIL_REGEX, 0.6)],
            context=["email", "e-mail", "mail", "address"],
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool:
        value = spoken.normalise_spoken_email(pattern_text)
        local = value.split("@", 1)[0]
        return bool(_EMAIL_SHAPE.match(value)) and local not in _NOT_LOCAL


_EMAIL_CUE = re.compile(r"\b(?:e-?mail|email address|mail)\b[^.?!]{0,24}$", re.IGNORECASE)
# ASR often loses the spoken "at": "john dot smith at example dot com" comes back as
# "john.smith.example.com" or "john smith example dot com".
ATLESS_EMAIL_REGEX = rf"\b{_WORD}(?:{_LSEP}{_WORD})*(?:\s+|\s*\.\s*){_WORD}{_DSEP}(?:{'|'.join(TLDS)})\b"


class AtlessEmailRecognizer(PatternRecognizer):
    """An address whose "at" the ASR dropped, taken as an e-mail only right after an e-mail
    cue ("my email is ..."), so web sites and ordinary sentences stay untouched."""

    def __init__(self, supported_language: str = "en"):
        super().__init__(
            supported_entity="EMAIL_ADDRESS",
            name="AtlessEmailRecognizer",
            patterns=[Pattern("e-mail without at", ATLESS_EMAIL_REGEX, 0.6)],
            supported_language=supported_language,
        )

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        return [r for r in results if _EMAIL_CUE.search(text[max(0, r.start - 40) : r.start])]


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer validated against the bundled public suffix snapshot."""

    def __init__(self, extractor: tldextract.TLDExtract | None = None, **kwargs):
        super().__init__(**kwargs)
        self._extract = extractor or tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    def validate_result(self, pattern_text: str) -> bool:
        return self._extract(pattern_text).fqdn != ""


# --- street address --------------------------------------------------------------------

_NUM_WORDS = "|".join(
    sorted({*spoken.ONES, *spoken.TEENS, *spoken.TENS, "hundred"} - {"o"}, key=len, reverse=True)
)
STREET_TYPES = (
    "street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|court|ct|way|"
    "place|pl|terrace|circle|highway|hwy|parkway|pkwy|square|trail|close|"
    "crescent|gardens|grove|mews|rise|parade"
)
STREET_REGEX = (
    rf"\b(?:\d{{1,6}}[a-z]?|(?:(?:{_NUM_WORDS})[\s-]+){{0,4}}(?:{_NUM_WORDS}))"
    rf"\s+(?:(?!(?:and|the|my|on|at|in|of)\b)[a-z][a-z'.]+\s+){{1,3}}"
    rf"(?:{STREET_TYPES})\b\.?"
)


_CITY_AFTER = re.compile(r",\s*([A-Za-z][A-Za-z'-]*(?:\s+[A-Za-z][A-Za-z'-]*){0,2}?)(?=\s*[,.?!]|\s*$)")
_LOWER_WORD = re.compile(r"\s+([a-z][a-z'-]+)\b")
_TITLE_AFTER = re.compile(r"\s+([A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?)\b")
# fmt: off
_NOT_CITY = frozenset({"please", "thanks", "thank", "okay", "ok", "right", "yes", "yeah", "sir",
                       "apartment", "apt", "suite", "unit", "floor", "usa", "us"})
# fmt: on


class StreetAddressRecognizer(PatternRecognizer):
    """House number + street name + street type, in digits or words (LOCATION). A town named
    right after the address joins the span: after a comma whatever its case ("12 Oak Lane,
    Tulsa."), without one when truecasing capitalised it ("twelve baker street london")."""

    def __init__(self, supported_language: str = "en"):
        super().__init__(
            supported_entity="LOCATION",
            name="StreetAddressRecognizer",
            patterns=[Pattern("street address", STREET_REGEX, 0.9)],
            context=["live", "address", "street", "located"],
            supported_language=supported_language,
        )

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        cased = spoken.truecased_text(text, nlp_artifacts)
        caseless = not any(c.isupper() for c in text)
        for r in results:
            m = _CITY_AFTER.match(text, r.end) or _TITLE_AFTER.match(cased, r.end)
            if m and not any(w.lower() in STOP_WORDS or w.lower() in _NOT_CITY for w in m.group(1).split()):
                r.end = m.end(1)
            elif caseless:
                r.end = _lower_town_end(text, r.end)
        return results


def _lower_town_end(text: str, end: int) -> int:
    """In text without capitals, up to two words right after an address that are no common
    words ("... oakfield avenue cork please"): the town, whatever it is called."""
    from services.redact.names import CALENDAR_WORDS, COMMON_WORDS  # names imports this module

    pos = end
    for _ in range(2):
        m = _LOWER_WORD.match(text, pos)
        if not m or m.group(1) in COMMON_WORDS or m.group(1) in CALENDAR_WORDS or m.group(1) in _NOT_CITY:
            break
        pos = m.end(1)
    return pos


class CaseInsensitiveIbanRecognizer(IbanRecognizer):
    """Presidio's IBAN recognizer on upper-cased text (ASR may write "gb82 west ...")."""

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
        upper = text.upper()
        if len(upper) != len(text):  # offsets would move; keep the text as it is
            upper = text
        return super().analyze(upper, entities, nlp_artifacts, regex_flags)


# --- cheap guards ----------------------------------------------------------------------


class Guarded:
    """Mixin: skip a recognizer after one cheap test when its text cannot hold a match."""

    guard: re.Pattern[str]

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
        if not self.guard.search(text):
            return []
        return super().analyze(text, entities, nlp_artifacts, regex_flags)  # type: ignore[misc]


def guarded(cls: type, pattern: str, **kwargs) -> EntityRecognizer:
    """An instance of ``cls`` that first checks ``pattern`` (e.g. "a digit") on the text."""
    sub = type(cls.__name__, (Guarded, cls), {"guard": re.compile(pattern)})
    return sub(**kwargs)

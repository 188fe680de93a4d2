"""Presidio recognizers for the way PII is *said* on a call.

They plug into Presidio through its own extension points (``EntityRecognizer`` with context
words, ``PatternRecognizer`` with ``validate_result``), so they combine with Presidio's
written-form recognizers, score thresholds and duplicate removal like any other recognizer.

* ``SpokenNumberRecognizer``: phone, card and SSN numbers said digit by digit, in numerals
  split across ASR words, or both ("five five five, 123, four five six seven"). The value is
  classified after normalisation (length, NANP shape, SSN rules, Luhn for cards), and the
  score is moved by the nearest cue words ("social", "card", "order number" ...).
* ``SpokenEmailRecognizer``: "john dot smith at example dot com", spelled letters.
* ``OfflineEmailRecognizer``: Presidio's written-email recognizer with a tldextract that
  never downloads the public suffix list (the default one fetches it on first use).
* ``StreetAddressRecognizer``: "42 Elm Street", "four twenty Oak Avenue" (LOCATION).
* names from conversational cues live in ``names.py``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import tldextract
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import EmailRecognizer, IbanRecognizer
from spacy.lang.en.stop_words import STOP_WORDS

from services.redact import spoken

PHONE, CARD, SSN = "PHONE_NUMBER", "CREDIT_CARD", "US_SSN"

CUES: dict[str, frozenset[str]] = {
    PHONE: frozenset({"phone", "cell", "mobile", "call", "reach", "text", "telephone",
                      "landline", "fax", "callback", "dial", "contact", "cellphone"}),
    CARD: frozenset({"card", "credit", "debit", "visa", "mastercard", "amex", "discover",
                     "cc", "payment"}),
    SSN: frozenset({"social", "ssn", "security"}),
}
NEGATIVE_CUES = frozenset({
    "order", "reference", "ref", "confirmation", "tracking", "ticket", "case", "invoice",
    "account", "acct", "member", "membership", "policy", "model", "serial", "part",
    "product", "sku", "routing", "claim", "booking", "reservation", "pin", "zip", "postal",
    "employee", "id", "item", "version", "passcode", "password", "transaction", "code",
})
CUE_BOOST = 0.35


@dataclass(frozen=True)
class NumberMatch:
    entity: str
    score: float
    start: int
    end: int
    digits: str


def _nanp(d: str) -> bool:
    return len(d) == 10 and d[0] in "23456789" and d[3] in "23456789"


def _ssn_valid(d: str) -> bool:
    area, group, serial = d[:3], d[3:5], d[5:]
    return (len(d) == 9 and area not in ("000", "666") and area[0] != "9"
            and group != "00" and serial != "0000" and len(set(d)) > 1)


def classify_digits(digits: str, plus: bool = False) -> tuple[str, float] | None:
    """Entity type and base score of a normalised digit string, or None."""
    n = len(digits)
    if plus:
        return (PHONE, 0.7) if 8 <= n <= 15 else None
    if 13 <= n <= 19 and digits[0] in "23456":
        # A misheard digit breaks the checksum: without it, only card cue words redact it.
        return (CARD, 0.9) if spoken.luhn_valid(digits) else (CARD, 0.3)
    if n == 9:
        return (SSN, 0.45) if _ssn_valid(digits) else None
    if n == 10:
        return PHONE, 0.7 if _nanp(digits) else 0.3
    if n == 11 and digits[0] == "1" and _nanp(digits[1:]):
        return PHONE, 0.7
    if n == 11 and digits[0] == "0":
        return PHONE, 0.5
    if n == 7 and digits[0] in "23456789":
        return PHONE, 0.3
    return None


def _split_points(run: spoken.DigitRun) -> list[int]:
    """Unit indexes where a number may start: after punctuation, "dash" or a weak zero."""
    points = [0]
    for k, u in enumerate(run.units[:-1]):
        if u.break_after or u.weak:
            points.append(k + 1)
    return [*points, len(run.units)]


def number_matches(run: spoken.DigitRun) -> list[NumberMatch]:
    """Classify a run; if the whole run is no entity, try stretches between break points,
    longest first ("five five five ... four five six seven. One more thing")."""
    points = _split_points(run)
    found: list[NumberMatch] = []

    def search(lo: int, hi: int) -> None:
        spans = sorted(((a, b) for a in points for b in points if lo <= a < b <= hi),
                       key=lambda ab: ab[0] - ab[1])
        for a, b in spans:
            units = run.units[a:b]
            digits = "".join(u.digits for u in units)
            kind = classify_digits(digits, run.plus and a == 0)
            if kind:
                start = run.start if a == 0 else units[0].start  # run.start includes "plus"
                found.append(NumberMatch(kind[0], kind[1], start, units[-1].end, digits))
                search(lo, a)
                search(b, hi)
                return

    search(0, len(run.units))
    return found


def _cue_words(text: str, start: int, end: int, before: int, after: int) -> list[str]:
    toks = spoken.tokenize(text)
    i = bisect.bisect_left([t.start for t in toks], start)
    j = bisect.bisect_left([t.start for t in toks], end)
    return [t.core.lower() for t in toks[max(0, i - before): i] + toks[j: j + after]]


def cue_adjustment(entity: str, words: Iterable[str], external: Iterable[str] = ()) -> float:
    """+boost for the entity's own cue words, -boost for words of non-PII numbers."""
    words = [w.rstrip("s") if w.endswith("s") and len(w) > 3 else w for w in words]
    own = any(w in CUES[entity] for w in words) or any(
        w.lower() in CUES[entity] for w in external)
    # Another entity's cue ("card" before nine digits) is no reason to keep a number: a
    # misheard card or phone number is as sensitive. Only non-PII number words count against.
    other = any(w in NEGATIVE_CUES for w in words)
    return (CUE_BOOST if own else 0.0) - (CUE_BOOST if other else 0.0)


_EDGE_JUNK = " \n\t,.;:-?!"


def edge_fragments(text: str, covered: Sequence[tuple[int, int]], context: Sequence[str] = (),
                   min_digits: int = 4, window: int = 10) -> list[NumberMatch]:
    """Digit runs cut by a chunk boundary: a run of ``min_digits`` or more at the very start
    or end of ``text`` that no detection covers, typed by the nearest cue word. ``context``
    holds the last words before ``text`` (the previous chunk), for runs at its start.

    A number read across two ASR chunks is whole only in the recording scope; in the
    segment scope each chunk holds a piece that classifies as nothing and would leak."""
    found = []
    for run in spoken.find_digit_runs(text):
        at_start = not text[: run.start].strip(_EDGE_JUNK)
        at_end = not text[run.end:].strip(_EDGE_JUNK)
        if not (at_start or at_end) or len(run.digits) < min_digits:
            continue
        if any(s < run.end and run.start < e for s, e in covered):
            continue
        words = [*(w.lower() for w in context if at_start),
                 *_cue_words(text, run.start, run.end, window, 0)]
        entity = _nearest_cue(words)
        if entity:
            found.append(NumberMatch(entity, 0.5, run.start, run.end, run.digits))
    return found


def _nearest_cue(words: Sequence[str]) -> str | None:
    for w in reversed(words):
        w = w.strip(".,?!;:").rstrip("s") if len(w) > 3 else w
        for entity, cues in CUES.items():
            if w in cues:
                return entity
        if w in NEGATIVE_CUES:
            return None
    return None


class SpokenNumberRecognizer(EntityRecognizer):
    """Phone, card and SSN numbers in spoken, numeral or mixed form."""

    ENTITIES = [PHONE, CARD, SSN]

    def __init__(self, supported_entities: list[str] | None = None, window: int = 10,
                 supported_language: str = "en", name: str = "SpokenNumberRecognizer"):
        self.window = window
        context = sorted(set().union(*CUES.values()))
        super().__init__(supported_entities=supported_entities or list(self.ENTITIES),
                         supported_language=supported_language, name=name, context=context)

    def load(self) -> None:  # nothing to load
        return None

    def analyze(self, text, entities, nlp_artifacts=None):
        wanted = set(entities or self.supported_entities) & set(self.supported_entities)
        results = []
        for run in spoken.find_digit_runs(text):
            for m in number_matches(run):
                if m.entity in wanted:
                    results.append(self._result(m))
        return results

    def enhance_using_context(self, text, raw_recognizer_results,
                              other_raw_recognizer_results, nlp_artifacts, context=None):
        """Nearest cue words move the score; results are marked so Presidio's generic
        lemma enhancer does not add its own boost on top."""
        out = []
        for r in raw_recognizer_results:
            words = _cue_words(text, r.start, r.end, self.window, 4 if r.entity_type == PHONE
                               else 0)
            r.score = max(0.0, min(1.0, r.score + cue_adjustment(r.entity_type, words,
                                                                 context or ())))
            r.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
            out.append(r)
        return out

    def _result(self, m: NumberMatch) -> RecognizerResult:
        return RecognizerResult(
            entity_type=m.entity, start=m.start, end=m.end, score=m.score,
            recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                  RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                                  "normalised": m.digits})


# --- e-mail ----------------------------------------------------------------------------

TLDS = ("com", "org", "net", "edu", "gov", "io", "co", "uk", "us", "ca", "de", "fr", "au",
        "info", "biz", "me", "ai", "app", "dev", "email", "mail", "nl", "ie", "in", "eu")
_WORD = r"(?!(?:at|dot)\b)[a-z0-9]+"
_LSEP = r"(?:\s+(?:dot|period|point|underscore|dash|hyphen)\s+|\s*[._-]\s*)"
_DSEP = r"(?:\s+(?:dot|period|point)\s+|\s*\.\s*)"
_LETTERS = r"(?:(?<![\w'\u2019])[a-z](?:[\s,]+[a-z]){2,})"
SPOKEN_EMAIL_REGEX = (
    rf"\b(?:{_LETTERS}|{_WORD}(?:{_LSEP}{_WORD})*)(?:\s+at\s+|\s*@\s*)"
    rf"{_WORD}(?:(?:{_DSEP}|-){_WORD})*{_DSEP}(?:{'|'.join(TLDS)})\b"
)
_EMAIL_SHAPE = re.compile(r"^[a-z0-9._+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+$")
_NOT_LOCAL = frozenset({"me", "us", "you", "him", "her", "them", "it", "is", "was", "be",
                        "we", "they", "she", "he", "i", "here", "there", "home", "work",
                        "site", "online", "website", "web"})


class SpokenEmailRecognizer(PatternRecognizer):
    """E-mail addresses said in words; validated after normalisation."""

    def __init__(self, supported_language: str = "en"):
        super().__init__(
            supported_entity="EMAIL_ADDRESS", name="SpokenEmailRecognizer",
            patterns=[Pattern("spoken email", SPOKEN_EMAIL_REGEX, 0.6)],
            context=["email", "e-mail", "mail", "address"], supported_language=supported_language)

    def validate_result(self, pattern_text: str) -> bool:
        value = spoken.normalise_spoken_email(pattern_text)
        local = value.split("@", 1)[0]
        return bool(_EMAIL_SHAPE.match(value)) and local not in _NOT_LOCAL


_EMAIL_CUE = re.compile(r"\b(?:e-?mail|email address|mail)\b[^.?!]{0,24}$", re.IGNORECASE)
# ASR often loses the spoken "at": "john dot smith at example dot com" comes back as
# "john.smith.example.com" or "john smith example dot com".
ATLESS_EMAIL_REGEX = (
    rf"\b{_WORD}(?:{_LSEP}{_WORD})*(?:\s+|\s*\.\s*){_WORD}{_DSEP}(?:{'|'.join(TLDS)})\b"
)


class AtlessEmailRecognizer(PatternRecognizer):
    """An address whose "at" the ASR dropped, taken as an e-mail only right after an e-mail
    cue ("my email is ..."), so web sites and ordinary sentences stay untouched."""

    def __init__(self, supported_language: str = "en"):
        super().__init__(
            supported_entity="EMAIL_ADDRESS", name="AtlessEmailRecognizer",
            patterns=[Pattern("e-mail without at", ATLESS_EMAIL_REGEX, 0.6)],
            supported_language=supported_language)

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        return [r for r in results if _EMAIL_CUE.search(text[max(0, r.start - 40):r.start])]


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer validated against the bundled public suffix snapshot."""

    def __init__(self, extractor: tldextract.TLDExtract | None = None, **kwargs):
        super().__init__(**kwargs)
        self._extract = extractor or tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    def validate_result(self, pattern_text: str) -> bool:
        return self._extract(pattern_text).fqdn != ""


# --- street address --------------------------------------------------------------------

_NUM_WORDS = "|".join(sorted({*spoken.ONES, *spoken.TEENS, *spoken.TENS, "hundred"} - {"o"},
                             key=len, reverse=True))
STREET_TYPES = ("street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|court|ct|way|"
                 "place|pl|terrace|circle|highway|hwy|parkway|pkwy|square|trail")
STREET_REGEX = (
    rf"\b(?:\d{{1,6}}[a-z]?|(?:(?:{_NUM_WORDS})[\s-]+){{0,4}}(?:{_NUM_WORDS}))"
    rf"\s+(?:(?!(?:and|the|my|on|at|in|of)\b)[a-z][a-z'.]+\s+){{1,3}}"
    rf"(?:{STREET_TYPES})\b\.?"
)


_CITY_AFTER = re.compile(r",\s*([A-Za-z][A-Za-z'-]*(?:\s+[A-Za-z][A-Za-z'-]*){0,2}?)(?=\s*[,.?!]|\s*$)")
_NOT_CITY = frozenset({"please", "thanks", "thank", "okay", "ok", "right", "yes", "yeah", "sir",
                       "apartment", "apt", "suite", "unit", "floor", "usa", "us"})


class StreetAddressRecognizer(PatternRecognizer):
    """House number + street name + street type, in digits or words (LOCATION). A town named
    right after the address ("12 Oak Lane, Tulsa.") joins the span, whatever its case."""

    def __init__(self, supported_language: str = "en"):
        super().__init__(
            supported_entity="LOCATION", name="StreetAddressRecognizer",
            patterns=[Pattern("street address", STREET_REGEX, 0.9)],
            context=["live", "address", "street", "located"], supported_language=supported_language)

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        for r in results:
            m = _CITY_AFTER.match(text, r.end)
            if m and not any(w.lower() in STOP_WORDS or w.lower() in _NOT_CITY
                             for w in m.group(1).split()):
                r.end = m.end(1)
        return results


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

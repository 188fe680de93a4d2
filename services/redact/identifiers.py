"""Identifiers said character by character: IPv4 addresses, IBANs, lettered account codes.

* ``SpokenIpRecognizer``: four octets joined by "dot"/"point" or written dots, each octet in
  numerals or words ("one nine two", "one ninety two", "one hundred sixty eight", "ten"),
  each 0-255 ("one nine two dot one six eight dot one dot ten", "192.168.1.10").
* ``SpelledIbanRecognizer``: a country code, two check digits, then letters and digits as
  the caller spells them ("G B eight two W E S T one two three four ...", "GB82 WEST 1234",
  Whisper's "GB8 -2WES -T1 -2 ..."). Matched by shape (a known country, its length or a
  little less), not by checksum: a misheard character breaks the mod-97 check, which only
  raises the score.
* ``AccountNumberRecognizer``: a code of letters and digits after an account cue
  ("account number", "reference", "membership number" ...); all-digit ones are also found
  by ``numbers.LongNumberRecognizer``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from presidio_analyzer import EntityRecognizer, RecognizerResult
from spacy.lang.en.stop_words import STOP_WORDS

from services.redact import spoken
from services.redact.numbers import ACCOUNT, ACCOUNT_CUES

_NUMWORD = "|".join(sorted({*spoken.ONES, *spoken.TEENS, *spoken.TENS} - {"o"}, key=len, reverse=True))
_OCTET = rf"(?:\d{{1,3}}|(?:{_NUMWORD}))(?:[\s-]+(?:\d{{1,3}}|{_NUMWORD}|hundred(?:\s+and)?))*"
# "not": how Whisper tiny.en hears "dot" between digits ("1 7 2 not 1 6 not ..."); commas
# around the word when the caller pauses ("192, dot, 168").
_SEP = r"(?:\s*\.\s*|[\s,]+(?:dot|point|not)[\s,]+)"
IP_REGEX = re.compile(rf"\b{_OCTET}(?:{_SEP}{_OCTET}){{3}}\b", re.IGNORECASE)
_SEP_SPLIT = re.compile(_SEP, re.IGNORECASE)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)  # "one hundred and sixty eight"

# IBAN lengths by country (ISO 13616 registry).
# fmt: off
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20,
    "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18,
    "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30,
    "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
    "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28,
    "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "TN": 24, "TR": 26, "UA": 29, "XK": 20}
SPELLING_ALPHABET = {w: w[0].upper() for w in (
    "alpha", "alfa", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
    "juliet", "juliett", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
    "sierra", "tango", "uniform", "victor", "whiskey", "x-ray", "xray", "yankee", "zulu")}
# fmt: on
IBAN_SHORT_BY = 3  # characters an IBAN may lack (dropped by the ASR) and still count


@dataclass(frozen=True)
class Chars:
    """Characters read from tokens[i:j] of a spelled code."""

    chars: str
    start: int
    end: int
    next_index: int


def _token_chars(toks: list[spoken.Token], i: int, caps_only: bool) -> tuple[str, int] | None:
    """The characters one spelled-code token stands for, and how many tokens it took."""
    core = toks[i].core
    word = core.lower()
    nxt = toks[i + 1].core.lower() if i + 1 < len(toks) else ""
    if word in spoken.REPEAT and spoken.ONES.get(nxt):
        return spoken.ONES[nxt] * spoken.REPEAT[word], 2
    if word in spoken.ONES and word != "o":
        return spoken.ONES[word], 1
    if word in spoken.TEENS:
        return spoken.TEENS[word], 1
    if word in spoken.TENS:
        unit = spoken.ONES.get(nxt)
        if unit and unit != "0":
            return spoken.TENS[word] + unit, 2
        return spoken.TENS[word] + "0", 1
    if word in SPELLING_ALPHABET:  # "golf bravo eight two"
        return SPELLING_ALPHABET[word], 1
    if "." in core or "," in core:  # "KU4135.5979.12"
        core = core.replace(".", "").replace(",", "")
    if not core.isalnum() or not core.isascii():
        return None
    if len(core) == 1 or any(c.isdigit() for c in core):
        return core.upper(), 1
    if len(core) <= 4 and (core.isupper() or not caps_only) and word not in STOP_WORDS:
        return core.upper(), 1
    return None


def read_code(toks: list[spoken.Token], i: int, limit: int, caps_only: bool = True) -> Chars:
    """Read spelled letters, digits and alphanumeric tokens from ``toks[i]`` on, up to
    ``limit`` characters, over "dash" and fillers."""
    chars, j, end = "", i, toks[i].start if i < len(toks) else 0
    while j < len(toks) and len(chars) < limit:
        word = toks[j].core.lower()
        if chars and word in spoken.SEPARATOR_WORDS | spoken.FILLERS:
            j += 1
            continue
        got = _token_chars(toks, j, caps_only)
        if got is None:
            break
        chars += got[0]
        j += got[1]
        end = toks[j - 1].end
        if toks[j - 1].punct_after.strip(" ,-"):
            break
    return Chars(chars[:limit], toks[i].start if i < len(toks) else 0, end, j)


def iban_valid(value: str) -> bool:
    moved = value[4:] + value[:4]
    try:
        return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1
    except ValueError:
        return False


def _result(rec: EntityRecognizer, entity: str, start: int, end: int, score: float) -> RecognizerResult:
    return RecognizerResult(
        entity_type=entity,
        start=start,
        end=end,
        score=score,
        recognition_metadata={
            RecognizerResult.RECOGNIZER_NAME_KEY: rec.name,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: rec.id,
        },
    )


class SpokenIpRecognizer(EntityRecognizer):
    """IPv4 addresses, spoken or written (IP_ADDRESS)."""

    SCORE = 0.9

    def __init__(self, supported_language: str = "en"):
        super().__init__(
            supported_entities=["IP_ADDRESS"],
            name="SpokenIpRecognizer",
            supported_language=supported_language,
        )

    def load(self) -> None:
        return None

    def analyze(self, text, entities, nlp_artifacts=None):
        if entities and "IP_ADDRESS" not in entities:
            return []
        out = []
        for m in IP_REGEX.finditer(text):
            octets = [
                spoken.normalise_number_words(_AND.sub(" ", o.strip())).replace(" ", "")
                for o in _SEP_SPLIT.split(m.group())
            ]
            if len(octets) == 4 and all(o.isdigit() and len(o) <= 3 and int(o) <= 255 for o in octets):
                out.append(_result(self, "IP_ADDRESS", m.start(), m.end(), self.SCORE))
        return out


class SpelledIbanRecognizer(EntityRecognizer):
    """IBANs in spelled, grouped or ASR-mangled form (IBAN_CODE)."""

    # Above a card's score: the digits of an IBAN's account part often look like a card.
    VALID_SCORE, SHAPE_SCORE = 1.0, 0.95

    def __init__(self, supported_language: str = "en"):
        super().__init__(
            supported_entities=["IBAN_CODE"],
            name="SpelledIbanRecognizer",
            supported_language=supported_language,
        )

    def load(self) -> None:
        return None

    def analyze(self, text, entities, nlp_artifacts=None):
        if entities and "IBAN_CODE" not in entities:
            return []
        toks = spoken.tokenize(text)
        out, i = [], 0
        while i < len(toks):
            found = self._at(toks, i)
            if found is None:
                i += 1
                continue
            code, score = found
            out.append(_result(self, "IBAN_CODE", code.start, code.end, score))
            i = code.next_index
        return out

    def _at(self, toks: list[spoken.Token], i: int) -> tuple[Chars, float] | None:
        core = toks[i].core
        spelled = len(core) == 1 and i + 1 < len(toks) and len(toks[i + 1].core) == 1
        if not core[:1].isalpha() or (core.islower() and core in STOP_WORDS and not spelled):
            return None  # "i e seven eight a i b k ...": spelled letters, not the word "i"
        caps = not core.islower()
        head = read_code(toks, i, 4, caps_only=caps)
        country = head.chars[:2]
        if country not in IBAN_LENGTHS or not head.chars[2:4].isdigit():
            return None
        length = IBAN_LENGTHS[country]
        code = read_code(toks, i, length, caps_only=caps)
        if len(code.chars) < length - IBAN_SHORT_BY or not code.chars[:2].isalpha():
            return None
        valid = len(code.chars) == length and iban_valid(code.chars)
        return code, self.VALID_SCORE if valid else self.SHAPE_SCORE


# fmt: off
_ACCOUNT_FILLERS = frozenset({"number", "no", "num", "id", "code", "is", "was", "it's", "its",
                              "it", "the", "my", "your", "reference", "ref", "uh", "um", "er",
                              "erm", "hmm", "#", "of"})
# fmt: on


class AccountNumberRecognizer(EntityRecognizer):
    """Account and reference codes after their cue word (ACCOUNT_NUMBER): 5+ characters of
    letters and digits, at least 3 of them digits."""

    SCORE = 0.85
    MAX_CHARS = 24
    WINDOW = 7

    def __init__(self, supported_language: str = "en"):
        super().__init__(
            supported_entities=[ACCOUNT],
            name="AccountNumberRecognizer",
            supported_language=supported_language,
        )

    def load(self) -> None:
        return None

    def analyze(self, text, entities, nlp_artifacts=None):
        if entities and ACCOUNT not in entities:
            return []
        toks = spoken.tokenize(text)
        out, seen = [], set()
        for i, tok in enumerate(toks):
            if tok.core.lower().rstrip("s") not in ACCOUNT_CUES:
                continue
            code = self._code_after(toks, i)
            if code is not None and (code.start, code.end) not in seen:
                seen.add((code.start, code.end))
                out.append(_result(self, ACCOUNT, code.start, code.end, self.SCORE))
        return out

    def _code_after(self, toks: list[spoken.Token], i: int) -> Chars | None:
        """The first code within ``WINDOW`` words after the cue, in the same sentence
        ("the ref number they gave me was Q O 6485")."""
        for j in range(i + 1, min(len(toks), i + 1 + self.WINDOW)):
            if toks[j - 1].punct_after.strip(" ,:-#") and j > i + 1:
                return None
            if toks[j].core.lower() in _ACCOUNT_FILLERS:
                continue
            code = read_code(toks, j, self.MAX_CHARS, caps_only=False)
            if len(code.chars) >= 5 and sum(c.isdigit() for c in code.chars) >= 3:
                return code
        return None

"""Spoken-form normalisation: digit strings and e-mail addresses said in words.

ASR output of calls rarely contains "4111 1111 1111 1111"; it contains "four one one one,
one one one one ...", a mixture ("555 one two three, 4567") or numerals with odd separators:
"4 -1 -1 -1" (Whisper's rendering of digits read one by one), "4,111,111", "4111.1111",
"4 \u2013 1" (en dash), "double five", "five dash oh". Presidio's recognizers expect
written forms, so this module turns spoken forms into their written value while keeping, for
every produced digit, the character span of the word it came from. Recognizers then classify
the value (Luhn, length, SSN rules) and report spans of the *original* text, so the redaction
lands on the words the customer said.

Pure Python, no model: it runs on every segment and costs a few microseconds per token.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

# fmt: off
ONES = {
    "zero": "0", "oh": "0", "o": "0", "nought": "0", "naught": "0",
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9",
}
TEENS = {
    "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
    "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19",
}
TENS = {
    "twenty": "2", "thirty": "3", "forty": "4", "fourty": "4", "fifty": "5",
    "sixty": "6", "seventy": "7", "eighty": "8", "ninety": "9",
}
# fmt: on
REPEAT = {"double": 2, "triple": 3}
FILLERS = frozenset({"uh", "um", "umm", "er", "erm", "ah", "hmm", "mm"})
SEPARATOR_WORDS = frozenset({"dash", "hyphen"})
# "oh" and "o" only count as zero next to other digits; alone they are interjections/letters.
WEAK_ZEROS = frozenset({"oh", "o"})

_TOKEN = re.compile(r"\S+")
_STRONG_PUNCT = re.compile(r"[.?!;:]")
# Hyphen, non-breaking hyphen, figure dash, en dash, em dash, minus sign.
DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2212"
_LEAD_CHARS = "".join(c for c in string.punctuation if c != "+") + "\u201c\u2018«" + DASHES
_TRAIL_CHARS = string.punctuation + "\u201d\u2019»…" + DASHES
_DASH_SPLIT = re.compile(f"[{DASHES}]")
_DIGIT_GROUPS = re.compile(r"^\d+(?:[.,]\d+)+$")  # "4111.1111", "4,111,111", "192.168.1.10"
_SLASHED = re.compile(r"^\d+(?:/\d+)+$")  # "4111/1111/1111": digit groups, unless a date
_SLASH_DATE = re.compile(r"^\d{1,2}/\d{1,2}(?:/\d{2,4})?$")
_DIGITS_AND_I = re.compile(r"^(\d{6,})[iI]$")  # Whisper writes a final "nine" as "i"
_memo: list = [None, []]  # last (text, tokens): recognizers of one text share the work


@dataclass(frozen=True)
class Token:
    """A whitespace-delimited word with its punctuation stripped; ``start``/``end`` index the
    stripped core in the original text, ``punct_after`` holds what was stripped behind it."""

    core: str
    start: int
    end: int
    punct_after: str = ""
    dash_before: bool = False  # "-1": a digit Whisper wrote with a leading dash


def tokenize(text: str) -> list[Token]:
    """Split on whitespace and inner hyphens; keep character offsets of each core."""
    if _memo[0] == text:
        return _memo[1]
    tokens: list[Token] = []
    for m in _TOKEN.finditer(text):
        raw = m.group()
        stripped = raw.lstrip(_LEAD_CHARS)
        core = stripped.rstrip(_TRAIL_CHARS)
        if not core:
            continue
        s = m.start() + len(raw) - len(stripped)
        after = stripped[len(core) :]
        dashed = bool(_DASH_SPLIT.match(raw[: len(raw) - len(stripped)][-1:]))
        if _DIGIT_GROUPS.match(core):
            parts = re.split(r"[.,]", core)
        elif _SLASHED.match(core) and not _SLASH_DATE.match(core):
            parts = core.split("/")
        elif _DASH_SPLIT.search(core):  # "4-1-1", "VU-381,152" ("381,152" split below)
            parts = [
                p
                for part in _DASH_SPLIT.split(core)
                for p in (re.split(r"[.,]", part) if _DIGIT_GROUPS.match(part) else [part])
            ]
        else:
            tokens.append(Token(core, s, s + len(core), after, dashed))
            continue
        inner = "" if _DIGIT_GROUPS.match(core) else "-"  # "4,111,111" is one numeral
        for i, part in enumerate(parts):
            if part:
                sep = inner if i < len(parts) - 1 else after
                tokens.append(Token(part, s, s + len(part), sep, dashed and i == 0))
            s += len(part) + 1
    _memo[0], _memo[1] = text, tokens
    return tokens


@dataclass
class Unit:
    """Digits read from one or more adjacent tokens."""

    digits: str
    start: int
    end: int
    weak: bool = False  # a lone "oh"/"o"
    break_after: str = ""  # "", "soft" (comma, dash) or "strong" (sentence punctuation)
    spoken_pair: bool = False  # "twenty one", "fifteen": two digits from number words
    word: bool = False  # one digit said as a word ("four"), not a numeral
    scaled: bool = False  # "eight hundred"


@dataclass
class DigitRun:
    """A maximal stretch of number words and numerals, possibly with fillers inside."""

    units: list[Unit] = field(default_factory=list)
    plus: bool = False  # preceded by "plus" / "+": an international number
    plus_start: int | None = None  # where the word "plus" starts, when said

    @property
    def digits(self) -> str:
        return "".join(u.digits for u in self.units)

    @property
    def start(self) -> int:
        return self.plus_start if self.plus_start is not None else self.units[0].start

    @property
    def end(self) -> int:
        return self.units[-1].end


def _break_kind(punct: str) -> str:
    if not punct:
        return ""
    return "strong" if _STRONG_PUNCT.search(punct) else "soft"


def _single_digit(word: str) -> str | None:
    if word in ONES:
        return ONES[word]
    if len(word) == 1 and word.isdigit():
        return word
    return None


def _read_unit(tokens: list[Token], i: int) -> tuple[Unit | None, int]:
    """Read one number unit starting at ``tokens[i]``; return it and the next index."""
    tok = tokens[i]
    word = tok.core.lower().lstrip("+")
    nxt = tokens[i + 1].core.lower() if i + 1 < len(tokens) else ""
    if word.isascii() and word.isdigit():
        return Unit(word, tok.start, tok.end, break_after=_break_kind(tok.punct_after)), i + 1
    if (m := _DIGITS_AND_I.match(word)) or (
        word == "i" and tok.dash_before and i > 0 and _is_digit_word(tokens[i - 1].core)
    ):
        digits = m.group(1) + "9" if m else "9"  # "555213468i", "... -1 -I -8"
        return Unit(digits, tok.start, tok.end, break_after=_break_kind(tok.punct_after)), i + 1
    joined = tok.punct_after in ("", "-")
    if word in REPEAT and joined:
        d = _single_digit(nxt)
        if d is not None:
            last = tokens[i + 1]
            unit = Unit(d * REPEAT[word], tok.start, last.end, break_after=_break_kind(last.punct_after))
            return unit, i + 2
        return None, i
    if word in TENS:
        unit_digit = ONES.get(nxt) if joined and nxt not in WEAK_ZEROS else None
        if unit_digit and unit_digit != "0":
            last = tokens[i + 1]
            return Unit(
                TENS[word] + unit_digit,
                tok.start,
                last.end,
                spoken_pair=True,
                break_after=_break_kind(last.punct_after),
            ), i + 2
        return Unit(
            TENS[word] + "0", tok.start, tok.end, spoken_pair=True, break_after=_break_kind(tok.punct_after)
        ), i + 1
    if word in TEENS:
        return Unit(
            TEENS[word], tok.start, tok.end, spoken_pair=True, break_after=_break_kind(tok.punct_after)
        ), i + 1
    if word in ONES:
        return Unit(
            ONES[word],
            tok.start,
            tok.end,
            weak=word in WEAK_ZEROS,
            word=True,
            break_after=_break_kind(tok.punct_after),
        ), i + 1
    return None, i


def _is_digit_word(core: str) -> bool:
    return core.isdigit() or core.lower() in ONES


def _apply_scale(units: list[Unit], tok: Token, zeros: int) -> bool:
    """\"eight hundred" -> "800", "two thousand" -> "2000": extend the previous unit."""
    if not units or len(units[-1].digits) > 2 or units[-1].break_after:
        return False
    prev = units[-1]
    prev.digits += "0" * zeros
    prev.scaled = True
    prev.end = tok.end
    prev.break_after = _break_kind(tok.punct_after)
    return True


def _merge_hundreds(units: list[Unit]) -> list[Unit]:
    """\"five hundred twenty" -> "520" (a tens/teens unit right after an "X00" unit), and
    "two hundred four" -> "204" where the one-digit word ends the number ("eight hundred
    five five five ..." stays 800 555 ...)."""
    out: list[Unit] = []
    for k, u in enumerate(units):
        prev = out[-1] if out else None
        last = k == len(units) - 1 or bool(u.break_after)
        if (
            prev is not None
            and prev.scaled
            and len(prev.digits) == 3
            and not prev.break_after
            and (u.spoken_pair or (u.word and not u.weak and last))
        ):
            prev.digits = prev.digits[: 3 - len(u.digits)] + u.digits
            prev.end, prev.break_after = u.end, u.break_after
            continue
        out.append(u)
    return out


def find_digit_runs(text: str, tokens: list[Token] | None = None) -> list[DigitRun]:
    """Find every stretch of spoken or written digits.

    A run continues over fillers ("uh"), "dash"/"hyphen" and punctuation; punctuation is kept
    on the units as a break hint so that two numbers said back to back can be told apart.
    """
    toks = tokenize(text) if tokens is None else tokens
    runs: list[DigitRun] = []
    run = DigitRun()
    i = 0
    while i < len(toks):
        tok = toks[i]
        word = tok.core.lower()
        unit, j = _read_unit(toks, i)
        if unit is not None:
            if not run.units and (tok.core.startswith("+") or _prev_is_plus(text, toks, i)):
                run.plus = True
                if i > 0 and toks[i - 1].core.lower() == "plus":
                    run.plus_start = toks[i - 1].start
            run.units.append(unit)
            i = j
            continue
        if (
            run.units
            and word in ("hundred", "thousand")
            and _apply_scale(run.units, tok, 2 if word == "hundred" else 3)
        ):
            i += 1
            continue
        if run.units and (word in FILLERS or word in SEPARATOR_WORDS):
            run.units[-1].break_after = run.units[-1].break_after or (
                "soft" if word in SEPARATOR_WORDS else ""
            )
            i += 1
            continue
        if run.units:
            runs.append(run)
            run = DigitRun()
        i += 1
    if run.units:
        runs.append(run)
    for r in runs:
        r.units = _merge_hundreds(r.units)
        _trim_weak_edges(r)
    return [r for r in runs if r.units]


def _prev_is_plus(text: str, toks: list[Token], i: int) -> bool:
    if i == 0:
        return text[: toks[0].start].rstrip().endswith("+")
    prev = toks[i - 1]
    between = text[prev.end : toks[i].start]
    return prev.core.lower() == "plus" or "+" in between


def _trim_weak_edges(run: DigitRun) -> None:
    """A lone "oh" at either end of a run is an interjection ("oh, five five five ...")."""
    while run.units and run.units[0].weak and len(run.units) > 1 and run.units[0].break_after:
        run.units.pop(0)
    while run.units and run.units[-1].weak and (len(run.units) == 1 or run.units[-2].break_after == "strong"):
        run.units.pop()


def truecased_text(text: str, nlp_artifacts) -> str:
    """The text NER saw (``nlp_artifacts.tokens``: truecased, offsets unchanged), or ``text``
    when there is none or its length differs."""
    doc = getattr(nlp_artifacts, "tokens", None)
    return doc.text if doc is not None and len(doc.text) == len(text) else text


def luhn_valid(digits: str) -> bool:
    """Luhn (mod 10) checksum used by payment card numbers."""
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for k, ch in enumerate(reversed(digits)):
        d = int(ch)
        if k % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def normalise_number_words(text: str) -> str:
    """Replace every digit run with its digits (a convenience for hashing and for tests)."""
    out, pos = [], 0
    for run in find_digit_runs(text):
        out.append(text[pos : run.start])
        out.append(run.digits)
        pos = run.end
    out.append(text[pos:])
    return "".join(out)


# --- e-mail ----------------------------------------------------------------------------

_EMAIL_WORDS = (
    (re.compile(r"\s+(?:dot|period|point)\s+", re.I), "."),
    (re.compile(r"\s+at\s+", re.I), "@"),
    (re.compile(r"\s+underscore\s+", re.I), "_"),
    (re.compile(r"\s+(?:dash|hyphen)\s+", re.I), "-"),
    (re.compile(r"\s*([.@_-])\s*"), r"\1"),
)
_LETTERS = re.compile(r"\b(?:[a-z]\s+){1,}[a-z]\b", re.I)


def normalise_spoken_email(spoken: str) -> str:
    """\"john dot smith at example dot com" -> "john.smith@example.com".

    Spelled letters ("j o h n") are joined; number words in the local part become digits.
    """
    s = spoken.strip()
    s = _LETTERS.sub(lambda m: re.sub(r"\s+", "", m.group()), s)
    s = normalise_number_words(s)
    for pattern, repl in _EMAIL_WORDS:
        s = pattern.sub(repl, s)
    return re.sub(r"\s+", "", s).lower()

"""The fail-closed catch-all for numbers: what the typed rules of ``numbers.py`` leave.

* ``LONG_NUMBER``: any run of 7 or more digits that is not a date (MMDDYYYY, DDMMYYYY,
  YYYYMMDD with a 19xx/20xx year) or an amount of money ("$1,499", "2,000,000 dollars"),
  emitted under every typed phone/card/SSN match as well (a cue may push the typed match
  below the threshold) and over every stretch no typed match covers.
* ``ACCOUNT_NUMBER``: the same for 5 or more digits whose nearest cue is an account word
  (not for spoken quantities: "the account since two thousand twelve").
* a phone, card or SSN cue right before an unclassified number of about that type's length
  types it (a misheard number with a digit lost or added is still that number).
* ``edge_fragments``: digit runs cut by a chunk boundary in the segment scope.
"""

from __future__ import annotations

from collections.abc import Sequence

from presidio_analyzer import EntityRecognizer

from services.redact import spoken
from services.redact.numbers import (
    ACCOUNT,
    ACCOUNT_MIN,
    ACCOUNT_SCORE,
    CARD,
    CUED_LENGTHS,
    CUED_SCORE,
    LONG,
    LONG_MIN,
    LONG_SCORE,
    MONEY_WORDS,
    PHONE,
    SSN,
    NumberMatch,
    cue_words,
    nearest_cue,
    result,
    runs_and_matches,
)

_CURRENCY = "$\u00a3\u20ac\u00a5"


def is_date_shape(digits: str) -> bool:
    """MMDDYYYY, DDMMYYYY or YYYYMMDD with a 19xx/20xx year, or two such years ("1999-2003")."""
    if len(digits) != 8:
        return False
    if digits[:2] in ("19", "20") and digits[4:6] in ("19", "20"):
        return True

    def md(a: str, b: str) -> bool:
        return 1 <= int(a) <= 12 and 1 <= int(b) <= 31

    year_last = digits[4:6] in ("19", "20") and (md(digits[:2], digits[2:4]) or md(digits[2:4], digits[:2]))
    return year_last or (digits[:2] in ("19", "20") and md(digits[4:6], digits[6:]))


def is_money(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 2) : start].strip()
    after = cue_words(text, start, end, 0, 1)
    return (
        (bool(before) and before[-1] in _CURRENCY)
        or (bool(after) and (after[0].strip(".,?!") in MONEY_WORDS or after[0].startswith("%")))
        or text[end : end + 1] == "%"
    )


def _pieces(run: spoken.DigitRun, typed: Sequence[NumberMatch]) -> list[list[spoken.Unit]]:
    """The units under each typed match, and each stretch of units no typed match covers."""
    pieces: list[list[spoken.Unit]] = [[] for _ in typed]
    stretch: list[spoken.Unit] = []
    for u in run.units:
        k = next((k for k, m in enumerate(typed) if m.start <= u.start < m.end), None)
        if k is None:
            stretch.append(u)
            continue
        pieces[k].append(u)
        if stretch:
            pieces.append(stretch)
            stretch = []
    return [p for p in [*pieces, stretch] if p]


def catch_all(
    text: str, run: spoken.DigitRun, typed: Sequence[NumberMatch], window: int = 8
) -> list[NumberMatch]:
    """LONG_NUMBER / ACCOUNT_NUMBER spans of a run, under each typed match and over each
    stretch no typed match covers; and a phone, card or SSN cue word before a number of
    about that length types it (a misheard phone number with a digit lost is a phone)."""
    out = []
    for units in _pieces(run, typed):
        start = run.start if units[0] is run.units[0] else units[0].start
        end, digits = units[-1].end, "".join(u.digits for u in units)
        if len(digits) < ACCOUNT_MIN or is_date_shape(digits) or is_money(text, start, end):
            continue
        cue = nearest_cue(cue_words(text, start, end, window, 0))
        if cue in CUED_LENGTHS and len(digits) in CUED_LENGTHS[cue]:
            out.append(NumberMatch(cue, CUED_SCORE, start, end, digits))
        quantity = any(u.scaled for u in units) and len(digits) < LONG_MIN  # "two thousand"
        if cue == ACCOUNT and not quantity:
            out.append(NumberMatch(ACCOUNT, ACCOUNT_SCORE, start, end, digits))
        elif len(digits) >= LONG_MIN:
            out.append(NumberMatch(LONG, LONG_SCORE, start, end, digits))
    return out


def edge_fragments(
    text: str,
    covered: Sequence[tuple[int, int]],
    context: Sequence[str] = (),
    min_digits: int = 4,
    min_uncued: int = 5,
    window: int = 10,
) -> list[NumberMatch]:
    """Digit runs cut by a chunk boundary: a run at the very start or end of ``text`` that no
    detection covers, typed by the nearest cue word (``min_digits`` or more), or LONG_NUMBER
    when no cue says what it is (``min_uncued`` or more). ``context`` holds the last words
    before ``text`` (the previous chunk), for runs at its start.

    A number read across two ASR chunks is whole only in the recording scope; in the
    segment scope each chunk holds a piece that classifies as nothing and would leak."""
    found = []
    for run in spoken.find_digit_runs(text):
        at_start = not text[: run.start].strip(_EDGE_JUNK)
        at_end = not text[run.end :].strip(_EDGE_JUNK)
        if not (at_start or at_end) or len(run.digits) < min_digits:
            continue
        if any(s < run.end and run.start < e for s, e in covered):
            continue
        words = [*(w.lower() for w in context if at_start), *cue_words(text, run.start, run.end, window, 0)]
        entity = nearest_cue(words)
        if entity in (None, LONG) and len(run.digits) < min_uncued:
            continue
        found.append(NumberMatch(entity or LONG, 0.5, run.start, run.end, run.digits))
    return found


_EDGE_JUNK = " \n\t,.;:-?!"


class CatchAllNumberRecognizer(EntityRecognizer):
    """The fail-closed catch-all: LONG_NUMBER and cue-backed ACCOUNT_NUMBER digit runs, and
    phone, card and SSN numbers that only their cue word types. Scores are fixed (no
    context words for Presidio's enhancer), so no cue can push them below a threshold."""

    ENTITIES = [LONG, ACCOUNT, PHONE, CARD, SSN]

    def __init__(self, supported_language: str = "en", name: str = "CatchAllNumberRecognizer"):
        super().__init__(
            supported_entities=list(self.ENTITIES), supported_language=supported_language, name=name
        )

    def load(self) -> None:
        return None

    def analyze(self, text, entities, nlp_artifacts=None):
        wanted = set(entities or self.supported_entities) & set(self.supported_entities)
        found = [m for run, typed in runs_and_matches(text) for m in catch_all(text, run, typed)]
        return [result(self, m) for m in [*found, *lettered_numbers(text)] if m.entity in wanted]


def lettered_numbers(text: str) -> list[NumberMatch]:
    """One word of letters and 7+ digits ("BD4450105175407324931", "x7765432"): no digit run
    holds it, so it is caught here, as LONG_NUMBER or, after an account cue, ACCOUNT_NUMBER."""
    out = []
    for tok in spoken.tokenize(text):
        core = tok.core.replace(".", "").replace(",", "")
        digits = "".join(c for c in core if c.isdigit())
        if len(digits) < LONG_MIN or not core.isalnum() or digits == core:
            continue
        cue = nearest_cue(cue_words(text, tok.start, tok.end, 8, 0))
        entity = ACCOUNT if cue == ACCOUNT else LONG
        out.append(
            NumberMatch(entity, ACCOUNT_SCORE if cue == ACCOUNT else LONG_SCORE, tok.start, tok.end, digits)
        )
    return out

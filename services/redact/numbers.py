"""Numbers said on a call, failing closed: every long digit run is redacted as something.

Digits come from ``spoken.find_digit_runs`` (words, numerals, mixtures, any separator), so a
number is judged by its value and its shape, never by how it was rendered. Types:

* ``PHONE_NUMBER``, ``US_SSN``: by length and shape (NANP, "+" numbers, SSN rules), the score
  moved by the nearest cue words ("social", "call" ... raise it; "order", "account" ...
  lower it).
* ``CREDIT_CARD``: 13-19 digits that start like a card (2-6) or come in card-like groups
  (4-4-4-4, 4-6-5, 4-4-4-4-3). The Luhn checksum is not a gate: ASR mishears digits, so a
  number that fails it is still a card (score 0.6); one that passes scores 0.9.
* ``ACCOUNT_NUMBER`` (``catch_all.py``): 5 or more digits whose nearest cue word is an
  account word ("account", "reference", "membership", "policy", "customer" ...). Codes with
  letters are found by ``identifiers.AccountNumberRecognizer``.
* ``LONG_NUMBER``, the catch-all (``catch_all.py``): any other run of 7 or more digits
  that is not a date (MMDDYYYY, DDMMYYYY, YYYYMMDD) or an amount of money. It is a type of
  its own, not an existing one, so that a policy can exempt it (a tenant whose transcripts
  must keep order numbers) without exempting phones or cards; the default policy redacts it. It is emitted
  under every phone, card and SSN match too, so a typed match that a cue word pushes below
  the threshold ("order number" before ten digits) is still redacted; where both survive,
  ``analyzer.merge_overlaps`` lets the specific type win. A phone, card or SSN cue word
  right before an unclassified number of about that type's length types it instead
  ("my phone number is 5 -5 -2 -1 -3 -4 -6 -8 -8": a phone number with a digit lost).

Runs are split into several numbers only where the split leaves at most one digit
unaccounted for, and a run of 20 or more digits not at all ("8812, 0047, 5519, 2630, 9914"
is one number, not a card and four digits).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from presidio_analyzer import EntityRecognizer, RecognizerResult

from services.redact import spoken

PHONE, CARD, SSN = "PHONE_NUMBER", "CREDIT_CARD", "US_SSN"
LONG, ACCOUNT = "LONG_NUMBER", "ACCOUNT_NUMBER"
CATCH_ALL_TYPES = (LONG, ACCOUNT)

# fmt: off
CUES: dict[str, frozenset[str]] = {
    PHONE: frozenset({"phone", "cell", "mobile", "call", "reach", "text", "telephone",
                      "landline", "fax", "callback", "dial", "contact", "cellphone", "ring"}),
    CARD: frozenset({"card", "credit", "debit", "visa", "mastercard", "amex", "discover",
                     "cc", "payment"}),
    SSN: frozenset({"social", "ssn", "security"}),
}
NEGATIVE_CUES = frozenset({
    "order", "reference", "ref", "confirmation", "tracking", "ticket", "case", "invoice",
    "account", "acct", "member", "membership", "policy", "model", "serial", "part",
    "product", "sku", "routing", "claim", "booking", "reservation", "pin", "zip", "postal",
    "employee", "id", "item", "version", "passcode", "password", "transaction", "code",
    "customer", "shipment", "acc",
})
ACCOUNT_CUES = frozenset({"account", "acct", "acc", "reference", "ref", "member",
                          "membership", "policy", "customer", "routing"})
# fmt: on
# Words that say "a number follows" without saying whose: "member id", "reference code".
NEUTRAL_CUES = frozenset({"id", "code", "no", "number", "num"})
CUE_BOOST = 0.35
SPLIT_MIN_SCORE = 0.45  # a run is split only around a likely number, not a 7-digit "maybe"
CARD_NO_LUHN = 0.6
LONG_SCORE, ACCOUNT_SCORE = 0.8, 0.85
LONG_MIN, ACCOUNT_MIN = 7, 5
CUED_SCORE = 0.7
CUED_LENGTHS = {PHONE: range(7, 13), SSN: range(8, 11), CARD: range(12, 21)}
# fmt: off
MONEY_WORDS = frozenset({"dollar", "dollars", "bucks", "pound", "pounds", "quid", "euro",
                         "euros", "cents", "pence", "percent", "usd", "gbp", "eur"})
# fmt: on


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
    return (
        len(d) == 9
        and area not in ("000", "666")
        and area[0] != "9"
        and group != "00"
        and serial != "0000"
        and len(set(d)) > 1
    )


def card_like_groups(groups: Sequence[int]) -> bool:
    """4-4-4-4 (with a short last group), 4-6-5 / 4-6-4."""
    g = tuple(groups)
    if g in ((4, 6, 5), (4, 6, 4)):
        return True
    return len(g) >= 4 and all(x == 4 for x in g[:-1]) and 1 <= g[-1] <= 4


def classify_digits(digits: str, plus: bool = False, groups: Sequence[int] = ()) -> tuple[str, float] | None:
    """Entity type and base score of a normalised digit string, or None."""
    n = len(digits)
    if plus:
        return (PHONE, 0.7) if 8 <= n <= 15 else None
    if 13 <= n <= 19 and (digits[0] in "23456" or card_like_groups(groups)):
        return (CARD, 0.9) if spoken.luhn_valid(digits) else (CARD, CARD_NO_LUHN)
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


def digit_groups(units: Sequence[spoken.Unit]) -> list[int]:
    """Sizes of the digit groups as said: a numeral is a group, words group up to a break."""
    groups, pending = [], 0
    for u in units:
        if len(u.digits) > 1 and not u.spoken_pair and not u.scaled:
            if pending:
                groups.append(pending)
                pending = 0
            groups.append(len(u.digits))
        else:
            pending += len(u.digits)
        if u.break_after and pending:
            groups.append(pending)
            pending = 0
    return [*groups, pending] if pending else groups


def _split_points(run: spoken.DigitRun) -> list[int]:
    """Unit indexes where a number may start: after punctuation, "dash" or a weak zero. A run
    of 20+ digits (longer than any typed number) is one number: none."""
    if len(run.digits) >= 20:
        return [0, len(run.units)]
    points = [0]
    for k, u in enumerate(run.units[:-1]):
        if u.weak or u.break_after:
            points.append(k + 1)
    return [*points, len(run.units)]


def _loose_digits(run: spoken.DigitRun, a: int, b: int, covered: set[int]) -> int:
    """Digits of the run next to units [a, b) that no match covers (over any break: Whisper
    may end a sentence after each group, "906. 181. 726. 945")."""
    n = 0
    k = a - 1
    while k >= 0 and k not in covered:
        n += len(run.units[k].digits)
        k -= 1
    k = b
    while k < len(run.units) and k not in covered:
        n += len(run.units[k].digits)
        k += 1
    return n


def number_matches(run: spoken.DigitRun) -> list[NumberMatch]:
    """Classify a run; if the whole run is no entity, try stretches between break points,
    longest first ("five five five ... four five six seven. One more thing"). A stretch
    match that leaves two or more digits loose beside it is dropped: it is part of a
    longer number, which the LONG_NUMBER catch-all then covers whole ("It's {phone},
    extension four" keeps its phone)."""
    points = _split_points(run)
    found: list[tuple[int, int, NumberMatch]] = []

    def search(lo: int, hi: int) -> None:
        spans = sorted(
            ((a, b) for a in points for b in points if lo <= a < b <= hi), key=lambda ab: ab[0] - ab[1]
        )
        for a, b in spans:
            units = run.units[a:b]
            digits = "".join(u.digits for u in units)
            kind = classify_digits(digits, run.plus and a == 0, digit_groups(units))
            if kind and (kind[1] >= SPLIT_MIN_SCORE or (a, b) == (0, len(run.units))):
                start = run.start if a == 0 else units[0].start  # run.start includes "plus"
                found.append((a, b, NumberMatch(kind[0], kind[1], start, units[-1].end, digits)))
                search(lo, a)
                search(b, hi)
                return

    search(0, len(run.units))
    covered = {k for a, b, _ in found for k in range(a, b)}
    return [
        m
        for a, b, m in sorted(found, key=lambda f: f[0])
        if (a, b) == (0, len(run.units)) or _loose_digits(run, a, b, covered) < 2
    ]


_memo: list = [None, []]


def runs_and_matches(text: str) -> list[tuple[spoken.DigitRun, list[NumberMatch]]]:
    """Digit runs of ``text`` with their typed matches (the recognizers of one text share
    the work)."""
    if _memo[0] != text:
        _memo[0], _memo[1] = text, [(r, number_matches(r)) for r in spoken.find_digit_runs(text)]
    return _memo[1]


def cue_words(text: str, start: int, end: int, before: int, after: int) -> list[str]:
    toks = spoken.tokenize(text)
    starts = [t.start for t in toks]
    i, j = bisect.bisect_left(starts, start), bisect.bisect_left(starts, end)
    return [t.core.lower() for t in toks[max(0, i - before) : i] + toks[j : j + after]]


def _stem(w: str) -> str:
    w = w.strip(".,?!;:'")
    return w[:-2] if w.endswith("'s") else w.rstrip("s") if len(w) > 3 else w


def cue_adjustment(entity: str, words: Iterable[str], external: Iterable[str] = ()) -> float:
    """+boost for the entity's own cue words, -boost for words of non-PII numbers."""
    stems = [_stem(w) for w in words]
    own = any(w in CUES[entity] for w in stems) or any(w.lower() in CUES[entity] for w in external)
    # Another entity's cue ("card" before nine digits) is no reason to keep a number: a
    # misheard card or phone number is as sensitive. Only non-PII number words count against.
    other = any(w in NEGATIVE_CUES for w in stems)
    return (CUE_BOOST if own else 0.0) - (CUE_BOOST if other else 0.0)


def nearest_cue(words: Sequence[str]) -> str | None:
    """The entity of the cue word nearest the end of ``words``: a PII type, ACCOUNT_NUMBER,
    LONG_NUMBER for the words of other numbers ("order"), or None."""
    for w in reversed(words):
        w = _stem(w.lower())
        if w in NEUTRAL_CUES:
            continue
        if w in ACCOUNT_CUES:
            return ACCOUNT
        for entity, cues in CUES.items():
            if w in cues:
                return entity
        if w in NEGATIVE_CUES:
            return LONG
    return None


def result(rec: EntityRecognizer, m: NumberMatch) -> RecognizerResult:
    return RecognizerResult(
        entity_type=m.entity,
        start=m.start,
        end=m.end,
        score=m.score,
        recognition_metadata={
            RecognizerResult.RECOGNIZER_NAME_KEY: rec.name,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: rec.id,
            "normalised": m.digits,
        },
    )


class SpokenNumberRecognizer(EntityRecognizer):
    """Phone, card and SSN numbers in spoken, numeral or mixed form."""

    ENTITIES = [PHONE, CARD, SSN]

    def __init__(
        self,
        supported_entities: list[str] | None = None,
        window: int = 10,
        supported_language: str = "en",
        name: str = "SpokenNumberRecognizer",
    ):
        self.window = window
        context = sorted(set().union(*CUES.values()))
        super().__init__(
            supported_entities=supported_entities or list(self.ENTITIES),
            supported_language=supported_language,
            name=name,
            context=context,
        )

    def load(self) -> None:  # nothing to load
        return None

    def analyze(self, text, entities, nlp_artifacts=None):
        wanted = set(entities or self.supported_entities) & set(self.supported_entities)
        return [
            result(self, m) for _, matches in runs_and_matches(text) for m in matches if m.entity in wanted
        ]

    def enhance_using_context(
        self, text, raw_recognizer_results, other_raw_recognizer_results, nlp_artifacts, context=None
    ):
        """Nearest cue words move the score; results are marked so Presidio's generic
        lemma enhancer does not add its own boost on top."""
        out = []
        for r in raw_recognizer_results:
            words = cue_words(text, r.start, r.end, self.window, 4 if r.entity_type == PHONE else 0)
            r.score = max(0.0, min(1.0, r.score + cue_adjustment(r.entity_type, words, context or ())))
            r.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
            out.append(r)
        return out

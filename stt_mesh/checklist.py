"""Required-term checklists: a summary check that can be explained in one sentence.

A producer (or the golden set) puts ``summary_checklist`` into a recording's metadata: a
comma-separated list of terms a good summary of the call must mention ("refund, invoice,
account"). A summary's score is the share of those terms it contains, matched on words
normalised the way WER is (``mesh.textnorm``), so "Billing-team" matches "billing team"
and "42" matches "forty two"; a term of several words must appear as those consecutive words.

``checklist_terms`` writes such a checklist from a reference transcript, deterministically
and independently of any recogniser: the longest content words of the reference, ties
broken alphabetically, leaving out stopwords, numbers and very short words. Words the
redaction would mask (names, identifiers) must not be required, since a summary of the
redacted transcript can never contain them: pass them as ``exclude``.

Only the standard library and ``mesh.textnorm`` are imported, so any app can use this.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from mesh.textnorm import ONES, SCALES, TENS, normalize

METADATA_KEY = "summary_checklist"
MIN_TERM_CHARS = 4

__all__ = [
    "METADATA_KEY",
    "checklist_terms",
    "content_words",
    "format_checklist",
    "matches",
    "parse_checklist",
    "words",
]

_STOPWORD_TEXT = """
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had
has have having he her here hers herself him himself his how i if in into is it its itself just
let like me more most my myself no nor not now of off on once only or other our ours ourselves
out over own really right same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up us very was we well
were what when where which while who whom why will with would yeah yes you your yours yourself
yourselves okay oh hello hi bye goodbye going got get know think want thank thanks please sure
mister missus doctor
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
NUMBER_WORDS = frozenset(
    [*ONES, *(t for t in TENS if t), "hundred", *(n for _, n in SCALES), "point", "percent", "dollars"]
)
_TAG = re.compile(r"<[A-Z_]+>")  # a redaction mask such as <PERSON>


def words(text: str) -> list[str]:
    """Normalised words of ``text``; redaction masks are dropped, not read as words."""
    return normalize(_TAG.sub(" ", text)).split()


def content_words(text: str) -> list[str]:
    """The words that carry content: no stopwords, number words or one- and two-letter words."""
    return [w for w in words(text) if len(w) > 2 and w not in STOPWORDS and w not in NUMBER_WORDS]


def parse_checklist(raw: str | None) -> list[str]:
    """``"Refund, invoice ,, account"`` -> ``["refund", "invoice", "account"]`` (normalised,
    empty and repeated entries dropped, order kept)."""
    terms: list[str] = []
    for part in (raw or "").split(","):
        term = " ".join(words(part))
        if term and term not in terms:
            terms.append(term)
    return terms


def format_checklist(terms: Iterable[str]) -> str:
    """The metadata value for ``terms`` (what ``parse_checklist`` reads back)."""
    return ", ".join(terms)


def matches(terms: Sequence[str], text: str) -> tuple[list[str], list[str]]:
    """(terms present in ``text``, terms missing), each a consecutive run of normalised words."""
    padded = f" {' '.join(words(text))} "
    found = [t for t in terms if f" {t} " in padded]
    return found, [t for t in terms if t not in found]


def checklist_terms(reference: str, k: int = 3, *, exclude: Iterable[str] = ()) -> list[str]:
    """``k`` required terms from ``reference``: its longest content words of at least
    ``MIN_TERM_CHARS`` letters, ties broken alphabetically; digits and number words never,
    nor any word of ``exclude`` (e.g. the PII values the redaction masks)."""
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    banned = {w for value in exclude for w in words(value)}
    no_digits = re.sub(r"\S*\d\S*", " ", reference)
    candidates = {
        w for w in content_words(no_digits) if len(w) >= MIN_TERM_CHARS and w.isalpha() and w not in banned
    }
    return sorted(candidates, key=lambda w: (-len(w), w))[:k]

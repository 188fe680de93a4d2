"""The call-summary app's logic, with no Kafka in it: summarise, judge, price.

The summariser is **a stand-in for an LLM**: no language model can be installed on these
machines, so it is extractive, after Luhn (1958). A call is cut into speaker-attributed units
(a segment's sentences, long runs split every ``MAX_UNIT_WORDS`` words); the significant
words are the content words said at least twice in the call (all content words when none
repeats); a unit scores, for its densest cluster of significant words (neighbours at most
``GAP`` insignificant words apart), significant words squared over the cluster's length; the
top ``max_units`` units, in call order, are the summary. Swap ``summarize`` for an LLM call
and the rest of the app (judging, outcome, delivery) stays as it is.

The judge is a required-slots checklist, so a verdict can be explained in one sentence:

* with a checklist (``summary_checklist`` in the recording's producer metadata): the score
  is the share of its terms the summary mentions;
* without one: two generic slots, "the summary quotes at least one speaker-attributed
  segment" and "it has at least ``min_content_words`` content words"; the score is the share
  of the two that are filled.

Either way the summary is accepted when ``score >= threshold``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stt_mesh.checklist import METADATA_KEY, content_words, matches, parse_checklist

MODEL = "extractive-luhn-1"
GAP = 4
MAX_UNIT_WORDS = 30
CHARS_PER_TOKEN = 4  # the usual rule of thumb for English with GPT-style tokenisers
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True, slots=True)
class Unit:
    speaker: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Summary:
    units: tuple[Unit, ...]

    @property
    def text(self) -> str:
        """What is judged: the selected sentences, without speaker labels."""
        return " ".join(u.text for u in self.units)

    def render(self) -> str:
        return "\n".join(f"{u.speaker or 'UNKNOWN'}: {u.text}" for u in self.units)


@dataclass(frozen=True, slots=True)
class Judgement:
    score: float
    accepted: bool
    found: tuple[str, ...]
    missing: tuple[str, ...]
    reason: str


def units(transcript: Mapping[str, Any]) -> list[Unit]:
    """Speaker-attributed units of a RedactedTranscript (its text when it has no segments)."""
    segments = transcript.get("segments") or [{"speaker": None, "text": transcript.get("text", "")}]
    out = []
    for seg in segments:
        for sentence in _SENTENCE_END.split(seg.get("text") or ""):
            tokens = sentence.split()
            for at in range(0, len(tokens), MAX_UNIT_WORDS):
                out.append(Unit(seg.get("speaker"), " ".join(tokens[at : at + MAX_UNIT_WORDS])))
    return [u for u in out if u.text]


def summarize(transcript: Mapping[str, Any], max_units: int = 3) -> Summary:
    """The ``max_units`` most salient units of the call, in the order they were said."""
    candidates = units(transcript)
    counts = Counter(w for u in candidates for w in set(content_words(u.text)))
    significant = {w for w, n in counts.items() if n >= 2} or set(counts)
    scored = sorted(range(len(candidates)), key=lambda i: (-salience(candidates[i].text, significant), i))
    return Summary(tuple(candidates[i] for i in sorted(scored[:max_units])))


def salience(text: str, significant: set[str]) -> float:
    """Luhn's score: the densest cluster's significant words squared over its length."""
    hits = [i for i, w in enumerate(content_words(text)) if w in significant]
    best, start = 0.0, 0
    for end in range(len(hits)):
        if end > start and hits[end] - hits[end - 1] > GAP + 1:
            start = end
        n = end - start + 1
        best = max(best, n * n / (hits[end] - hits[start] + 1))
    return best


def judge(
    summary: Summary, checklist: Sequence[str], *, threshold: float = 2 / 3, min_content_words: int = 8
) -> Judgement:
    """Checklist share (or the two generic slots when ``checklist`` is empty) vs ``threshold``."""
    if checklist:
        found, missing = matches(checklist, summary.text)
        what = "checklist terms present"
    else:
        slots = {
            "speaker-attributed segment": any(u.speaker for u in summary.units),
            f"{min_content_words} content words": len(content_words(summary.text)) >= min_content_words,
        }
        found = [slot for slot, ok in slots.items() if ok]
        missing = [slot for slot, ok in slots.items() if not ok]
        what = "generic slots filled (no checklist)"
    score = len(found) / (len(found) + len(missing))
    reason = f"{len(found)} of {len(found) + len(missing)} {what}" + (
        f"; missing: {', '.join(missing)}" if missing else ""
    )
    return Judgement(score, score >= threshold, tuple(found), tuple(missing), reason)


def checklist_of(metadata: Mapping[str, Any] | None) -> list[str]:
    """The required terms a RecordingMetadata carries (none when it has no checklist)."""
    return parse_checklist(((metadata or {}).get("metadata") or {}).get(METADATA_KEY))


def estimated_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def cost_usd(transcript_text: str, summary_text: str, price_per_1k_tokens: float) -> float:
    """Placeholder cost: estimated tokens read and written, at a flat price per 1,000 tokens
    (what an LLM app would be billed; the extractive stand-in itself costs nothing)."""
    tokens = estimated_tokens(transcript_text) + estimated_tokens(summary_text)
    return round(tokens / 1000 * price_per_1k_tokens, 8)

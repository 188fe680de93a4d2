"""``accepted`` or ``needs_review``, with the reasons, and the checks against a reference.

Each rule is one reason; a transcript with no reason is accepted. The thresholds are
``VerdictSettings`` (``STT_QUALITY_VERDICT__*``). Reasons:

* ``low_coverage``: speech the recognizer did not cover with words (or a chunk the ASR
  flagged ``low_coverage`` after re-decoding);
* ``repetition``: an n-gram repeated back to back (a decoding loop the ASR did not trim);
* ``low_confidence``: low mean word probability, or too many words below 0.5;
* ``language_mismatch``: the detected language is not the producer's hint, and the
  detector was sure of it;
* ``high_proxy``: the estimated WER is over its bound;
* ``sparse_words`` / ``dense_words``: words per speech second outside a human range;
* ``partial``: the recording's join timed out before everything arrived;
* ``privacy``: personal data was found in a redacted output (see ``privacy_errors``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mesh.textnorm import normalize, word_error_rate
from services.quality.config import VerdictSettings

_DIGIT_RUN = re.compile(r"\d(?:[\s\-.]?\d)+")
_PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*(?::[0-9A-Za-z]+)?>")  # what the redactor's operators write
LONG_NUMBER_DIGITS = 7


def reasons(
    feats: Mapping[str, float],
    proxy: float,
    settings: VerdictSettings,
    *,
    language: str | None = None,
    hint: str | None = None,
    partial: bool = False,
    privacy_errors: int = 0,
) -> list[str]:
    out = []
    flagged = feats.get("low_coverage", 0.0) or feats.get("low_coverage_chunks", 0.0)
    if feats.get("speech_s", 0.0) > 0 and (
        feats.get("speech_coverage", 1.0) < settings.min_coverage or flagged
    ):
        out.append("low_coverage")
    if feats.get("repetition_run", 0.0) >= settings.max_repetition_run:
        out.append("repetition")
    if feats.get("words", 0.0) > 0 and (
        feats.get("mean_word_probability", 1.0) < settings.min_mean_word_probability
        or feats.get("low_probability_share", 0.0) > settings.max_low_probability_share
    ):
        out.append("low_confidence")
    if (
        hint
        and language
        and language.split("-")[0] != hint.split("-")[0]
        and feats.get("language_probability", 0.0) >= settings.min_language_probability
    ):
        out.append("language_mismatch")
    if proxy > settings.max_proxy:
        out.append("high_proxy")
    wps = feats.get("words_per_speech_s", 0.0)
    if feats.get("speech_s", 0.0) >= 2.0 and feats.get("words", 0.0) > 0:
        if wps < settings.min_words_per_speech_s:
            out.append("sparse_words")
        elif wps > settings.max_words_per_speech_s:
            out.append("dense_words")
    if partial:
        out.append("partial")
    if privacy_errors:
        out.append("privacy")
    return out


def true_wer(reference: str | None, hypothesis: str) -> float | None:
    """WER against a reference (None without one; a probe's empty reference is not a WER)."""
    if reference is None or not normalize(reference):
        return None
    return word_error_rate([reference], [hypothesis])


def pooled_wer(references: Sequence[str], hypotheses: Sequence[str]) -> float | None:
    """WER over several (reference, hypothesis) pairs, weighted by reference words (one pair
    per channel of a split-channel recording, whose channels are transcribed apart)."""
    if not any(normalize(r) for r in references):
        return None
    return word_error_rate(list(references), list(hypotheses))


def hallucinated_words(reference: str | None, hypothesis: str) -> int:
    """Words emitted where the reference says nothing was said (silence, noise, hum probes)."""
    if reference is None or normalize(reference):
        return 0
    return len(normalize(hypothesis).split())


def privacy_errors(redacted_text: str, known_values: Iterable[str] = ()) -> int:
    """Personal data left in a redacted text: any run of 7 or more digits (the redactor's own
    LONG_NUMBER rule, so it can only fire on what it missed), and any value the producer
    declared as personal data (golden and canary recordings), matched digit for digit or
    case-insensitively as text."""
    text = _PLACEHOLDER.sub(" ", redacted_text)  # a hash operator's digest is not a number
    errors = sum(
        1 for m in _DIGIT_RUN.finditer(text) if sum(c.isdigit() for c in m.group()) >= LONG_NUMBER_DIGITS
    )
    packed = _alnum(text)  # "(555) 010-0199" and "4 7 1 1" match, "12 and 34" is not "1234"
    lowered = text.lower()
    for value in known_values:
        value_digits = "".join(c for c in value if c.isdigit())
        as_digits = len(value_digits) >= 4 and _alnum(value) in packed
        as_text = not value_digits and bool(value.strip()) and value.strip().lower() in lowered
        errors += as_digits or as_text
    return errors


def _alnum(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def metadata_list(meta: Mapping[str, Any] | None, key: str) -> list[str]:
    """A producer metadata value holding a JSON list (metadata values are strings)."""
    raw = (meta or {}).get("metadata", {}).get(key)
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        return [raw]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]

"""Spoken PII through the whole mesh: nothing of it reaches the redacted topic."""

from __future__ import annotations

import re
import subprocess

import pytest

from mesh import topics
from services.ingest.cli import publish_files

pytestmark = pytest.mark.e2e

SCRIPT = (
    "Hello, thanks for calling. My name is John Smith. "
    "My phone number is five five five, two one three, four six eight nine. "
    "My email is john dot smith at example dot com. "
    "And my card number is four one one one, one one one one, one one one one, one one one one. "
    "Thank you."
)
NUMBERS = {"PHONE_NUMBER": "5552134689", "CREDIT_CARD": "4111111111111111"}
WORDS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
         "six": "6", "seven": "7", "eight": "8", "nine": "9"}


REPEATS = {"double": 2, "triple": 3}


def digit_stream(text: str) -> str:
    """Digits and digit words of ``text`` in order, everything else dropped: every rendering
    the ASR may give a number reads the same ("4 -1 -1", "4\u22121", "4,111", "four one",
    "double one" -> "411..."), so no separator hides a leak."""
    out, repeat = [], 1
    for t in re.findall(r"[a-z]+|\d", text.lower()):
        if t in REPEATS:
            repeat = REPEATS[t]
            continue
        if t in WORDS or t.isdigit():
            out.append(WORDS.get(t, t) * repeat)
        repeat = 1
    return "".join(out)


def leaks(text: str) -> list[str]:
    found = [name for name, digits in NUMBERS.items()
             if any(digits[i:i + 6] in digit_stream(text) for i in range(len(digits) - 5))]
    lowered = text.lower()
    found += [form for form in ("smith", "example dot com", "example.com", "john.smith")
              if form in lowered]
    return found


def test_spoken_pii_never_reaches_the_redacted_topic(stack, publisher, events, tmp_path):
    audio = tmp_path / "pii-call.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(audio), SCRIPT], check=True)
    ev = events(topics.TRANSCRIPTS, topics.REDACTED)
    [(rid, _)] = publish_files([audio], publisher, tenant="e2e", priority="realtime", progress=False)

    def final(e) -> bool:
        return any(r["scope"] == "recording" for r in e.by_id[rid]["RedactedTranscript"])

    assert ev.wait(final, 600), f"no recording-scope redaction: {dict(ev.by_id[rid])}"
    raw = " ".join(s["text"] for c in ev.by_id[rid]["ChunkTranscript"] for s in c["segments"])
    spoken = leaks(raw)
    assert {"PHONE_NUMBER", "CREDIT_CARD", "smith"} <= set(spoken), \
        f"the ASR must hear the PII for this test to mean anything: {raw}"
    redacted = ev.by_id[rid]["RedactedTranscript"]
    for event in redacted:
        text = " ".join([event["text"], *(s["text"] for s in event["segments"])])
        assert leaks(text) == [], f"{event['scope']} output leaks PII: {text}"
    recording = next(r for r in redacted if r["scope"] == "recording")
    counts = set(recording["entity_counts"])
    assert {"PHONE_NUMBER", "PERSON"} <= counts, counts
    # the card is typed by how many digits the ASR heard: 16 are a card; a repetition that
    # made them 25 ("4-1-1-...-1", seen) is the LONG_NUMBER catch-all. Either way redacted.
    assert counts & {"CREDIT_CARD", "LONG_NUMBER"}, counts
    for entity in recording["entities"]:
        assert entity["start_s"] is not None and entity["end_s"] >= entity["start_s"]
    # nothing of the raw text on the redacted topic's bytes either
    redacted_bytes = b" ".join(value for topic, key, value in ev.raw
                               if topic == topics.REDACTED and key == rid)
    assert redacted_bytes
    assert b"Smith" not in redacted_bytes and b"smith" not in redacted_bytes

"""Spoken PII through the whole mesh: nothing of it reaches the redacted topic."""

from __future__ import annotations

import subprocess

import pytest

from mesh import topics
from services.ingest.cli import publish_files
from tests.pii_leaks import leaks

pytestmark = pytest.mark.e2e

SCRIPT = (
    "Hello, thanks for calling. My name is John Smith. "
    "My phone number is five five five, two one three, four six eight nine. "
    "My email is john dot smith at example dot com. "
    "And my card number is four one one one, one one one one, one one one one, one one one one. "
    "Thank you."
)


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
    assert {"PHONE_NUMBER", "CREDIT_CARD", "smith"} <= set(spoken), (
        f"the ASR must hear the PII for this test to mean anything: {raw}"
    )
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
    redacted_bytes = b" ".join(
        value for topic, key, value in ev.raw if topic == topics.REDACTED and key == rid
    )
    assert redacted_bytes
    assert b"Smith" not in redacted_bytes and b"smith" not in redacted_bytes

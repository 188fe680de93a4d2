"""The worker end to end (real spaCy model, no Kafka): both scopes, spans, speakers."""

from __future__ import annotations

import json

import pytest
from fastavro.validation import validate

import schemas
from services.redact.config import RedactSettings
from services.redact.policy import PolicyBook
from services.redact.worker import RedactWorker
from tests.pii_leaks import digit_stream, leaks

pytestmark = pytest.mark.slow

CARD_SAID = "four one one one, one one one one, one one one one, one one one one"


def test_when_a_chunk_arrives_then_one_segment_scope_output_validates(make_worker, make_chunk):
    worker = make_worker()
    (out,) = worker.on_transcript(
        make_chunk(0, 2, ["Hi, this is Sarah Johnson.", f"My card is {CARD_SAID}."])
    )
    ev = out.event
    assert validate(ev, schemas.load("RedactedTranscript"))
    assert (ev["scope"], ev["seq"], ev["recording_id"], ev["tenant"]) == ("segment", 0, "call-1", "acme")
    assert ev["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert ev["text"] == "Hi, this is <PERSON>.\nMy card is <CREDIT_CARD>."
    assert [s["text"] for s in ev["segments"]] == ["Hi, this is <PERSON>.", "My card is <CREDIT_CARD>."]
    assert ev["entity_counts"] == {"PERSON": 1, "CREDIT_CARD": 1} == out.entity_counts
    assert (ev["policy_name"], ev["policy_version"]) == ("default", "1")


def test_entity_spans_point_into_the_redacted_text_and_the_audio(make_worker, make_chunk):
    worker = make_worker()
    value = make_chunk(0, 1, [f"Okay my card is {CARD_SAID} thanks"], t0=2.0)
    (out,) = worker.on_transcript(value)
    (ent,) = out.event["entities"]
    assert out.event["text"][ent["start_char"] : ent["end_char"]] == "<CREDIT_CARD>"
    words = value["segments"][0]["words"]
    said = [w for w in words if w["word"].strip(" ,") in ("four", "one")]
    assert ent["start_s"] == said[0]["start_s"] == 3.6
    assert ent["end_s"] == said[-1]["end_s"]
    assert ent["operator"] == "mask" and ent["score"] >= 0.9


def test_outputs_never_contain_the_raw_values(make_worker, make_chunk, make_turns):
    worker = make_worker()
    texts = [
        "My name is Priya Raman.",
        "My email is priya dot raman at gmail dot com.",
        "My social is one two three, four five, six seven eight nine.",
    ]
    outs = worker.on_transcript(make_chunk(0, 1, texts))
    outs += worker.on_turns(make_turns("call-1", [("CUSTOMER", 0, 60)]))
    assert [o.event["scope"] for o in outs] == ["segment", "recording"]
    blob = json.dumps([o.event for o in outs]).lower()
    for raw in ("priya", "raman", "gmail", "six seven eight nine"):
        assert raw not in blob


def test_when_a_number_crosses_chunks_then_the_recording_scope_redacts_it_whole(
    make_worker, make_chunk, make_turns
):
    worker = make_worker()
    first = make_chunk(0, 2, ["Hi, this is Sarah.", "My card is four one one one, one one one one,"])
    second = make_chunk(1, 2, ["one one one one, one one one one.", "Thanks Sarah."], t0=20.0)
    seg0 = worker.on_transcript(first)
    seg1 = worker.on_transcript(second)
    (rec,) = worker.on_turns(make_turns("call-1", [("CUSTOMER", 0, 23.4), ("AGENT", 23.4, 60)]))
    ev = rec.event
    assert validate(ev, schemas.load("RedactedTranscript"))
    assert (ev["scope"], ev["seq"]) == ("recording", None)
    assert ev["text"].count("<CREDIT_CARD>") == 1
    assert "one one" not in ev["text"]
    assert [(s["speaker"], s["text"]) for s in ev["segments"]] == [
        ("CUSTOMER", "Hi, this is <PERSON>. My card is <CREDIT_CARD>."),
        ("AGENT", "Thanks <PERSON>."),
    ]
    (card,) = [e for e in ev["entities"] if e["entity_type"] == "CREDIT_CARD"]
    assert card["start_s"] < 20.0 < card["end_s"]  # the audio span crosses the chunk boundary
    # the realtime outputs masked each piece from the card cue and the previous chunk's words
    assert "one one" not in seg0[0].event["text"] + seg1[0].event["text"]


def test_when_diarization_is_disabled_then_the_recording_goes_out_when_complete(make_worker, make_chunk):
    worker = make_worker(diarization=False)
    outs = worker.on_transcript(
        make_chunk(0, 1, ["Please call me at two one two, five five five, oh one nine eight."])
    )
    assert [o.scope for o in outs] == ["segment", "recording"]
    assert outs[1].event["segments"][0]["speaker"] is None
    assert outs[1].event["text"] == "Please call me at <PHONE_NUMBER>."


def test_when_turns_time_out_then_tick_emits_without_speakers(make_worker, make_chunk, clock):
    worker = make_worker(turns_timeout_s=30)
    assert [o.scope for o in worker.on_transcript(make_chunk(0, 1, ["Hello there."]))] == ["segment"]
    assert worker.tick() == []
    clock.now += 31
    (rec,) = worker.tick()
    assert rec.scope == "recording" and rec.event["segments"][0]["speaker"] is None


def test_segment_scope_can_be_limited_to_realtime_chunks(make_worker, make_chunk):
    worker = make_worker(diarization=False, segment_scope="realtime")
    outs = worker.on_transcript(make_chunk(0, 1, ["Hello."], priority="batch"))
    assert [o.scope for o in outs] == ["recording"]


def test_per_tenant_policy_hashes_and_drops(make_worker, make_chunk):
    book = PolicyBook(
        tenants={
            "acme": {"name": "acme", "version": "2", "operators": {"PERSON": "hash", "PHONE_NUMBER": "drop"}}
        },
        key=b"k",
    )
    worker = make_worker(diarization=False, recording_scope=False, policies=book)
    (out,) = worker.on_transcript(
        make_chunk(
            0, 1, ["This is Sarah Johnson, my number is two one two, five five five, oh one nine eight."]
        )
    )
    ev = out.event
    assert ev["text"].startswith("This is <PERSON:") and ev["text"].endswith("my number is.")
    assert (ev["policy_name"], ev["policy_version"]) == ("acme", "2")
    drop = next(e for e in ev["entities"] if e["operator"] == "drop")
    assert drop["start_char"] == drop["end_char"]


def test_a_bad_message_fails_alone_in_a_batch(make_worker, make_chunk):
    worker = make_worker(diarization=False)
    broken = make_chunk(0, 1, ["Hello Sarah."], rid="r2")
    del broken["seq"]
    results = worker.handle(
        [
            ("stt.v1.ChunkTranscript", make_chunk(0, 1, ["Hi Tom."])),
            ("stt.v1.ChunkTranscript", broken),
            ("stt.v1.AudioChunk", {}),
        ]
    )
    assert [o.scope for o in results[0]] == ["segment", "recording"]
    assert isinstance(results[1], KeyError) and isinstance(results[2], ValueError)


def test_empty_chunks_still_get_a_segment_scope_output(make_worker, make_chunk):
    worker = make_worker(diarization=False)
    value = make_chunk(0, 1, ["x"])
    value["segments"] = []
    outs = worker.on_transcript(value)
    assert [(o.scope, o.event["text"], o.event["segments"]) for o in outs] == [
        ("segment", "", []),
        ("recording", "", []),
    ]


ASR_CARD = "And my card number is 4 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1."


@pytest.mark.parametrize(
    "said",
    [
        ASR_CARD,
        "And my card number is 4 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -2.",
        "And my card number is 4111-1111-1111-1111.",
        "And my card number is 4,111,111,111,111,111.",
        "and my card number is 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1",
        "And my card number is 4 \u22121 \u22121 \u22121 1111 1111 1111.",
    ],
)
def test_an_asr_rendering_of_a_card_never_reaches_the_segment_scope(make_worker, make_chunk, said):
    worker = make_worker(diarization=False)
    (out,) = worker.on_transcript(make_chunk(0, 2, ["Thanks.", said]))
    text = out.event["text"]
    assert "<CREDIT_CARD>" in text, text
    assert len(digit_stream(text)) < 4, text


@pytest.mark.parametrize("cut", [6, 9, 12, 15])
def test_an_asr_card_cut_by_a_chunk_boundary_leaks_from_neither_chunk(make_worker, make_chunk, cut):
    words = ASR_CARD.split()
    first, second = " ".join(words[:cut]), " ".join(words[cut:])
    worker = make_worker(diarization=False)
    outs = worker.on_transcript(make_chunk(0, 2, ["Hello, thanks for calling.", first]))
    outs += worker.on_transcript(make_chunk(1, 2, [second, "Thank you."], t0=30.0))
    for out in outs:
        if out.event["scope"] == "segment":
            assert len(digit_stream(out.event["text"])) < 4, out.event["text"]


@pytest.mark.parametrize("said", [
    ASR_CARD, "4111-1111-1111-1111", "4,111,111,111,111,111", "4 \u22121 \u22121 \u22121 1111",
    "four double one one, one one one one", "4.1.1.1.1.1",
])  # fmt: skip
def test_the_e2e_leak_check_reads_every_rendering_of_the_card(said):
    assert leaks(f"my card is {said}") == ["CREDIT_CARD"]
    assert leaks("my card is <CREDIT_CARD>") == []


def test_by_default_the_recording_waits_for_turns_only_while_a_diarizer_is_deployed(
    detector, make_chunk, clock
):
    deployed = [False]
    worker = RedactWorker(
        RedactSettings(),
        detector=detector,
        policies=PolicyBook(),
        clock=clock,
        expect_turns=lambda: deployed[0],
    )
    outs = worker.on_transcript(make_chunk(0, 1, ["Hello there."], rid="no-diarizer"))
    assert [o.scope for o in outs] == ["segment", "recording"]  # no 120 s wait for turns that never come
    deployed[0] = True
    assert [o.scope for o in worker.on_transcript(make_chunk(0, 1, ["Hi."], rid="diarized"))] == ["segment"]


def test_a_fixed_setting_overrides_what_is_deployed(detector, make_chunk, clock):
    worker = RedactWorker(
        RedactSettings(diarization_enabled=True),
        detector=detector,
        policies=PolicyBook(),
        clock=clock,
        expect_turns=lambda: False,
    )
    assert [o.scope for o in worker.on_transcript(make_chunk(0, 1, ["Hello there."]))] == ["segment"]

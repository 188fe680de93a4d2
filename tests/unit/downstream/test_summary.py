"""The call-summary example's logic and the outcome helper, without a broker."""

from __future__ import annotations

import math
from typing import Any

import pytest

from examples.call_summary.app import Handler
from examples.call_summary.config import SummarySettings
from examples.call_summary.summary import (
    MODEL,
    Summary,
    Unit,
    checklist_of,
    cost_usd,
    judge,
    summarize,
    units,
)
from mesh import MeshSettings, Message, Publisher, topics
from mesh.trace import TraceContext, new_trace_id
from stt_mesh.checklist import checklist_terms, format_checklist, matches, parse_checklist
from stt_mesh.cli import main as cli
from stt_mesh.outcome import llm_outcome, publish_outcome
from tests.quality_events import metadata, redacted, redacted_call, round_trip

CALL = [
    ("SPEAKER_00", "Hello, this is <PERSON> from the billing team. How can I help you today?"),
    (
        "SPEAKER_01",
        "I was charged twice on my invoice this month. I would like a refund for the "
        "second charge on the invoice.",
    ),
    ("SPEAKER_00", "I can see the duplicate charge on your account. I will issue the refund now."),
    ("SPEAKER_01", "Great, thanks. Bye."),
]


def summary_of(*texts: str, speaker: str | None = "SPEAKER_00") -> Summary:
    return Summary(tuple(Unit(speaker, t) for t in texts))


# -- summarizer ------------------------------------------------------------------------------
def test_summary_keeps_the_most_salient_sentences_in_call_order() -> None:
    # significant (said in two units or more): invoice, refund, charge
    best = summarize(redacted_call("r1", CALL), max_units=1)
    assert best.render() == "SPEAKER_01: I would like a refund for the second charge on the invoice."
    summary = summarize(redacted_call("r1", CALL), max_units=2)  # a tie goes to the earlier unit
    assert [u.text for u in summary.units] == [
        "I was charged twice on my invoice this month.",
        "I would like a refund for the second charge on the invoice.",
    ]


def test_summary_is_deterministic_and_never_longer_than_asked() -> None:
    transcript = redacted_call("r1", CALL)
    assert summarize(transcript, 3) == summarize(transcript, 3)
    assert len(summarize(transcript, 3).units) == 3
    assert len(summarize(transcript, 10).units) == len(units(transcript))


def test_transcript_without_segments_is_summarised_from_its_text() -> None:
    transcript = {
        **redacted("r1", "My refund is late. The weather is nice. Where is my refund?"),
        "segments": [],
    }
    summary = summarize(transcript, max_units=1)
    assert summary.units[0].speaker is None
    assert "refund" in summary.text


def test_long_unpunctuated_turn_is_split_into_units() -> None:
    turn = " ".join(f"word{i}" for i in range(70))
    assert [len(u.text.split()) for u in units(redacted_call("r1", [("SPEAKER_00", turn)]))] == [30, 30, 10]


def test_redaction_masks_are_not_salient_words() -> None:
    transcript = redacted_call(
        "r1",
        [("A", "<PERSON> <PERSON> <PERSON> called."), ("B", "The invoice total on the invoice is wrong.")],
    )
    assert summarize(transcript, max_units=1).units[0].speaker == "B"


# -- judge -----------------------------------------------------------------------------------
def test_when_all_checklist_terms_present_then_summary_is_accepted() -> None:
    verdict = judge(summarize(redacted_call("r1", CALL)), parse_checklist("refund, invoice, account"))
    assert (verdict.score, verdict.accepted, verdict.missing) == (1.0, True, ())


def test_when_checklist_term_missing_then_summary_is_rejected() -> None:
    verdict = judge(summary_of("I would like a refund."), ["refund", "invoice", "account"])
    assert verdict.score == pytest.approx(1 / 3)
    assert not verdict.accepted
    assert verdict.missing == ("invoice", "account")
    assert "missing: invoice, account" in verdict.reason


def test_two_of_three_terms_meet_the_default_threshold_exactly() -> None:
    verdict = judge(summary_of("refund on the invoice"), ["refund", "invoice", "account"])
    assert verdict.accepted
    assert not judge(
        summary_of("refund on the invoice"), ["refund", "invoice", "account"], threshold=0.9
    ).accepted


def test_checklist_terms_match_on_normalized_words() -> None:
    found, missing = matches(
        parse_checklist("Billing team, 42, refund"), "The BILLING-team owes you $42; refunds are late."
    )
    assert found == ["billing team", "forty two"]
    assert missing == ["refund"]  # whole words only: "refunds" is not "refund"


def test_without_checklist_a_summary_needs_a_speaker_and_enough_content_words() -> None:
    long_text = "customer disputes duplicate invoice charge requests refund through account"
    assert judge(summary_of(long_text), []).accepted
    no_speaker = judge(summary_of(long_text, speaker=None), [])
    assert (no_speaker.score, no_speaker.accepted) == (0.5, False)
    assert no_speaker.missing == ("speaker-attributed segment",)
    assert judge(summary_of("refund please"), []).missing == ("8 content words",)


# -- checklists ------------------------------------------------------------------------------
def test_checklist_parsing_normalizes_and_drops_empty_and_repeated_terms() -> None:
    assert parse_checklist(" Refund,, INVOICE , refund,Mr. Smith ") == ["refund", "invoice", "mister smith"]
    assert parse_checklist(None) == parse_checklist("") == []
    assert parse_checklist(format_checklist(["refund", "billing team"])) == ["refund", "billing team"]


def test_checklist_comes_from_the_producer_metadata() -> None:
    assert checklist_of(metadata("r1", 1, extra={"summary_checklist": "refund, invoice"})) == [
        "refund",
        "invoice",
    ]
    assert checklist_of(metadata("r1", 1)) == []
    assert checklist_of(None) == []


def test_checklist_terms_are_the_longest_content_words_ties_alphabetical() -> None:
    reference = "the customer wanted a refund because the invoice showed a duplicate charge"
    assert checklist_terms(reference, 3) == ["duplicate", "customer", "invoice"]
    assert checklist_terms(reference, 5) == ["duplicate", "customer", "invoice", "charge", "refund"]
    assert "because" not in checklist_terms(reference, 10)  # a stopword
    assert checklist_terms(reference, 3) == checklist_terms(reference.upper(), 3)


def test_checklist_terms_skip_numbers_short_words_stopwords_and_excluded_values() -> None:
    reference = "Mr. Dashwood paid $1,250 on the 21st for order 99123 twice, yes really"
    terms = checklist_terms(reference, 10, exclude=["Dashwood"])
    assert terms == ["order", "twice", "paid"]
    assert checklist_terms(reference, 0) == []
    with pytest.raises(ValueError):
        checklist_terms(reference, -1)


def test_checklist_written_from_the_reference_judges_the_summary_of_the_call() -> None:
    terms = checklist_terms(" ".join(text for _, text in CALL), 3)
    assert terms == ["duplicate", "account", "billing"]  # 9 letters, then 7 in alphabetical order
    verdict = judge(summarize(redacted_call("r1", CALL), max_units=3), terms)
    assert (verdict.found, verdict.missing) == (("duplicate", "account"), ("billing",))
    assert verdict.accepted


# -- cost ------------------------------------------------------------------------------------
def test_cost_is_estimated_tokens_times_the_placeholder_price() -> None:
    assert cost_usd("a" * 4000, "b" * 401, 0.5) == pytest.approx((1000 + 101) / 1000 * 0.5)
    assert cost_usd("text", "text", 0.0) == 0.0


# -- outcome ---------------------------------------------------------------------------------
def test_outcome_value_fits_the_llm_outcome_schema() -> None:
    trace = new_trace_id()
    value = llm_outcome(
        trace.upper(),
        task="summary",
        accepted=False,
        score=0.25,
        latency_ms=3,
        cost_usd=0.001,
        model=MODEL,
        recording_id="r1",
        tenant="acme",
    )
    assert round_trip("LlmOutcome", value) == value
    assert value["trace_id"] == trace
    assert value["produced_at_ms"] > 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trace_id": "abc"}, "trace_id"),
        ({"trace_id": "0" * 32}, "trace_id"),
        ({"task": "  "}, "task"),
        ({"accepted": "no"}, "accepted"),
        ({"score": 1.01}, "score"),
        ({"score": -0.1}, "score"),
        ({"score": math.nan}, "score"),
        ({"latency_ms": -1.0}, "latency_ms"),
        ({"cost_usd": -0.01}, "cost_usd"),
        ({"cost_usd": math.inf}, "cost_usd"),
        ({"tenant": ""}, "tenant"),
    ],
)
def test_when_an_outcome_field_is_invalid_then_value_error_names_it(change: dict, message: str) -> None:
    fields: dict[str, Any] = {"trace_id": new_trace_id(), "task": "summary", "accepted": True, **change}
    with pytest.raises(ValueError, match=message):
        llm_outcome(fields.pop("trace_id"), **fields)


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, list]] = []

    def produce(self, topic: str, data: bytes, key: bytes | None, headers: list, on_delivery: Any) -> None:
        self.sent.append((topic, key, headers))

    def poll(self, timeout: float) -> int:
        return 0


def test_publish_outcome_sends_to_the_outcomes_topic_keyed_by_trace_id() -> None:
    producer = FakeProducer()
    trace = new_trace_id()
    value = publish_outcome(
        Publisher(MeshSettings(), "test", producer=producer),
        trace,
        task="summary",
        accepted=True,
        recording_id="r1",
    )
    [(topic, key, headers)] = producer.sent
    assert (topic, key) == (topics.LLM_OUTCOMES, trace.encode())
    assert value["recording_id"] == "r1"
    assert TraceContext.parse(dict(headers)["traceparent"].decode()).trace_id == trace


def test_when_cli_outcome_trace_id_is_bad_then_it_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["outcome", "not-a-trace", "--task", "summary", "--accepted", "yes"]) == 2
    assert "trace_id must be 32 hex digits" in capsys.readouterr().err


# -- the app's join, without Kafka -----------------------------------------------------------
class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def message(value: dict[str, Any], schema: str, topic: str) -> Message:
    trace = TraceContext.new(value["trace_id"])
    return Message(topic, 0, 0, value["recording_id"].encode(), f"stt.v1.{schema}", value, [], trace, 0)


def meta_msg(rid: str, trace: str, checklist: str | None = "refund, invoice, account") -> Message:
    extra = {"summary_checklist": checklist} if checklist is not None else {}
    return message(metadata(rid, 1, trace_id=trace, extra=extra), "RecordingMetadata", topics.RECORDINGS)


def transcript_msg(rid: str, trace: str, turns=CALL, scope: str = "recording") -> Message:
    return message(
        redacted_call(rid, turns, trace_id=trace, scope=scope), "RedactedTranscript", topics.REDACTED
    )


def join(**settings: Any) -> tuple[Handler, Clock, list[str]]:
    clock, released = Clock(), []
    handler = Handler(SummarySettings(**settings), clock=clock)
    handler.release = released.append
    return handler, clock, released


def test_when_metadata_comes_first_then_the_transcript_completes_and_releases_the_call() -> None:
    handler, _, _ = join()
    trace = new_trace_id()
    meta, transcript = meta_msg("r1", trace), transcript_msg("r1", trace)
    assert handler(meta) == [] and meta.held
    [out] = handler(transcript)
    assert transcript.releases_key and not transcript.held
    assert (out.topic, out.key_bytes()) == (topics.LLM_OUTCOMES, trace.encode())
    value = round_trip("LlmOutcome", out.value)
    assert (value["task"], value["accepted"], value["score"], value["model"]) == ("summary", True, 1.0, MODEL)
    assert (value["recording_id"], value["tenant"]) == ("r1", "acme")
    assert value["latency_ms"] > 0 and value["cost_usd"] > 0


def test_when_the_transcript_comes_first_then_the_metadata_completes_the_call() -> None:
    handler, _, _ = join()
    trace = new_trace_id()
    transcript = transcript_msg("r1", trace, [("SPEAKER_00", "I need a refund.")])
    assert handler(transcript) == [] and transcript.held
    meta = meta_msg("r1", trace)
    [out] = handler(meta)
    assert meta.releases_key
    assert (out.value["accepted"], out.value["score"]) == (False, pytest.approx(1 / 3))


def test_when_metadata_never_comes_then_the_transcript_is_judged_without_a_checklist() -> None:
    handler, clock, released = join(metadata_wait_s=10)
    handler(transcript_msg("r1", new_trace_id()))
    clock.now = 9.0
    assert handler.tick() == []
    clock.now = 10.0
    [out] = handler.tick()
    assert released == ["r1"]
    assert (out.value["accepted"], out.value["score"]) == (True, 1.0)  # the generic slots


def test_segment_transcripts_and_failures_hold_nothing() -> None:
    handler, _, _ = join()
    segment = transcript_msg("r1", new_trace_id(), scope="segment")
    assert handler(segment) == [] and not segment.held
    meta = meta_msg("r2", new_trace_id())
    handler(meta)
    failed = message({"recording_id": "r2", "trace_id": new_trace_id()}, "RecordingFailed", topics.RECORDINGS)
    assert handler(failed) == [] and failed.releases_key
    assert handler.metadata == {}


def test_a_redelivered_transcript_is_judged_again_with_the_same_checklist() -> None:
    handler, _, _ = join()
    trace = new_trace_id()
    handler(meta_msg("r1", trace, checklist="refund, weather"))
    [first] = handler(transcript_msg("r1", trace))
    again = transcript_msg("r1", trace)
    [second] = handler(again)
    assert not again.held
    assert first.value["score"] == second.value["score"] == 0.5
    replayed_meta = meta_msg("r1", trace)
    assert handler(replayed_meta) == [] and not replayed_meta.held

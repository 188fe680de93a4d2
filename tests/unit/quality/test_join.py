"""The per-recording join and the QualityReports built from it, on schema-valid events."""

from __future__ import annotations

import copy
import itertools
import json

import pytest

from mesh.serde import AvroSerde
from mesh.trace import new_trace_id
from services.quality import join
from services.quality.config import QualitySettings
from services.quality.cost import cost_usd
from services.quality.proxy import WerProxy
from tests.quality_events import chunk, metadata, redacted, segment, turns

SERDE = AvroSerde()
BASELINE = WerProxy.baseline()
SETTINGS = QualitySettings()
REFERENCE = "hello this is anna from the billing team how can i help you today"


def recording(
    rid: str = "rec-1",
    *,
    reference: str | None = REFERENCE,
    pii_values=None,
    language=None,
    extra=None,
    second_text: str = "how can i help you today",
    probs: float = 0.9,
    redacted_text: str = "hello this is <PERSON> from the billing team how can i help you today",
    entity_counts=None,
    turns_partial: bool = False,
    redaction_partial: bool = False,
    tenant: str = "acme",
) -> list[tuple[str, dict]]:
    """(schema, value) of a complete two-chunk recording, in the order the services emit them."""
    trace = new_trace_id()
    first = chunk(
        rid,
        0,
        2,
        [segment("Hello, this is Anna from the billing team.", 0.5, probs)],
        trace_id=trace,
        tenant=tenant,
        speech_s=4.0,
        coverage=0.95,
        processing_ms=700.0,
    )
    second = chunk(
        rid,
        1,
        2,
        [segment(second_text, 10.5, probs)] if second_text else [],
        trace_id=trace,
        tenant=tenant,
        speech_s=3.0 if second_text else 0.0,
        coverage=0.97 if second_text else None,
        processing_ms=300.0,
    )
    return [
        (
            "RecordingMetadata",
            metadata(
                rid,
                2,
                trace_id=trace,
                tenant=tenant,
                reference=reference,
                pii_values=pii_values,
                language=language,
                extra=extra,
            ),
        ),
        ("ChunkTranscript", first),
        ("ChunkTranscript", second),
        (
            "SpeakerTurns",
            turns(
                rid,
                [("SPEAKER_00", 0.0, 6.0), ("SPEAKER_01", 5.0, 10.0)],
                trace_id=trace,
                tenant=tenant,
                partial=turns_partial,
            ),
        ),
        (
            "RedactedTranscript",
            redacted(
                rid,
                redacted_text,
                entity_counts or {"PERSON": 1},
                trace_id=trace,
                tenant=tenant,
                partial=redaction_partial,
            ),
        ),
    ]


def fold(events, state=None, *, partition: int = 0):
    """What the join agent does: a state per recording, each event absorbed in turn."""
    for schema, value in events:
        if state is None:
            state = join.new_state(
                value["recording_id"],
                value.get("trace_id", ""),
                value.get("tenant", "default"),
                partition,
                join.now_ms(),
            )
        state = join.absorb(state, schema, value)
    return state


def through_changelog(state):
    """The state as a restarted worker reads it back from the table's changelog (JSON)."""
    return json.loads(json.dumps(state))


def report_of(events, settings=SETTINGS, proxy=BASELINE, partial=False):
    state = fold(events)
    return join.recording_report(through_changelog(state), proxy, settings, partial)


def encodes(report) -> dict:
    data, headers = SERDE.encode("QualityReport", report)
    name, decoded = SERDE.decode(data, headers)
    assert name == "stt.v1.QualityReport"
    return decoded


# -- absorb ---------------------------------------------------------------------------------
def test_absorb_is_idempotent() -> None:
    events = recording(pii_values=["Anna"])
    for i in range(len(events)):
        once = fold(events[: i + 1])
        again = fold([events[i]], copy.deepcopy(once))
        assert again == once, f"absorbing {events[i][0]} twice changed the state"
    # redelivering everything again (a replay after a crash) changes nothing
    state = fold(events)
    assert fold(events, copy.deepcopy(state)) == state


def test_state_is_json_and_survives_the_changelog() -> None:
    state = fold(recording())
    assert through_changelog(state) == state


# -- complete -------------------------------------------------------------------------------
def test_complete_only_with_metadata_all_chunks_turns_and_the_recording_redaction() -> None:
    events = recording()
    for order in itertools.permutations(events):
        state = None
        for i, event in enumerate(order):
            state = fold([event], state)
            assert join.complete(state, SETTINGS) == (i == len(order) - 1), [e[0] for e in order[: i + 1]]


def test_a_redelivered_chunk_does_not_stand_in_for_a_missing_one() -> None:
    meta, first, _, spk, red = recording()
    state = fold([meta, first, first, spk, red])
    assert not join.complete(state, SETTINGS)


def test_segment_scope_redactions_do_not_complete_a_recording() -> None:
    meta, first, second, spk, _ = recording()
    segment_scope = ("RedactedTranscript", redacted("rec-1", "hello", scope="segment", seq=0))
    state = fold([meta, first, second, spk, segment_scope])
    assert state["redaction"] is None
    assert not join.complete(state, SETTINGS)


def test_expect_turns_and_expect_redaction() -> None:
    meta, first, second, spk, red = recording()
    no_turns = QualitySettings(expect_turns=False)
    no_redaction = QualitySettings(expect_redaction=False)
    neither = QualitySettings(expect_turns=False, expect_redaction=False)
    assert join.complete(fold([meta, first, second]), neither)
    assert not join.complete(fold([meta, first, second]), no_turns)
    assert join.complete(fold([meta, first, second, red]), no_turns)
    assert not join.complete(fold([meta, first, second, red]), no_redaction)
    assert join.complete(fold([meta, first, second, spk]), no_redaction)
    assert not join.complete(fold([first, second, spk, red]), neither)  # no metadata


def test_split_channel_recordings_need_the_chunks_of_both_channels() -> None:
    rid, trace = "stereo-1", new_trace_id()
    meta = ("RecordingMetadata", metadata(rid, 4, trace_id=trace, channels=2, split_channels=True))
    # ingest numbers the chunks of both channels 0..n-1 in time order, the channel breaking ties
    chunks = [
        (
            "ChunkTranscript",
            chunk(
                rid,
                seq,
                4,
                [segment("yes", 0.0)],
                trace_id=trace,
                start_s=10.0 * (seq // 2),
                channel=seq % 2,
                channel_role=("agent", "customer")[seq % 2],
                speech_s=1.0,
                coverage=1.0,
            ),
        )
        for seq in range(4)
    ]
    rest = [
        ("SpeakerTurns", turns(rid, [("agent", 0.0, 9.0), ("customer", 10.0, 19.0)], trace_id=trace)),
        ("RedactedTranscript", redacted(rid, "yes yes yes yes", {}, trace_id=trace)),
    ]
    state = fold([meta, *chunks[:3], *rest])
    assert not join.complete(state, SETTINGS)
    assert sorted(state["chunks"]) == ["0:0", "0:2", "1:1"]
    state = fold([chunks[3]], state)
    assert join.complete(state, SETTINGS)
    report = join.recording_report(state, BASELINE, SETTINGS, partial=False)
    assert report["features"]["chunks"] == 4 and report["word_count"] == 4
    assert report["slice"]["channels"] == "stereo"
    encodes(report)


def test_a_failed_recording_is_complete() -> None:
    failed = {
        "recording_id": "rec-f",
        "trace_id": new_trace_id(),
        "tenant": "acme",
        "source": "cli",
        "reason": "cannot decode: not audio",
        "error_type": "DecodeError",
        "filename": "x.bin",
        "size_bytes": 10,
        "sha256": None,
        "failed_at_ms": join.now_ms(),
    }
    data, headers = SERDE.encode("RecordingFailed", failed)
    _, value = SERDE.decode(data, headers)
    state = fold([("RecordingFailed", value)])
    assert state["failed"] == "cannot decode: not audio"
    assert join.complete(state, SETTINGS)


def test_timed_out() -> None:
    settings = QualitySettings(join_timeout_s=2.0, batch_join_timeout_s=20.0, join_expire_s=100.0)
    state = join.new_state("rec", "", "acme", 0, at_ms=10_000)
    state["priority"] = "realtime"
    assert not join.timed_out(state, settings, 11_999)
    assert join.timed_out(state, settings, 12_000)
    assert join.timed_out(state, settings, 60_000)
    state["last_ms"] = 50_000  # a later event restarts the wait
    assert not join.timed_out(state, settings, 51_000)


def test_batch_recordings_wait_longer_and_a_partial_join_stays_open_until_it_expires() -> None:
    settings = QualitySettings(join_timeout_s=2.0, batch_join_timeout_s=20.0, join_expire_s=100.0)
    state = join.new_state("rec", "", "acme", 0, at_ms=10_000)
    state["priority"] = "batch"
    assert not join.timed_out(state, settings, 29_999) and join.timed_out(state, settings, 30_000)
    state["partial_ms"] = 30_000  # reported partial: no second partial report
    assert not join.timed_out(state, settings, 90_000)
    assert not join.expired(state, settings, 109_999) and join.expired(state, settings, 110_000)


# -- raw text -------------------------------------------------------------------------------
def test_text_is_dropped_when_metadata_without_a_reference_arrives() -> None:
    meta, first, second, _, _ = recording(reference=None)
    early = fold([first])  # metadata not there yet: the text may be needed
    assert early["chunks"]["0:0"]["text"] == "hello this is anna from the billing team"
    state = fold([meta], early)
    assert all(c["text"] is None for c in state["chunks"].values())
    state = fold([second], state)  # and a chunk after the metadata never keeps it
    assert all(c["text"] is None for c in state["chunks"].values())
    assert "anna" not in json.dumps(state).lower()


def test_text_is_kept_when_the_metadata_has_a_reference() -> None:
    meta, first, second, _, _ = recording()
    state = fold([first, meta, second])
    assert state["chunks"]["0:0"]["text"] == "hello this is anna from the billing team"
    assert state["chunks"]["0:1"]["text"] == "how can i help you today"


def test_a_probe_keeps_its_text_to_count_hallucinations() -> None:
    # a silence probe has an empty reference: what the recognizer says there is hallucinated
    meta, first, second, _, _ = recording(reference="")
    state = fold([meta, first, second])
    assert state["chunks"]["0:0"]["text"] is not None


# -- recording report -----------------------------------------------------------------------
def test_recording_report_of_a_complete_recording() -> None:
    events = recording(extra={"region": "eu-west", "client_version": "4.2"})
    settings = QualitySettings(slice_metadata_keys=["region", "client_version", "absent"])
    report = report_of(events, settings)
    meta = events[0][1]
    assert report["scope"] == "recording" and report["seq"] is None
    assert report["recording_id"] == "rec-1" and report["tenant"] == "acme"
    assert report["trace_id"] == meta["trace_id"]
    assert report["word_count"] == 14 and report["features"]["chunks"] == 2
    assert report["true_wer"] == 0.0 and report["features"]["reference_words"] == 14
    assert report["speaker_count"] == 2
    assert report["features"]["overlap_share"] == pytest.approx(1 / 10)  # 5-6 s of 0-10 s
    assert report["pii_counts"] == {"PERSON": 1}
    assert report["redaction_policy"] == "default@3"
    assert report["privacy_errors"] == 0 and report["hallucinated_words"] == 0
    assert report["verdict"] == "accepted" and report["reasons"] == [] and not report["partial"]
    assert report["language"] == "en" and report["language_mix"] == {"en": 1.0}
    assert report["model"]["name"] == "tiny.en" and report["model"]["version"] == "ct2-int8-1"
    assert report["models"] == ["tiny.en@ct2-int8-1", "diarization:pyannote-segmentation-3.0+campplus"]
    assert report["proxy_version"] == "baseline"
    assert report["wer_proxy"] == pytest.approx(0.1)  # 1 - mean word probability
    assert report["speech_coverage"] == pytest.approx((4 * 0.95 + 3 * 0.97) / 7)
    assert report["audio_duration_s"] == 20.0
    assert report["features"]["latency_s"] >= 5.0  # submitted 5 s before the fixture was built
    # processing: both chunks' ASR plus the diarization
    assert report["processing_s"] == pytest.approx(0.7 + 0.3 + 1.2)
    assert report["cost_usd"] == pytest.approx(cost_usd(2.2, "cpu", settings.cost))
    assert report["slice"] == {
        "model": "tiny.en@ct2-int8-1",
        "arm": "control",
        "language": "en",
        "tenant": "acme",
        "codec": "pcm_s16le",
        "channels": "mono",
        "snr_band": "20-30dB",
        "duration_band": "<30s",
        "priority": "batch",
        "region": "eu-west",
        "client_version": "4.2",
        "absent": "unknown",
    }
    assert report["golden_run"] is None
    decoded = encodes(report)
    assert decoded["true_wer"] == 0.0 and decoded["slice"]["region"] == "eu-west"


def test_true_wer_against_the_metadata_reference() -> None:
    report = report_of(recording(second_text="how can i help"))  # "you today" never said
    assert report["true_wer"] == pytest.approx(2 / 14)
    assert report["hallucinated_words"] == 0


def test_true_wer_is_none_without_a_reference() -> None:
    report = report_of(recording(reference=None))
    assert report["true_wer"] is None and "reference_words" not in report["features"]
    encodes(report)


def test_a_probe_reports_hallucinated_words() -> None:
    meta, first, second, spk, red = recording(reference="", second_text="")
    report = report_of([meta, first, second, spk, red])
    assert report["true_wer"] is None
    assert report["hallucinated_words"] == 8  # "hello this is anna from the billing team"
    encodes(report)


def test_privacy_errors_from_declared_values_and_long_numbers() -> None:
    leaked = "hello this is anna from the billing team my number is 555 123 4567"
    report = report_of(recording(pii_values=["Anna", "4711"], redacted_text=leaked))
    assert report["privacy_errors"] == 2  # the name and the phone number's 10 digits
    assert "privacy" in report["reasons"] and report["verdict"] == "needs_review"
    clean = report_of(
        recording(
            pii_values=["Anna", "4711"], redacted_text="hello this is <PERSON> my number is <PHONE_NUMBER>"
        )
    )
    assert clean["privacy_errors"] == 0 and "privacy" not in clean["reasons"]


def test_declared_values_count_when_the_redaction_arrives_before_the_metadata() -> None:
    # four topics are read in parallel: after a backlog the redaction can come first
    meta, first, second, spk, red = recording(
        pii_values=["Anna"], redacted_text="hello this is anna from the billing team"
    )
    state = fold([red, first, second, spk, meta])
    report = join.recording_report(through_changelog(state), BASELINE, SETTINGS, partial=False)
    assert report["privacy_errors"] == 1


@pytest.mark.parametrize(
    ("kw", "partial_arg"),
    [
        ({}, True),  # the join timed out
        ({"turns_partial": True}, False),  # diarize closed the recording by timeout
        ({"redaction_partial": True}, False),
    ],
)
def test_partial_flag_and_reason(kw, partial_arg) -> None:
    report = report_of(recording(**kw), partial=partial_arg)
    assert report["partial"] is True
    assert report["reasons"] == ["partial"] and report["verdict"] == "needs_review"


def test_a_timed_out_recording_without_turns_reports_what_it_has() -> None:
    meta, first, second, _, red = recording()
    report = report_of([meta, first, second, red], partial=True)
    assert report["partial"] and report["speaker_count"] is None
    assert "speaker_count" not in report["features"]
    assert report["models"] == ["tiny.en@ct2-int8-1"]
    encodes(report)


def test_a_timed_out_recording_without_metadata_still_encodes() -> None:
    _, first, _, _, _ = recording()
    report = report_of([first], partial=True)
    assert report["partial"] and report["true_wer"] is None
    assert report["slice"]["codec"] == "unknown" and report["slice"]["channels"] == "unknown"
    assert report["audio_duration_s"] == 20.0  # the chunk's recording_duration_s
    encodes(report)


def test_low_coverage_reason() -> None:
    meta, _, second, spk, red = recording()
    thin = (
        "ChunkTranscript",
        chunk(
            "rec-1",
            0,
            2,
            [segment("hello this is anna", 0.5)],
            trace_id=meta[1]["trace_id"],
            tenant="acme",
            speech_s=6.0,
            coverage=0.55,
            low_coverage=True,
        ),
    )
    report = report_of([meta, thin, second, spk, red])
    assert report["reasons"] == ["low_coverage"]
    assert report["features"]["low_coverage_chunks"] == 1


def test_repetition_reason() -> None:
    report = report_of(recording(second_text="i can help i can help i can help"))
    assert "repetition" in report["reasons"]
    assert report["features"]["repetition_run"] == 3


def test_low_confidence_reason() -> None:
    report = report_of(recording(probs=0.5), proxy=WerProxy.baseline())
    assert "low_confidence" in report["reasons"]


def test_language_mismatch_against_the_hint() -> None:
    assert "language_mismatch" in report_of(recording(language="de"))["reasons"]
    assert report_of(recording(language="en"))["reasons"] == []
    assert report_of(recording(language=None))["reasons"] == []


def test_high_proxy_reason_alone() -> None:
    # mean word probability 0.65: confident enough, but the baseline proxy (1 - p) is 0.35
    report = report_of(recording(probs=0.65))
    assert report["reasons"] == ["high_proxy"]
    assert report["wer_proxy"] == pytest.approx(0.35)


def test_golden_run_and_slice_from_the_producer_metadata() -> None:
    report = report_of(recording(extra={"golden_run": "run-7", "golden_slice": "telephone"}))
    assert report["golden_run"] == "run-7" and report["slice"]["slice"] == "telephone"
    encodes(report)


# -- chunk report ---------------------------------------------------------------------------
def test_chunk_report_encodes() -> None:
    first = recording()[1]
    report = join.chunk_report(first[1], BASELINE, SETTINGS)
    assert report["scope"] == "chunk" and report["seq"] == 0
    assert report["word_count"] == 8 and report["verdict"] == "accepted"
    assert report["wer_proxy"] == pytest.approx(0.1)
    assert report["language_mix"] == {"en": 1.0}
    assert report["cost_usd"] == pytest.approx(cost_usd(0.7, "cpu"))
    assert report["slice"]["tenant"] == "acme" and report["slice"]["codec"] == "unknown"
    decoded = encodes(report)
    assert decoded["features"]["words"] == 8.0


def test_chunk_report_of_a_silent_chunk() -> None:
    silent = chunk("rec-s", 0, 1, [], speech_s=0.0)
    report = join.chunk_report(silent, BASELINE, SETTINGS)
    assert report["word_count"] == 0 and report["wer_proxy"] == 0.0 and report["verdict"] == "accepted"
    assert report["speech_coverage"] is None and report["language_mix"] == {}
    encodes(report)


# -- the reports feed the metrics -----------------------------------------------------------
def test_reports_feed_the_observer() -> None:
    from mesh.metrics import PrometheusSensor
    from services.quality.observe import Observer

    sensor = PrometheusSensor("quality")
    observer = Observer(sensor, SETTINGS)
    events = recording(pii_values=["Anna"], redacted_text="hello this is anna")
    for schema, value in events:
        if schema == "ChunkTranscript":
            observer.on_chunk(join.chunk_report(value, BASELINE, SETTINGS), value)
    report = report_of(events)
    observer.on_recording(report)
    observer.publish_slo(join.now_ms() / 1000.0)
    metric = sensor.registry.get_sample_value
    labels = {"service": "quality", "model": "tiny.en@ct2-int8-1", "arm": "control"}
    assert metric("stt_quality_chunks_total", {**labels, "verdict": "accepted"}) == 2
    assert metric("stt_quality_reports_total", {**labels, "verdict": "needs_review"}) == 1
    assert metric("stt_quality_review_reasons_total", {**labels, "reason": "privacy"}) == 1
    assert metric("stt_quality_privacy_errors_total", labels) == 1
    assert metric("stt_quality_speech_seconds_total", labels) == pytest.approx(7.0)
    assert metric("stt_quality_true_wer_count", labels) == 1
    cost = metric("stt_quality_cost_usd_total", {**labels, "tenant": "acme"})
    assert cost == pytest.approx(report["cost_usd"])


def test_a_completely_reported_recording_leaves_a_marker_that_expires() -> None:
    settings = QualitySettings(join_timeout_s=2.0, join_expire_s=100.0)
    state = join.new_state("rec", "t", "acme", 1, at_ms=10_000)
    marker = join.done_marker(state, at_ms=20_000)
    assert marker["done_ms"] == 20_000 and "chunks" not in marker  # nothing of the content
    assert not join.timed_out(marker, settings, 10**9)  # never a partial report after the complete one
    assert not join.expired(marker, settings, 119_999) and join.expired(marker, settings, 120_000)

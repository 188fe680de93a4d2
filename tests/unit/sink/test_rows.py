"""Event -> row: each routed schema lands in its table with exactly the table's columns (inserted
into the real embedded store and read back), and what the privacy rules keep out stays out."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from services.sink.config import SinkSettings
from services.sink.rows import ROUTES, to_row
from services.sink.store import Store
from tests import sink_events as ev
from tests.quality_events import TINY, now_ms, redacted, round_trip

SOURCE = ("stt.test.v1", 3, 41, 1_700_000_000_123)


def batch_job(job_id: str) -> tuple[str, dict[str, Any]]:
    model = {
        "name": TINY.name,
        "version": TINY.version,
        "sha256": TINY.sha256,
        "compute_type": TINY.compute_type,
        "device": TINY.device,
    }
    return (
        "BatchJob",
        round_trip(
            "BatchJob",
            {
                "job_id": job_id,
                "tenant": "acme",
                "priority": "batch",
                "manifest": "calls.csv",
                "manifest_sha256": "12" * 32,
                "manifest_rows": 10,
                "cursor": 4,
                "published": 5,
                "state": "running",
                "resumes": 1,
                "models": [model],
                "model_roles": {"asr": "tiny.en"},
                "decode_settings": {"beam_size": "1"},
                "redaction_policy": "default@3",
                "output_schema": {"quality": "stt.v1.QualityReport"},
                "created_at_ms": now_ms() - 1000,
                "updated_at_ms": now_ms(),
            },
        ),
    )


def every_event(rid: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """One event per routed schema (the call-scope report for QualityReport)."""
    trace, events = ev.call(rid)
    by_schema = dict(events)  # the later QualityReport, the call's, wins
    return {
        **by_schema,
        "LlmOutcome": ev.outcome(trace, rid)[1],
        "RecordingFailed": ev.failure(rid)[1],
        "DeadLetter": ev.dead_letter(rid)[1],
        "GateDecision": ev.gate(f"gate-{rid}")[1],
        "BatchJob": batch_job(f"job-{rid}")[1],
    }


def table_columns(store: Store, table: str) -> dict[str, str]:
    _, rows = store.query(
        "SELECT name, default_kind FROM system.columns WHERE database = {db:String} "
        "AND table = {t:String} ORDER BY position",
        {"db": store.database, "t": table},
    )
    return {name: kind for name, kind in rows}


def plain(value: Any) -> Any:
    """A value as it compares after the round trip through ClickHouse."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=value.tzinfo or UTC).timestamp()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):  # a named Tuple inside an Array comes back as a dict
        return [plain(list(v.values()) if isinstance(v, dict) else v) for v in value]
    if isinstance(value, float):
        return round(value, 9)
    return value


EXPECTED_TABLES = {
    "RecordingMetadata": "recordings",
    "RecordingFailed": "recording_failures",
    "RedactedTranscript": "transcripts",
    "SpeakerTurns": "speaker_turns",
    "QualityReport": "quality",
    "GateDecision": "gate_decisions",
    "LlmOutcome": "llm_outcomes",
    "DeadLetter": "dead_letters",
    "BatchJob": "batch_jobs",
}


def test_every_routed_schema_has_its_table_named_here() -> None:
    assert {name: r.table for name, r in ROUTES.items()} == EXPECTED_TABLES


@pytest.mark.parametrize("schema", sorted(EXPECTED_TABLES))
def test_each_event_becomes_a_row_with_its_tables_columns_and_reads_back_unchanged(
    schema: str, store: Store, rid: str
) -> None:
    value = every_event(rid)[schema]
    topic = f"stt.test-{rid}.v1"
    table, row = to_row(schema, value, (topic, 2, 17, 1_700_000_000_123), SinkSettings())
    assert table == EXPECTED_TABLES[schema]
    columns = table_columns(store, table)
    assert set(row) == {c for c, kind in columns.items() if kind != "DEFAULT"}
    assert columns["inserted_at"] == "DEFAULT"

    names = list(row)
    store.insert(table, [[row[c] for c in names]], names)
    back = store.dicts(
        f"SELECT * EXCEPT inserted_at FROM {store.database}.{table} WHERE _topic = {{t:String}}", {"t": topic}
    )
    assert len(back) == 1
    assert plain(back[0]) == plain(row)
    assert (back[0]["_partition"], back[0]["_offset"]) == (2, 17)


def test_a_source_becomes_the_rows_topic_partition_offset_and_kafka_time(rid: str) -> None:
    _, row = to_row("LlmOutcome", ev.outcome("t" * 32, rid)[1], SOURCE, SinkSettings())
    assert (row["_topic"], row["_partition"], row["_offset"]) == ("stt.test.v1", 3, 41)
    assert row["kafka_ts"] == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    assert math.isclose(row["version"], row["produced_at"].timestamp() * 1000)


def test_an_event_the_sink_does_not_keep_makes_no_row() -> None:
    assert to_row("ChunkTranscript", {"recording_id": "x"}, SOURCE, SinkSettings()) is None
    assert to_row("AudioChunk", {}, SOURCE, SinkSettings()) is None


# -- privacy ---------------------------------------------------------------------------------


def test_redacted_text_is_empty_unless_store_redacted_text(rid: str) -> None:
    value = redacted(rid, "Hello <PERSON>, this is the billing team.", {"PERSON": 1})
    _, off = to_row("RedactedTranscript", value, SOURCE, SinkSettings())
    _, on = to_row("RedactedTranscript", value, SOURCE, SinkSettings(store_redacted_text=True))
    assert off["text"] == ""
    assert all(seg[4] == "" for seg in off["segments"])
    assert off["segments"] and off["speakers"] == ["SPEAKER_00"]
    assert on["text"] == "Hello <PERSON>, this is the billing team."
    assert [seg[4] for seg in on["segments"]] == ["Hello <PERSON>, this is the billing team."]


def test_text_left_out_is_not_in_the_store_either(store: Store, put: Any, rid: str) -> None:
    value = redacted(rid, "call me at <PHONE_NUMBER>", {"PHONE_NUMBER": 1})
    put("RedactedTranscript", value)
    rows = store.dicts(
        f"SELECT text, segments FROM {store.database}.transcripts WHERE recording_id = {{r:String}}",
        {"r": rid},
    )
    assert len(rows) == 1
    assert rows[0]["text"] == ""
    assert "PHONE_NUMBER" not in repr(rows[0]["segments"])


def test_only_allow_listed_producer_metadata_lands_and_the_reference_never(
    store: Store, put: Any, rid: str
) -> None:
    extra = {"campaign": "spring", "region": "eu", "customer_email": "jane@example.com"}
    _, events = ev.call(rid, reference="my secret reference text", extra=extra)
    meta = dict(events)["RecordingMetadata"]
    assert meta["metadata"]["reference"] == "my secret reference text"  # it is in the event
    _, row = to_row("RecordingMetadata", meta, SOURCE, SinkSettings())
    assert row["metadata"] == {"campaign": "spring", "region": "eu"}

    _, narrower = to_row("RecordingMetadata", meta, SOURCE, SinkSettings(metadata_keys=["region"]))
    assert narrower["metadata"] == {"region": "eu"}

    put("RecordingMetadata", meta)
    stored = store.dicts(
        f"SELECT * FROM {store.database}.recordings WHERE recording_id = {{r:String}}", {"r": rid}
    )
    assert stored[0]["metadata"] == {"campaign": "spring", "region": "eu"}
    assert "secret reference" not in repr(stored[0])
    assert "jane@example.com" not in repr(stored[0])


def test_the_reference_key_never_lands_with_the_default_allow_list() -> None:
    assert "reference" not in SinkSettings().metadata_keys
    assert "pii_values" not in SinkSettings().metadata_keys


def test_the_reference_never_lands_even_when_an_allow_list_names_it(rid: str) -> None:
    _, events = ev.call(rid, reference="my secret reference text")
    meta = dict(events)["RecordingMetadata"]
    _, row = to_row("RecordingMetadata", meta, SOURCE, SinkSettings(metadata_keys=["reference", "region"]))
    assert "reference" not in row["metadata"]


def test_a_failure_keeps_only_allow_listed_metadata(rid: str) -> None:
    value = dict(ev.failure(rid)[1])
    value["metadata"] = {"reference": "secret words", "batch_job": "job-9", "region": "us"}
    _, row = to_row("RecordingFailed", value, SOURCE, SinkSettings())
    assert row["metadata"] == {"batch_job": "job-9", "region": "us"}
    assert row["job_id"] == "job-9"


def test_a_dead_letter_row_keeps_no_payload_bytes_and_no_header_values(
    store: Store, put: Any, rid: str
) -> None:
    _, value = ev.dead_letter(rid)
    assert value["payload"] == b"\x00SECRET-PAYLOAD"
    table, row = put("DeadLetter", value, topic="stt.recordings.raw.v1.dlq")
    assert table == "dead_letters"
    assert row["payload_bytes"] == len(b"\x00SECRET-PAYLOAD")
    assert row["header_keys"] == ["traceparent"]
    assert row["recording_id"] == rid and row["dlq_topic"] == "stt.recordings.raw.v1.dlq"
    assert all(not isinstance(v, bytes) for v in row.values())
    stored = store.dicts(
        f"SELECT * FROM {store.database}.dead_letters WHERE recording_id = {{r:String}}", {"r": rid}
    )
    assert len(stored) == 1
    assert "SECRET" not in repr(stored[0]) and "00-secret" not in repr(stored[0])


def test_a_dead_letter_whose_key_is_not_text_keeps_no_recording_id() -> None:
    value = dict(ev.dead_letter("x")[1])
    value["source_key"] = b"\xff\xfe"
    _, row = to_row("DeadLetter", value, SOURCE, SinkSettings())
    assert row["recording_id"] == ""


def test_segment_scope_transcripts_are_skipped_unless_store_segment_scope(rid: str) -> None:
    segment = redacted(rid, "hello", scope="segment", seq=2)
    assert to_row("RedactedTranscript", segment, SOURCE, SinkSettings()) is None
    table, row = to_row("RedactedTranscript", segment, SOURCE, SinkSettings(store_segment_scope=True))
    assert (table, row["scope"], row["seq"]) == ("transcripts", "segment", 2)
    call = redacted(rid, "hello", scope="recording")
    _, row = to_row("RedactedTranscript", call, SOURCE, SinkSettings())
    assert (row["scope"], row["seq"]) == ("recording", -1)


def test_a_numeric_batch_row_becomes_the_job_row_and_anything_else_none(rid: str) -> None:
    _, events = ev.call(rid, extra={"batch_job": "job-1", "batch_row": "42"})
    _, row = to_row("RecordingMetadata", dict(events)["RecordingMetadata"], SOURCE, SinkSettings())
    assert (row["job_id"], row["job_row"]) == ("job-1", 42)
    _, events = ev.call(rid, extra={"batch_row": "row-7"})
    _, row = to_row("RecordingMetadata", dict(events)["RecordingMetadata"], SOURCE, SinkSettings())
    assert row["job_row"] is None


def test_a_batch_row_beyond_uint32_makes_a_row_the_store_accepts(store: Store, put: Any, rid: str) -> None:
    _, events = ev.call(rid, extra={"batch_row": "99999999999"})
    put("RecordingMetadata", dict(events)["RecordingMetadata"])  # raises StoreError today
    _, rows = store.query("SELECT count() FROM stt.recordings WHERE recording_id = {r:String}", {"r": rid})
    assert rows == [(1,)]


def test_a_chunk_report_keeps_its_seq_and_a_call_report_seq_minus_one(rid: str) -> None:
    _, events = ev.call(rid)
    reports = [v for schema, v in events if schema == "QualityReport"]
    rows = [to_row("QualityReport", v, SOURCE, SinkSettings())[1] for v in reports]
    assert [(r["scope"], r["seq"]) for r in rows] == [("chunk", 0), ("recording", -1)]
    assert rows[1]["model"] == "tiny.en@ct2-int8-1"
    assert rows[1]["verdict"] in ("accepted", "needs_review")

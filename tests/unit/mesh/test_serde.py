from __future__ import annotations

import pytest

from mesh.errors import SerializationError
from mesh.serde import SCHEMA_HEADER, AvroSerde


def failed(**over) -> dict:
    value = {
        "recording_id": "r1",
        "trace_id": "ab" * 16,
        "tenant": "acme",
        "source": "http",
        "reason": "zero bytes",
        "error_type": "empty",
        "failed_at_ms": 1,
    }
    return {**value, **over}


def test_encode_names_the_writer_schema_by_fingerprint_in_a_header():
    data, headers = AvroSerde().encode("RecordingFailed", failed())
    assert headers[0][0] == SCHEMA_HEADER and len(headers[0][1]) == 16
    name, value = AvroSerde().decode(data, headers)
    assert name == "stt.v1.RecordingFailed"
    assert value["reason"] == "zero bytes" and value["size_bytes"] == 0


def test_when_a_required_field_is_missing_then_encode_raises_serialization_error():
    value = failed()
    del value["reason"]
    with pytest.raises(SerializationError, match="RecordingFailed"):
        AvroSerde().encode("RecordingFailed", value)


def test_when_bytes_are_not_avro_then_decode_raises_serialization_error():
    serde = AvroSerde()
    _, headers = serde.encode("RecordingFailed", failed())
    with pytest.raises(SerializationError):
        serde.decode(b"\xff\xff\xff", headers)
    with pytest.raises(SerializationError, match="no stt-schema header"):
        serde.decode(b"abc", [])
    with pytest.raises(SerializationError, match="unknown writer schema"):
        serde.decode(b"abc", [(SCHEMA_HEADER, b"0000000000000000")])
    with pytest.raises(SerializationError, match="empty"):
        serde.decode(b"", headers)


def test_with_a_registry_the_confluent_wire_format_is_used_and_resolved():
    serde = AvroSerde(registry_url="mock://")
    data, _ = serde.encode("RecordingFailed", failed())
    assert data[0] == 0
    schema_id = int.from_bytes(data[1:5], "big")
    registered = serde._registry.get_schema(schema_id)
    assert "RecordingFailed" in registered.schema_str
    name, value = serde.decode(data, headers=[])
    assert name == "stt.v1.RecordingFailed" and value["tenant"] == "acme"

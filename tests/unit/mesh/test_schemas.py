"""The event contract: every schema round-trips, released bytes stay readable, and the
compatibility check catches breaking changes."""

from __future__ import annotations

import copy
import json

import pytest

import schemas
from mesh.serde import SCHEMA_HEADER, AvroSerde
from schemas import compat


@pytest.mark.parametrize("name", schemas.EVENTS)
def test_every_event_round_trips_through_its_schema(name):
    serde = AvroSerde()
    value = compat.example(compat.inline(schemas.expanded(name)))
    data, headers = serde.encode(name, value)
    decoded_name, decoded = serde.decode(data, headers)
    assert decoded_name == schemas.full_name(name)
    assert decoded == value


def test_every_schema_file_is_one_named_type_named_after_its_file():
    for path in schemas.SCHEMA_DIR.glob("*.avsc"):
        doc = json.loads(path.read_text())
        assert f"{doc['namespace']}.{doc['name']}" == path.name.removesuffix(".avsc")
        assert doc["namespace"] == schemas.NAMESPACE


def test_every_event_has_been_released_with_golden_bytes():
    released = {p.name.split(".")[2] for p in schemas.HISTORY_DIR.glob("*.avsc")}
    assert set(schemas.EVENTS) <= released
    histories = schemas.HISTORY_DIR.glob("*.avsc")
    assert [p.name for p in histories if not (compat.GOLDEN_DIR / f"{p.stem}.bin").exists()] == []


@pytest.mark.parametrize("golden", sorted(compat.GOLDEN_DIR.glob("*.bin")), ids=lambda p: p.stem)
def test_golden_bytes_of_each_released_schema_decode_with_the_current_reader(golden):
    full, fingerprint = golden.stem.rsplit(".", 1)
    serde = AvroSerde()
    name, value = serde.decode(golden.read_bytes(), [(SCHEMA_HEADER, fingerprint.encode())])
    assert name == full
    # the value the release wrote: every field both versions have must come back unchanged
    released = json.loads((schemas.HISTORY_DIR / f"{golden.stem}.avsc").read_text())
    written = compat.example(compat.inline(released))
    assert _shared(value, written) == _shared(written, value)
    assert _shared(value, written)


def _shared(value, other):
    """``value`` reduced to the fields ``other`` has too, at every depth (a field added with a
    default to a nested record comes back with its default and is left out)."""
    if isinstance(value, dict) and isinstance(other, dict):
        return {k: _shared(v, other[k]) for k, v in value.items() if k in other}
    if isinstance(value, list) and isinstance(other, list) and len(value) == len(other):
        return [_shared(v, o) for v, o in zip(value, other, strict=True)]
    return value


@pytest.mark.parametrize("history", sorted(schemas.HISTORY_DIR.glob("*.avsc")), ids=lambda p: p.stem)
def test_current_schemas_are_backward_compatible_with_every_released_one(history):
    writer = json.loads(history.read_text())
    assert compat.check(writer, schemas.expanded(writer["name"])) == []


def _with_field(name: str, field: dict) -> dict:
    schema = copy.deepcopy(schemas.expanded(name))
    schema["fields"].append(field)
    return schema


def test_when_a_field_is_added_without_default_then_the_check_fails():
    current = schemas.expanded("ChunkTranscript")
    changed = _with_field("ChunkTranscript", {"name": "speaker_count", "type": "int"})
    assert compat.check(current, changed) == ["speaker_count: new field without a default"]


def test_when_a_field_is_added_with_default_then_the_check_passes():
    current = schemas.expanded("ChunkTranscript")
    changed = _with_field("ChunkTranscript", {"name": "speaker_count", "type": "int", "default": 0})
    assert compat.check(current, changed) == []


def test_when_a_field_type_narrows_then_the_check_fails_but_widening_passes():
    current = schemas.expanded("AudioChunk")
    narrowed = copy.deepcopy(current)
    widened = copy.deepcopy(current)
    for f in narrowed["fields"]:
        if f["name"] == "produced_at_ms":
            f["type"] = "int"
    for f in widened["fields"]:
        if f["name"] == "seq":
            f["type"] = "long"
    assert compat.check(current, narrowed) == ["produced_at_ms: type long cannot be read as int"]
    assert compat.check(current, widened) == []


def test_when_a_nested_record_loses_a_defaultless_field_to_a_new_one_then_the_check_names_it():
    current = schemas.expanded("ChunkTranscript")
    changed = copy.deepcopy(current)
    model = next(f for f in changed["fields"] if f["name"] == "model")["type"]
    model["fields"].append({"name": "quantization", "type": "string"})
    assert compat.check(current, changed) == ["model.quantization: new field without a default"]

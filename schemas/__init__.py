"""Avro schemas of the stt-mesh event contract (namespace ``stt.v1``).

One named type per ``.avsc`` file, the file named after the full name, so fastavro's
``load_schema`` resolves references between files. Schemas are parsed once per process.

A schema's *fingerprint* (CRC-64-AVRO of its parsing canonical form, 16 hex chars) travels
in a Kafka header so that a reader can find the exact writer schema, including historical
versions kept under ``schemas/history/``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import fastavro.schema

NAMESPACE = "stt.v1"
SCHEMA_DIR = Path(__file__).resolve().parent
HISTORY_DIR = SCHEMA_DIR / "history"

# Top-level event types (the others are records nested inside them).
EVENTS = (
    "RecordingPart",
    "RecordingMetadata",
    "RecordingFailed",
    "AudioChunk",
    "ChunkTranscript",
    "SpeakerTurns",
    "RedactedTranscript",
    "QualityReport",
    "GateDecision",
    "LlmOutcome",
    "BatchJob",
    "DeadLetter",
)


def full_name(name: str) -> str:
    """``"AudioChunk"`` -> ``"stt.v1.AudioChunk"``; full names pass through."""
    return name if "." in name else f"{NAMESPACE}.{name}"


def names() -> list[str]:
    """Full names of every schema file in the current contract."""
    return sorted(p.name.removesuffix(".avsc") for p in SCHEMA_DIR.glob("*.avsc"))


@functools.cache
def load(name: str) -> Any:
    """Parse a current schema (with its references) once per process."""
    path = SCHEMA_DIR / f"{full_name(name)}.avsc"
    if not path.exists():
        raise KeyError(f"unknown schema {name!r}; known: {', '.join(names())}")
    return fastavro.schema.load_schema(str(path), _write_hint=False)


def load_json(path: Path) -> Any:
    """Parse a self-contained schema from a JSON file (used for historical versions)."""
    return parse(json.loads(path.read_text()))


def parse(doc: dict[str, Any]) -> Any:
    """Parse a self-contained schema document (a released version, or one from a registry)."""
    return fastavro.parse_schema(doc, _force=True)


def canonical(parsed: Any) -> str:
    return str(fastavro.schema.to_parsing_canonical_form(parsed))


def fingerprint(parsed: Any) -> str:
    """CRC-64-AVRO fingerprint of a parsed schema, as 16 hex characters."""
    return str(fastavro.schema.fingerprint(canonical(parsed), "CRC-64-AVRO"))


def expanded(name: str) -> dict[str, Any]:
    """The current schema as one self-contained JSON document (each named type defined at its
    first use), with defaults and docs kept: what a release stores and compatibility reads."""
    return _public(load(name))


def _public(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _public(v) for k, v in node.items() if not k.startswith("__")}
    if isinstance(node, list):
        return [_public(v) for v in node]
    return node

"""Avro encoding of events, with the writer schema findable by every reader.

Two framings:

* default: the body is schemaless Avro and the header ``stt-schema`` holds the writer
  schema's CRC-64-AVRO fingerprint. A reader resolves it against every schema version it knows
  (current and ``schemas/history``) and reads into its current schema of the same name, so a
  topic may carry several event types and old events stay readable.
* Confluent wire format (when a Schema Registry URL is configured): magic byte 0, the 4-byte
  schema id, then the body; subjects follow the record-name strategy.

Schemas are parsed once per process; every library error becomes ``SerializationError``.
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass
from typing import Any

import fastavro

import schemas
from mesh.errors import SerializationError
from mesh.trace import Headers

SCHEMA_HEADER = "stt-schema"
_MAGIC = 0


@dataclass(frozen=True, slots=True)
class _Known:
    name: str
    parsed: Any


class AvroSerde:
    def __init__(self, registry_url: str | None = None, registry: Any = None) -> None:
        self._current: dict[str, Any] = {}
        self._headers: dict[str, list[tuple[str, bytes]]] = {}  # name -> header naming its schema
        self._by_fingerprint: dict[str, _Known] = {}
        for name in schemas.names():
            parsed = schemas.load(name)
            fingerprint = schemas.fingerprint(parsed)
            self._current[name] = parsed
            self._headers[name] = [(SCHEMA_HEADER, fingerprint.encode())]
            self._by_fingerprint[fingerprint] = _Known(name, parsed)
        for path in sorted(schemas.HISTORY_DIR.glob("*.avsc")):
            doc = json.loads(path.read_text())
            parsed = schemas.parse(doc)
            self._by_fingerprint.setdefault(schemas.fingerprint(parsed), _Known(doc["name"], parsed))
        self._registry = registry if registry is not None else _registry_client(registry_url)
        self._ids: dict[str, int] = {}
        self._by_id: dict[int, _Known] = {}

    # -- encoding -------------------------------------------------------------------------
    def encode(self, schema: str, value: dict[str, Any]) -> tuple[bytes, list[tuple[str, bytes]]]:
        """Encode ``value``; return the bytes and the headers that name the writer schema."""
        name = schemas.full_name(schema)
        parsed = self._reader(name)
        buf = io.BytesIO()
        if self._registry is not None:
            buf.write(struct.pack(">bI", _MAGIC, self._schema_id(name, parsed)))
        try:
            fastavro.schemaless_writer(buf, parsed, value, strict_allow_default=True)
        except Exception as exc:  # fastavro raises ValueError, TypeError, KeyError, ...
            raise SerializationError(f"cannot encode {name}: {exc}") from exc
        return buf.getvalue(), list(self._headers[name])

    # -- decoding -------------------------------------------------------------------------
    def decode(self, data: bytes | None, headers: Headers | None) -> tuple[str, dict[str, Any]]:
        """Decode to (full schema name, value) using the writer schema the message names."""
        if not data:
            raise SerializationError("empty message: no Avro body")
        writer, body = self._writer(data, headers)
        reader = self._current.get(writer.name)
        if reader is None:
            raise SerializationError(f"no reader schema for {writer.name}")
        try:
            value = fastavro.schemaless_reader(io.BytesIO(body), writer.parsed, reader)
        except Exception as exc:
            raise SerializationError(f"cannot decode {writer.name}: {exc}") from exc
        if not isinstance(value, dict):
            raise SerializationError(f"{writer.name} did not decode to a record")
        return writer.name, value

    def _writer(self, data: bytes, headers: Headers | None) -> tuple[_Known, bytes]:
        if self._registry is not None and data[0] == _MAGIC and len(data) >= 5:
            schema_id = struct.unpack(">I", data[1:5])[0]
            return self._schema_by_id(schema_id), data[5:]
        fingerprint = _header(headers, SCHEMA_HEADER)
        if fingerprint is None:
            raise SerializationError(f"no {SCHEMA_HEADER} header and no registry framing")
        known = self._by_fingerprint.get(fingerprint)
        if known is None:
            raise SerializationError(f"unknown writer schema fingerprint {fingerprint}")
        return known, data

    def _reader(self, name: str) -> Any:
        try:
            return self._current[name]
        except KeyError:
            raise SerializationError(f"unknown schema {name}") from None

    # -- registry -------------------------------------------------------------------------
    def _schema_id(self, name: str, parsed: Any) -> int:
        if name not in self._ids:
            from confluent_kafka.schema_registry import Schema

            try:
                self._ids[name] = self._registry.register_schema(
                    name, Schema(schemas.canonical(parsed), "AVRO")
                )
            except Exception as exc:
                raise SerializationError(f"cannot register {name}: {exc}") from exc
            self._by_id[self._ids[name]] = _Known(name, parsed)
        return self._ids[name]

    def _schema_by_id(self, schema_id: int) -> _Known:
        if schema_id not in self._by_id:
            try:
                doc = json.loads(self._registry.get_schema(schema_id).schema_str)
                parsed = schemas.parse(doc)
            except Exception as exc:
                raise SerializationError(f"cannot fetch schema id {schema_id}: {exc}") from exc
            self._by_id[schema_id] = _Known(doc["name"], parsed)
        return self._by_id[schema_id]


def _header(headers: Headers | None, key: str) -> str | None:
    for k, v in headers or ():
        if k == key and v is not None:
            return v.decode("ascii", "replace")
    return None


def _registry_client(url: str | None) -> Any:
    if not url:
        return None
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return SchemaRegistryClient.new_client({"url": url})

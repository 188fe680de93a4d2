"""What a handler receives (``Message``) and what it returns (``Output``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mesh.trace import TraceContext


@dataclass(slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    schema: str
    value: dict[str, Any]
    headers: list[tuple[str, bytes | None]]
    trace: TraceContext
    timestamp_ms: int
    retries: int = 0
    held: bool = False
    releases_key: bool = False

    def hold(self) -> None:
        """Keep this message uncommitted: state built from it lives only in memory until
        ``release_key`` (a later message of the same key completes the work). After a crash the
        broker redelivers it, so the state is rebuilt instead of lost."""
        self.held = True

    def release_key(self) -> None:
        """The work for this message's key is complete and its outputs are in this round:
        every held message of the key, on any partition, may be committed."""
        self.releases_key = True

    @property
    def trace_id(self) -> str:
        return self.trace.trace_id

    @property
    def produced_at_ms(self) -> int:
        """When the event was made: its own ``produced_at_ms`` field, else the Kafka timestamp."""
        produced = self.value.get("produced_at_ms")
        return int(produced) if produced else self.timestamp_ms


@dataclass(slots=True)
class Output:
    topic: str
    schema: str
    value: dict[str, Any]
    key: str | bytes | None = None
    headers: list[tuple[str, bytes]] = field(default_factory=list)

    def key_bytes(self) -> bytes | None:
        key = self.key if self.key is not None else self.value.get("recording_id")
        if key is None:
            return None
        return key if isinstance(key, bytes) else str(key).encode()

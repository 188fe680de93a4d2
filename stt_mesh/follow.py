"""Follow recordings through the mesh: every event of some topics, grouped by recording.

Used by ``stt-mesh demo``, the end-to-end tests and the ASR benchmark to watch what the
services produce. Reads from the start of the topics with a group of its own, so it sees
events produced before it started.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import Consumer

from mesh import MeshSettings
from mesh.errors import SerializationError
from mesh.serde import AvroSerde


class Events:
    """``by_id[recording_id][event type]`` -> values, plus ``raw`` (topic, id, value bytes)."""

    def __init__(
        self, settings: MeshSettings, topics: Iterable[str], recording_ids: set[str] | None = None
    ) -> None:
        self.ids = recording_ids  # None: every recording
        self.serde = AvroSerde(settings.schema_registry_url)
        self.by_id: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
        self.raw: list[tuple[str, str, bytes]] = []
        self.consumer = Consumer(
            {
                **settings.kafka_common(),
                "group.id": f"follow-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        self.consumer.subscribe(list(topics))

    def poll(self, seconds: float) -> None:
        """Collect what arrives within ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._take(self.consumer.poll(0.2))

    def wait(self, done: Callable[[Events], bool], timeout_s: float) -> bool:
        """Collect until ``done(self)`` holds or ``timeout_s`` passes; returns ``done(self)``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._take(self.consumer.poll(0.2))
            if done(self):
                return True
        return done(self)

    def close(self) -> None:
        self.consumer.close()

    def _take(self, msg: Any) -> None:
        if msg is None or msg.error() is not None:
            return
        try:
            schema, value = self.serde.decode(msg.value(), msg.headers())
        except SerializationError:
            return  # not an event of the contract: its producer's DLQ story, not the follower's
        rid = (
            value.get("recording_id")
            or value.get("gate_id")
            or (value.get("source_key") or b"").decode(errors="replace")
        )
        if self.ids is not None and rid not in self.ids:
            return
        self.raw.append((msg.topic(), rid, msg.value()))
        self.by_id[rid][schema.rsplit(".", 1)[1]].append(value)

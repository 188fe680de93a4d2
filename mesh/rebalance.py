"""Which partitions a consumer owns, kept by rebalance callbacks that never block, and the
watchdog that notices a consumer left without an assignment.

The callbacks only record state. The revoke callback used to commit synchronously; with
``enable.auto.commit`` librdkafka already commits the stored offsets of revoked partitions when
they are unassigned, refuses to for a lost assignment (_ASSIGNMENT_LOST: its partitions may be
someone else's by now), and a synchronous commit waits for a coordinator without a timeout,
which blocks the poll thread for good if the broker goes away at that moment.

Why a watchdog: after a broker restart a consumer can be left without any broker connection
and never recover on its own (librdkafka 2.16 with Kafka 4.3.1; confluentinc/librdkafka#5301).
During a controlled shutdown a single broker gives up leadership of its partitions while it
still answers requests. A client whose fetch or produce then fails with NOT_LEADER refreshes
its metadata, gets an answer that lists the topics but no brokers, and decommissions every
broker it knew. Nothing fails afterwards, so no re-bootstrap starts: the session times out
(SESSTMOUT, assignment lost), every coordinator query finds "no broker available", an offset
commit in flight waits forever, and the process idles, alive and silent, while its group goes
EMPTY. Only a new client recovers. So a consumer is declared stalled when librdkafka's
statistics have listed no broker at all for ``orphaned_after_s`` (that state), or, whatever
the cause, when it has had no assignment for longer than a healthy rebalance takes while its
topics have partitions or no broker answers: ``/healthz`` turns 503 and the loop exits
non-zero, for its supervisor (Kubernetes, systemd, a container restart policy) to start a new
process, which replays from the committed offsets like after any crash.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import KafkaException

from mesh.errors import MeshError
from mesh.health import Health
from mesh.metrics import Sensor

log = logging.getLogger(__name__)

Partition = tuple[str, int]


class ConsumerStalled(MeshError):
    """The consumer has had no assignment for too long; a new process has to take over."""


class Assignment:
    """Rebalance callbacks for ``Consumer.subscribe`` and the stall check the loop calls."""

    def __init__(
        self,
        topics: Sequence[str],
        health: Health,
        sensor: Sensor,
        limit_s: float,
        *,
        forget: Callable[[list[Partition]], None],
        check_every_s: float = 10.0,
        metadata_timeout_s: float = 10.0,
        orphaned_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.topics, self.health, self.sensor, self.limit_s = list(topics), health, sensor, limit_s
        self.owned: set[Partition] = set()
        self.brokers = "not reported yet"  # the broker handles librdkafka's statistics list
        self._forget = forget
        self._check_every_s, self._metadata_timeout_s, self._clock = check_every_s, metadata_timeout_s, clock
        self._next_check = 0.0
        self._orphaned_after_s = orphaned_after_s
        self._orphaned_since: float | None = None

    # -- callbacks: they run inside poll()/consume() and must not block --------------------
    def on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        """Eager protocol: the whole new assignment (maybe empty: more members than
        partitions); cooperative: the partitions added.

        An assigned partition is resumed: librdkafka keeps an application's pause of a
        partition across its revocation, so one paused while it was revoked or lost (the
        loop pauses during long work, the sink while its store is down) would come back
        paused, owned and never fetched again. Whoever wants it paused pauses it again after
        this (the loop while its long work runs, the sink while its store is down)."""
        if partitions:
            consumer.resume(partitions)
        self.owned |= {(tp.topic, tp.partition) for tp in partitions}
        self.health.assigned()
        self.sensor.on_rebalance("assign", len(self.owned))

    def on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        self._drop(partitions)
        self.sensor.on_rebalance("revoke", len(self.owned))

    def on_lost(self, consumer: Any, partitions: list[Any]) -> None:
        log.warning(
            "assignment of %d partition(s) lost (session timed out or member fenced); rejoining the group",
            len(partitions),
        )
        self._drop(partitions)
        self.sensor.on_assignment_lost(len(partitions))
        self.sensor.on_rebalance("lost", len(self.owned))

    def _drop(self, partitions: list[Any]) -> None:
        gone = [(tp.topic, tp.partition) for tp in partitions]
        self.owned.difference_update(gone)
        self._forget(gone)
        if not self.owned:
            self.health.unassigned()

    # -- watchdog ---------------------------------------------------------------------------
    def check(self, consumer: Any) -> str | None:
        """Why the consumer counts as stalled, or None. Past the limit, asks for metadata at
        most every ``check_every_s`` (the call blocks up to its timeout)."""
        if self._orphaned_since is not None and self._clock() - self._orphaned_since > self._orphaned_after_s:
            return (
                f"the client has known no broker for {self._clock() - self._orphaned_since:.0f}s "
                f"(confluentinc/librdkafka#5301); brokers known to the client: {self.brokers}"
            )
        waited = self.health.unassigned_for()
        if waited <= self.limit_s or self._clock() < self._next_check:
            return None
        self._next_check = self._clock() + self._check_every_s
        partitions = self._partitions(consumer)
        if partitions == 0:
            return None  # the topics do not exist yet: there is nothing to be assigned
        seen = (
            "no broker answered a metadata request"
            if partitions is None
            else f"its topics have {partitions} partition(s)"
        )
        return (
            f"no partition assignment for {waited:.0f}s (limit {self.limit_s:.0f}s) while "
            f"{seen}; brokers known to the client: {self.brokers}"
        )

    def _partitions(self, consumer: Any) -> int | None:
        try:
            metadata = consumer.list_topics(timeout=self._metadata_timeout_s)
        except KafkaException:
            return None
        found = [metadata.topics[t] for t in self.topics if t in metadata.topics]
        return sum(len(t.partitions) for t in found if t.error is None)

    def note_stats(self, stats: dict[str, Any]) -> None:
        """Remember which brokers librdkafka knows (from its statistics): for the stall report,
        and since when it knows none it could connect to (only its group coordinator handle)."""
        brokers = stats.get("brokers", {})
        handles = [
            f"{name} ({b.get('source', '?')}) {b.get('state', '?')}"
            for name, b in brokers.items()
            if b.get("source") != "internal"
        ]
        self.brokers = ", ".join(sorted(handles)) or "none"
        if any(b.get("source") in ("configured", "learned") for b in brokers.values()):
            self._orphaned_since = None
        elif self._orphaned_since is None:
            self._orphaned_since = self._clock()


def close_within(consumer: Any, timeout_s: float) -> bool:
    """Close the consumer (it commits the stored offsets) unless that takes longer than
    ``timeout_s``: close() has no timeout and waits for in-flight commits, which a client
    without brokers never completes. Returns whether it closed."""
    closer = threading.Thread(target=consumer.close, name="consumer-close", daemon=True)
    closer.start()
    closer.join(timeout_s)
    if closer.is_alive():
        log.error("consumer close did not return in %.0fs; leaving without it", timeout_s)
    return not closer.is_alive()

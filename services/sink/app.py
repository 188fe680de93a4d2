"""The sink service: every analysis topic -> ClickHouse (``python -m services.sink``).

One loop, after the sinks of Quix Streams: poll -> decode -> row into the buffer -> when the
buffer is due, insert every batch -> store and commit the offsets. Offsets move only after
ClickHouse acknowledged the insert, so a crash re-reads what was not stored and the tables'
identity keys (ReplacingMergeTree) absorb what is read twice.

Backpressure: when an insert fails the loop pauses every assigned partition and keeps
polling (it stays in the group: heartbeats, rebalance callbacks, liveness), retries the same
batches with the same deduplication tokens after a doubling wait, and resumes once they are
in. Nothing is dropped and nothing spins. Revoked partitions drop their buffered rows; their
next owner reads them again from the committed offset.

The sink process also answers read-only SQL and recording results on its HTTP port
(``services.sink.http``): embedded chDB admits one process per data directory, and this one
holds it.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from mesh import MeshSettings, Output
from mesh.dlq import dead_letter, dead_letter_for
from mesh.errors import SerializationError
from mesh.health import Health, HealthServer
from mesh.logs import configure as configure_logs
from mesh.loop import note_consumer_stats, usable
from mesh.metrics import PrometheusSensor, Sensor
from mesh.publisher import Publisher
from mesh.rebalance import Assignment, Partition, close_within
from mesh.serde import AvroSerde
from services.sink.config import SinkSettings
from services.sink.migrate import migrate
from services.sink.rows import to_row
from services.sink.store import RowError, Store, StoreError, redacted_dsn
from services.sink.worker import Backoff, Batch, Buffer

log = logging.getLogger("services.sink")
SERVICE = "sink"


class Sink:
    def __init__(
        self,
        mesh: MeshSettings,
        settings: SinkSettings,
        *,
        store: Store | None = None,
        sensor: Sensor | None = None,
        consumer: Any = None,
        publisher: Publisher | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        self.mesh, self.settings = mesh, settings
        self.store = store or Store(settings.resolved_dsn(), settings.database)
        self.sensor: Sensor = sensor or PrometheusSensor(SERVICE)
        self.serde = AvroSerde(mesh.schema_registry_url)
        self.health = Health(rebalance_grace_s=mesh.rebalance_grace_s)
        self.buffer = Buffer(settings.batch_max_rows, settings.batch_max_s, clock)
        self.backoff = Backoff(settings.retry_min_s, settings.retry_max_s, clock)
        self.paused = False
        self.subscription = list(settings.topics) + (
            [f"^{settings.dlq_pattern.lstrip('^')}"] if settings.dlq_pattern else []
        )
        conf = {
            **mesh.consumer_config(settings.group_id),
            "client.id": "sink-consumer",
            "stats_cb": self._on_stats,
        }
        self.assignment = Assignment(
            self.subscription,
            self.health,
            self.sensor,
            mesh.unassigned_limit_s(conf),
            forget=self.buffer.drop,
        )
        self._consumer = consumer or Consumer(conf)
        self._publisher = publisher
        self._stop = threading.Event()
        self.schema_ready = threading.Event()  # the HTTP API answers 503 until it is set

    # -- lifecycle --------------------------------------------------------------------------
    def run(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        if self.settings.migrate_on_start and not self._migrate_when_up():
            return
        self.schema_ready.set()
        a = self.assignment
        self._consumer.subscribe(
            self.subscription, on_assign=self._on_assign, on_revoke=a.on_revoke, on_lost=a.on_lost
        )
        self.health.unassigned()
        try:
            while not self._stop.is_set():
                self.health.beat()
                if self.paused:
                    self._consumer.poll(0.5)  # serves heartbeats and rebalances; returns nothing
                    if self.backoff.ready():
                        self.flush()
                else:
                    self._consume()
                    if self.buffer.due():
                        self.flush()
                self._watch()
            if not self.buffer.empty:
                self.flush()
        finally:
            self._shutdown()

    def stop(self, *_: object) -> None:
        self._stop.set()

    def _migrate_when_up(self) -> bool:
        """Apply missing migrations, waiting (without consuming) while the store is down.
        False: stopped while waiting."""
        while not self._stop.is_set():
            self.health.beat()
            try:
                applied = migrate(self.store, self.settings)
            except StoreError as exc:
                wait = self.backoff.failed()
                log.warning("ClickHouse not ready (%s); migrating again in %.1fs", exc, wait)
                self._stop.wait(wait)
                continue
            self.backoff.reset()
            if applied:
                log.info("applied migrations: %s", ", ".join(applied))
            return True
        return False

    def _shutdown(self) -> None:
        self.health.stopped = True
        if self._publisher is not None:
            self._publisher.close()
        close_within(self._consumer, 30.0)

    def _watch(self) -> None:
        reason = self.assignment.check(self._consumer)
        if reason is not None:
            self.health.stalled = reason
            from mesh.rebalance import ConsumerStalled

            raise ConsumerStalled(reason)

    # -- consuming --------------------------------------------------------------------------
    def _consume(self) -> None:
        for raw in self._consumer.consume(500, 0.5):
            if usable(raw):
                self._absorb(raw)

    def _absorb(self, raw: Any) -> None:
        topic, partition, offset = raw.topic(), raw.partition(), raw.offset()
        self.sensor.on_message_in(topic)
        try:
            schema, value = self.serde.decode(raw.value(), raw.headers())
            routed = to_row(
                schema.rsplit(".", 1)[-1],
                value,
                (topic, partition, offset, raw.timestamp()[1]),
                self.settings,
            )
        except (SerializationError, KeyError, TypeError, ValueError) as exc:
            self._dead_letter(raw, exc)
            routed = None
        table, row = routed if routed else (None, None)
        self.buffer.add(topic, partition, offset, table, row)

    def _dead_letter(self, raw: Any, exc: Exception) -> None:
        """A message the sink cannot read goes to its topic's DLQ (whose metadata the sink
        then keeps); one read from a DLQ is only counted, never sent to a DLQ again."""
        self.sensor.on_error(raw.topic(), type(exc).__name__)
        if raw.topic().endswith(".dlq"):
            log.warning(
                "unreadable dead letter %s[%d]@%d skipped: %s",
                raw.topic(),
                raw.partition(),
                raw.offset(),
                exc,
            )
            return
        log.warning("dead-lettering %s[%d]@%d: %s", raw.topic(), raw.partition(), raw.offset(), exc)
        self._send_dead_letter(dead_letter(raw, exc, SERVICE))

    # -- writing ----------------------------------------------------------------------------
    def flush(self) -> bool:
        """Insert every buffered batch, then store their offsets. False: the store is down
        (partitions paused, a retry scheduled)."""
        started = time.perf_counter()
        try:
            for batch in self.buffer.batches():
                self._insert(batch)
        except StoreError as exc:
            self._store_down(exc)
            return False
        self._observe(time.perf_counter() - started)
        self._commit(self.buffer.offsets())
        self.buffer.clear()
        if self.paused:
            self._resume()
        return True

    def _insert(self, batch: Batch) -> None:
        columns = list(batch.rows[0])
        try:
            self.store.insert(
                batch.table, [[r[c] for c in columns] for r in batch.rows], columns, token=batch.token
            )
        except RowError:
            self._insert_one_by_one(batch, columns)

    def _insert_one_by_one(self, batch: Batch, columns: list[str]) -> None:
        """A batch the store refuses for its data: every row alone, and the rows it refuses
        become dead letters of their topic, so one bad event never stalls the others."""
        kept = []
        for row in batch.rows:
            token = f"{row['_topic']}/{row['_partition']}/{row['_offset']}-{row['_offset']}/{batch.table}"
            try:
                self.store.insert(batch.table, [[row[c] for c in columns]], columns, token=token)
                kept.append(row)
            except RowError as exc:
                self._dead_letter_row(batch.table, row, exc)
        batch.rows[:] = kept

    def _dead_letter_row(self, table: str, row: dict[str, Any], exc: RowError) -> None:
        log.warning("dead-lettering %s[%d]@%d: %s", row["_topic"], row["_partition"], row["_offset"], exc)
        key = row.get("recording_id") or row.get("trace_id") or row.get("job_id") or ""
        self._send_dead_letter(
            dead_letter_for(
                row["_topic"],
                row["_partition"],
                row["_offset"],
                key.encode() or None,
                exc,
                SERVICE,
                retries=self.backoff.failures,
                trace_id=row.get("trace_id") or None,
            )
        )

    def _send_dead_letter(self, out: Output) -> None:
        if self._publisher is None:
            self._publisher = Publisher(self.mesh, SERVICE, serde=self.serde, sensor=self.sensor)
        self._publisher.send(out)
        self._publisher.flush()
        self.sensor.on_dead_letter(out.value["source_topic"], out.value["error_type"])

    def _observe(self, seconds: float) -> None:
        now = time.time()
        for batch in self.buffer.batches():
            self.sensor.count("sink_rows", len(batch.rows), table=batch.table)
            for row in batch.rows:
                self.sensor.observe(
                    "sink_lag_seconds", max(0.0, now - row["kafka_ts"].timestamp()), table=batch.table
                )
        self.sensor.observe("sink_insert_seconds", seconds)
        self.sensor.gauge("sink_store_up", 1.0)

    def _commit(self, offsets: dict[Partition, int]) -> None:
        owned = [TopicPartition(t, p, o) for (t, p), o in offsets.items() if (t, p) in self.assignment.owned]
        if not owned:
            return
        self._consumer.store_offsets(offsets=owned)
        try:
            self._consumer.commit(asynchronous=True)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                raise

    def _store_down(self, exc: StoreError) -> None:
        wait = self.backoff.failed()
        self.sensor.count("sink_insert_failures")
        self.sensor.gauge("sink_store_up", 0.0)
        log.warning(
            "ClickHouse insert failed (%s); %d row(s) kept, partitions paused, retry in %.1fs",
            exc,
            self.buffer.rows,
            wait,
        )
        if not self.paused:
            self._consumer.pause(self._consumer.assignment())
            self.paused = True
            self.sensor.gauge("sink_paused", 1.0)

    def _resume(self) -> None:
        self._consumer.resume(self._consumer.assignment())
        self.paused = False
        self.backoff.reset()
        self.sensor.gauge("sink_paused", 0.0)
        log.info("ClickHouse is back; partitions resumed")

    # -- callbacks --------------------------------------------------------------------------
    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        self.assignment.on_assign(consumer, partitions)
        if self.paused:  # a partition assigned while the store is down waits with the others
            consumer.pause(partitions)

    def _on_stats(self, stats_json: str) -> None:
        note_consumer_stats(stats_json, self.assignment, self.sensor)


def serve(mesh: MeshSettings, settings: SinkSettings) -> int:
    from services.sink.http import QueryServer

    sink = Sink(mesh, settings)
    log.info("sink writing to %s (database %s)", redacted_dsn(settings.resolved_dsn()), settings.database)
    servers: list[Any] = []
    if mesh.metrics_port is not None and isinstance(sink.sensor, PrometheusSensor):
        servers.append(
            HealthServer(sink.health, sink.sensor.registry, mesh.metrics_host, mesh.metrics_port).start()
        )
    if settings.http_port is not None:
        query = QueryServer(
            sink.store.reader(), settings, sink.health, ready=sink.schema_ready.is_set
        ).start()
        servers.append(query)
        log.info("read-only queries and results on http://%s:%d", settings.http_host, query.port)
    try:
        sink.run()
    finally:
        for server in servers:
            server.stop()
        sink.store.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.sink", description=__doc__.splitlines()[0])
    parser.add_argument("--migrate-only", action="store_true", help="apply migrations and exit")
    args = parser.parse_args(argv)
    configure_logs(SERVICE)
    mesh, settings = MeshSettings(), SinkSettings()
    if args.migrate_only:
        print("\n".join(migrate(Store(settings.resolved_dsn(), settings.database), settings)) or "up to date")
        return 0
    return serve(mesh, settings)

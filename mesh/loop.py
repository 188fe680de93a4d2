"""The consumer loop every service runs: poll -> decode -> handle -> produce -> store offsets.

At-least-once: offsets are stored (auto-offset-store off) only after every output of the
polled messages, dead letters included, has been acknowledged by Kafka; the periodic
auto-commit and the commit on revoke/close only ever commit stored offsets. A process killed
at any point re-reads from the last stored offset, so nothing is lost; consumers downstream
are idempotent on (recording_id, seq).

Stateful services (reassembling a recording's parts or chunks) call ``msg.hold()`` on a
message whose content lives only in their memory, and ``msg.release_key()`` on the message
that completes the key's work; offsets are stored only up to the first held message of each
partition, so a crash replays exactly what the lost memory held. ``tick`` runs in the loop
thread every ``tick_interval_s`` for timeouts and may ``release`` keys.

Errors are data: a message that cannot be decoded, or whose handler raises a non-retryable
error, becomes a DeadLetter on ``<topic>.dlq`` and the loop continues. ``RetryableError`` is
retried with exponential backoff up to ``max_retries`` times; the count is on ``Message`` and
on the DeadLetter. ``on_error(exc, msg) -> bool`` may return False to stop the loop instead.

Long work: every handler call and tick runs on one work thread while the loop thread waits
for it. Work still running after ``MeshSettings.pause_after_s()`` (15 s by default: a whole
recording's diarization, a big decode) has every assigned partition paused, and the loop keeps
polling (librdkafka's max.poll.interval.ms is measured between polls, and poll serves the
rebalance callbacks) and beating (liveness) until it ends; then the partitions resume.
Whatever runs on the work thread may therefore take longer than max.poll.interval.ms; what
runs on the loop thread (decode, flush, offsets) is short. Messages fetched before the pause
took effect wait in a backlog and are handled next, in order; those of a partition revoked
meanwhile are dropped, since its next owner re-reads them from the committed offset. A stop
during long work abandons it: nothing it would have produced is sent and its offsets are not
stored, so it is redone after the restart. Handler and tick never run at the same time.

Rebalances: the callbacks (``mesh.rebalance.Assignment``) only record which partitions the
consumer owns; offsets are stored only for owned partitions, and librdkafka commits them
when partitions are revoked. A consumer left without an assignment for longer than a healthy
rebalance takes raises ``ConsumerStalled`` out of ``run()`` (exit non-zero, so a supervisor
starts a fresh process); ``mesh.rebalance`` says why that can happen after a broker restart.
"""

from __future__ import annotations

import collections
import functools
import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from mesh.dlq import dead_letter
from mesh.errors import DeliveryError, MessageTooLarge, RetryableError, SerializationError
from mesh.health import Health, HealthServer
from mesh.logs import handling
from mesh.message import Message, Output
from mesh.metrics import PrometheusSensor, Sensor
from mesh.publisher import Publisher
from mesh.rebalance import Assignment, ConsumerStalled, Partition, close_within
from mesh.serde import AvroSerde
from mesh.settings import MeshSettings
from mesh.trace import TraceContext, extract

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S, STALLED_CLOSE_TIMEOUT_S = 30.0, 5.0

Result = Sequence[Output] | BaseException
MessageHandler = Callable[[Message], Sequence[Output]]
BatchHandler = Callable[[list[Message]], Sequence[Result]]
ErrorPolicy = Callable[[BaseException, Message | None], bool]
T = TypeVar("T")


class Abandoned(Exception):
    """The loop was asked to stop while long work ran: its results are dropped."""


def dead_letter_everything(exc: BaseException, msg: Message | None) -> bool:
    return True


class Processor:
    def __init__(
        self,
        settings: MeshSettings,
        *,
        service: str,
        topics: Sequence[str],
        group_id: str,
        handler: MessageHandler | BatchHandler,
        batch_size: int = 1,
        batch_timeout_ms: int = 0,
        batched: bool | None = None,
        poll_batch: int = 64,
        on_error: ErrorPolicy = dead_letter_everything,
        sensor: Sensor | None = None,
        serde: AvroSerde | None = None,
        consumer: Any = None,
        publisher: Publisher | None = None,
        tick: Callable[[Processor], Sequence[Output]] | None = None,
        tick_interval_s: float = 1.0,
    ) -> None:
        self.settings, self.service, self.topics = settings, service, list(topics)
        self.handler, self.on_error = handler, on_error
        # a batch handler takes a list even when its batches hold one message
        self.batched = batch_size > 1 if batched is None else batched
        self.batch_size = max(batch_size, 1) if self.batched else poll_batch
        self.batch_timeout_s = batch_timeout_ms / 1000
        self.sensor: Sensor = sensor or PrometheusSensor(service)
        self.serde = serde or AvroSerde(settings.schema_registry_url)
        self.health = Health(settings.liveness_s(), rebalance_grace_s=settings.rebalance_grace_s)
        self._stop = threading.Event()
        conf = {
            **settings.consumer_config(group_id),
            "client.id": f"{service}-consumer",
            "stats_cb": self._on_stats,
        }
        self.assignment = Assignment(
            self.topics, self.health, self.sensor, settings.unassigned_limit_s(conf), forget=self._forget
        )
        self._consumer = consumer or Consumer(conf)
        self._owns_publisher = publisher is None
        self.publisher = publisher or Publisher(settings, service, serde=self.serde, sensor=self.sensor)
        self._server: HealthServer | None = None
        self._work = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{service}-work")
        self._backlog: collections.deque[Any] = collections.deque()  # fetched during long work
        self._paused: set[Partition] = set()
        self._pause_after_s = settings.pause_after_s()
        self._books = threading.RLock()  # held/offset state: the work thread may release keys
        self._held: dict[tuple[str, int], dict[bytes | None, list[int]]] = {}
        self._next_offset: dict[tuple[str, int], int] = {}
        self._stored: dict[tuple[str, int], int] = {}
        self.tick, self.tick_interval_s = tick, tick_interval_s
        self._next_tick = time.monotonic() + tick_interval_s

    # -- lifecycle --------------------------------------------------------------------------
    def run(self) -> None:
        """Run until ``stop()`` or SIGTERM/SIGINT; finish the message in hand, flush, commit.
        Raises ``ConsumerStalled`` when the consumer stays without an assignment too long."""
        self._install_signal_handlers()
        self._start_health_server()
        a = self.assignment
        self._consumer.subscribe(self.topics, on_assign=a.on_assign, on_revoke=a.on_revoke, on_lost=a.on_lost)
        self.health.unassigned()
        try:
            while not self._stop.is_set():
                self.health.beat()
                raws = self._take_backlog() or self._poll()
                if raws:
                    self._process(raws)
                self._maybe_tick()
                self._watch()
        finally:
            self._shutdown()

    def stop(self, *_: object) -> None:
        self._stop.set()

    @property
    def metrics_port(self) -> int | None:
        return self._server.port if self._server else None

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)

    def _start_health_server(self) -> None:
        port = self.settings.metrics_port
        if port is not None and isinstance(self.sensor, PrometheusSensor):
            self._server = HealthServer(
                self.health, self.sensor.registry, self.settings.metrics_host, port
            ).start()

    def _watch(self) -> None:
        reason = self.assignment.check(self._consumer)
        if reason is not None:
            self.health.stalled = reason
            log.error("%s consumer stalled: %s; exiting for a new process to take over", self.service, reason)
            raise ConsumerStalled(reason)

    def _shutdown(self) -> None:
        self.health.stopped = True
        stalled = self.health.stalled is not None
        try:
            # everything produced is acknowledged before the offsets of its inputs are committed
            if stalled:
                self._flush_quietly()
            elif self._owns_publisher:
                self.publisher.close()  # flushes, then releases the producer's connections
            else:
                self.publisher.flush()
        finally:
            self._work.shutdown(wait=False, cancel_futures=True)  # abandoned work dies with us
            close_within(self._consumer, STALLED_CLOSE_TIMEOUT_S if stalled else CLOSE_TIMEOUT_S)
            if self._server:
                self._server.stop()

    def _flush_quietly(self) -> None:
        """Best effort on the way out of a stall: what is not acknowledged has no stored offset."""
        try:
            self.publisher.flush(STALLED_CLOSE_TIMEOUT_S)
        except DeliveryError as exc:
            log.warning("leaving with outputs not acknowledged (their inputs are replayed): %s", exc)

    # -- polling ----------------------------------------------------------------------------
    def _poll(self) -> list[Any]:
        first = self._consumer.poll(0.5)
        if first is None:
            return []
        wait = self.batch_timeout_s if self.batched else 0
        rest = self._consumer.consume(self.batch_size - 1, wait) if self.batch_size > 1 else []
        return [m for m in [first, *rest] if usable(m)]

    def _take_backlog(self) -> list[Any]:
        """Messages fetched while long work ran, of partitions still owned, up to a batch."""
        taken: list[Any] = []
        while self._backlog and len(taken) < self.batch_size:
            raw = self._backlog.popleft()
            if (raw.topic(), raw.partition()) in self.assignment.owned:
                taken.append(raw)
        return taken

    # -- long work --------------------------------------------------------------------------
    def _run_work(self, work: Callable[[], T]) -> T:
        """Run ``work`` on the work thread; past ``long_work_after_s`` keep the consumer in its
        group (paused, polling, beating) until it ends. Raises ``Abandoned`` on stop.

        Pausing is kept for long work: librdkafka drops what it prefetched for a paused
        partition and fetches it again from the next offset on resume."""
        future = self._work.submit(work)
        try:
            return future.result(timeout=self._pause_after_s)
        except TimeoutError:
            pass
        started, outcome = time.monotonic(), "done"
        log.info("%s: long work in hand; partitions paused while it runs", self.service)
        try:
            while not future.done():
                if self._stop.is_set():
                    outcome = "abandoned"
                    raise Abandoned(f"stopped after {time.monotonic() - started:.0f}s of long work")
                self._pause_assigned()
                self._backlog.extend(self._poll_paused())
                self.health.beat()
                self._watch()
            return future.result()
        finally:
            self._resume_paused()
            waited = time.monotonic() - started + self._pause_after_s
            self.sensor.observe("long_work_seconds", waited, outcome=outcome)
            log.info("%s: long work %s after %.1f s; partitions resumed", self.service, outcome, waited)

    def _poll_paused(self) -> list[Any]:
        raw = self._consumer.poll(0.2)  # serves rebalance callbacks and max.poll.interval.ms
        return [raw] if raw is not None and usable(raw) else []

    def _pause_assigned(self) -> None:
        """Pause what is owned and not paused yet (a rebalance may add partitions)."""
        new = self.assignment.owned - self._paused
        if new:
            self._consumer.pause([TopicPartition(t, p) for t, p in sorted(new)])
            self._paused |= new

    def _resume_paused(self) -> None:
        owned = self._paused & self.assignment.owned
        if owned:
            self._consumer.resume([TopicPartition(t, p) for t, p in sorted(owned)])
        self._paused.clear()

    # -- processing -------------------------------------------------------------------------
    def _process(self, raws: list[Any]) -> None:
        """Handle the polled messages; on stop, per-message mode ends after the one in hand,
        and long work in hand is abandoned (what came before it is still committed)."""
        groups = [raws] if self.batched else [[raw] for raw in raws]
        done: list[tuple[Any, Message | None]] = []
        try:
            for group in groups:
                if done and self._stop.is_set():
                    break
                decoded = [(raw, self._decode(raw)) for raw in group]
                messages = [(raw, msg) for raw, msg in decoded if msg is not None]
                if messages:
                    self._handle(messages)
                done.extend(decoded)
        except Abandoned as exc:
            log.warning("%s: %s; its messages are redone after the restart", self.service, exc)
        with self.health.awaiting_acks():
            self.publisher.flush()  # everything derived from `done` is acknowledged after this
        self._commit(done)

    def _commit(self, done: list[tuple[Any, Message | None]]) -> None:
        """Store offsets up to the first message still held on each partition; a partition
        revoked meanwhile is skipped (its next owner re-reads it from the committed offset)."""
        with self._books:
            self._note_done(done)
            self._store()

    def _note_done(self, done: list[tuple[Any, Message | None]]) -> None:
        for raw, msg in done:
            tp, key = (raw.topic(), raw.partition()), raw.key()
            if tp not in self.assignment.owned:
                continue
            held = self._held.setdefault(tp, {})
            if msg is not None and msg.releases_key:
                self.release(key)
            elif msg is not None and msg.held:
                held.setdefault(key, []).append(raw.offset())
            self._next_offset[tp] = raw.offset() + 1

    def _store(self) -> None:
        offsets = []
        for (topic, partition), next_offset in self._next_offset.items():  # owned partitions only
            held = [o for keyed in self._held.get((topic, partition), {}).values() for o in keyed]
            offset = min([next_offset, *held])
            if offset != self._stored.get((topic, partition)):
                offsets.append(TopicPartition(topic, partition, offset))
                self._stored[(topic, partition)] = offset
        if offsets:
            self._consumer.store_offsets(offsets=offsets)
            try:
                self._consumer.commit(asynchronous=True)
            except KafkaException as exc:  # nothing new to commit is not an error
                if exc.args[0].code() != KafkaError._NO_OFFSET:
                    raise

    def release(self, key: bytes | str | None) -> None:
        """Release a key's held messages on every partition (a recording joined from several
        topics is released at once); a ``tick`` calls this for work that timed out."""
        key = key.encode() if isinstance(key, str) else key
        with self._books:
            for held in self._held.values():
                held.pop(key, None)

    def _decode(self, raw: Any) -> Message | None:
        self.sensor.on_message_in(raw.topic())
        try:
            schema, value = self.serde.decode(raw.value(), raw.headers())
        except SerializationError as exc:
            self._fail(raw, None, exc)
            return None
        headers = list(raw.headers() or [])
        trace = extract(headers) or TraceContext.new(value.get("trace_id"))
        msg = Message(
            raw.topic(),
            raw.partition(),
            raw.offset(),
            raw.key(),
            schema,
            value,
            headers,
            trace,
            raw.timestamp()[1],
        )
        self.sensor.on_queue_time(raw.topic(), time.time() - msg.produced_at_ms / 1000)
        return msg

    def _handle(self, messages: list[tuple[Any, Message]]) -> None:
        pending = list(range(len(messages)))
        results: list[Result] = [()] * len(messages)
        for attempt in range(self.settings.max_retries + 1):
            if self._stop.is_set() and attempt > 0:
                break
            batch = [messages[i][1] for i in pending]
            results_now = self._run_work(functools.partial(self._invoke, batch))
            for i, result in zip(pending, results_now, strict=True):
                results[i] = result
            pending = [i for i in pending if isinstance(results[i], RetryableError)]
            if not pending or attempt == self.settings.max_retries:
                break
            time.sleep(self.settings.retry_backoff_ms / 1000 * 2**attempt)
            for i in pending:
                messages[i][1].retries += 1
                self.sensor.on_retry(messages[i][1].topic)
        for (raw, msg), result in zip(messages, results, strict=True):
            if isinstance(result, BaseException):
                self._fail(raw, msg, result)
                continue
            try:
                self._emit(msg, result)
            except MessageTooLarge as exc:  # an output that can never be sent: the input goes
                self._fail(raw, msg, exc)  # to the DLQ with the reason, the rest keeps flowing

    def _invoke(self, msgs: list[Message]) -> list[Result]:
        started = time.perf_counter()
        try:
            with handling([m.trace_id for m in msgs], [recording_id(m) for m in msgs]):
                return self._invoke_in_context(msgs)
        finally:
            self.sensor.on_handler_done(time.perf_counter() - started, len(msgs))

    def _invoke_in_context(self, msgs: list[Message]) -> list[Result]:
        try:
            if self.batched:
                results: list[Result] = list(self.handler(msgs))  # type: ignore[arg-type]
                if len(results) != len(msgs):
                    raise TypeError(f"batch handler returned {len(results)} results for {len(msgs)}")
                return results
            return [self._call_one(m) for m in msgs]
        except Exception as exc:
            return [exc] * len(msgs)

    def _call_one(self, msg: Message) -> Result:
        with handling(msg.trace_id, recording_id(msg)):
            try:
                return list(self.handler(msg))  # type: ignore[arg-type]
            except Exception as exc:
                return exc

    def _emit(self, msg: Message, outputs: Sequence[Output]) -> None:
        for out in outputs:  # the publisher fills an empty trace_id from the child's trace
            self.publisher.send(out, msg.trace.child())

    def _fail(self, raw: Any, msg: Message | None, exc: BaseException) -> None:
        self.sensor.on_error(raw.topic(), type(exc).__name__)
        if not self.on_error(exc, msg):
            raise exc
        retries = msg.retries if msg else 0
        if isinstance(exc, RetryableError):
            exc = RetryableError(f"retries exhausted after {retries}: {exc}")
        log.warning("dead-lettering %s[%d]@%d: %s", raw.topic(), raw.partition(), raw.offset(), exc)
        self.publisher.send(dead_letter(raw, exc, self.service, retries))
        self.sensor.on_dead_letter(raw.topic(), type(exc).__name__)

    # -- callbacks --------------------------------------------------------------------------
    def _maybe_tick(self) -> None:
        """Call ``tick`` (timeouts of stateful services) in the loop thread, then commit."""
        if self.tick is None or time.monotonic() < self._next_tick:
            return
        tick = self.tick
        try:
            outputs = self._run_work(lambda: list(tick(self)))
        except Abandoned as exc:
            log.warning("%s: tick %s; it runs again after the restart", self.service, exc)
            return
        finally:
            self._next_tick = time.monotonic() + self.tick_interval_s
        for out in outputs:
            self.publisher.send(out)
        with self.health.awaiting_acks():
            self.publisher.flush()
        with self._books:
            self._store()

    def _forget(self, partitions: list[Partition]) -> None:
        """Revoked or lost: the next owner re-reads held messages from the committed offset.
        A partition that comes back is resumed on assignment (``Assignment.on_assign``), so it
        is no longer counted as paused: long work still in hand pauses it again."""
        self._paused.difference_update(partitions)  # the poll thread: no lock needed
        with self._books:
            for tp in partitions:
                for state in (self._held, self._next_offset, self._stored):
                    state.pop(tp, None)

    def _on_stats(self, stats_json: str) -> None:
        note_consumer_stats(stats_json, self.assignment, self.sensor)


def usable(raw: Any) -> bool:
    """A polled message to handle (not an end-of-partition event or an error); a fatal
    consumer error is raised."""
    err = raw.error()
    if err is None:
        return True
    if err.code() != KafkaError._PARTITION_EOF:
        log.warning("consumer error: %s", err)
        if err.fatal():
            raise KafkaException(err)
    return False


def recording_id(msg: Message) -> str:
    """The recording a message is about (its field, else its key), for log lines."""
    return msg.value.get("recording_id") or (msg.key or b"").decode(errors="replace")


def note_consumer_stats(stats_json: str, assignment: Assignment, sensor: Sensor) -> None:
    """librdkafka's statistics callback: the brokers it knows (for the stall watchdog) and
    the consumer lag per partition."""
    stats = json.loads(stats_json)
    assignment.note_stats(stats)
    for topic, tstats in stats.get("topics", {}).items():
        for part, pstats in tstats.get("partitions", {}).items():
            lag = pstats.get("consumer_lag", -1)
            if part != "-1" and lag >= 0:
                sensor.on_lag(topic, int(part), lag)

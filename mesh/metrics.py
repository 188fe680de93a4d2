"""Metrics as sensors: the loop calls hooks, one Prometheus implementation records them.

Handlers never import prometheus_client; a service that wants its own figure (RTF, entity
counts) calls ``sensor.observe(...)`` / ``sensor.count(...)`` / ``sensor.gauge(...)`` and gets
a labelled series named ``stt_<name>``.
"""

from __future__ import annotations

import threading
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Sensor(Protocol):
    def on_message_in(self, topic: str) -> None: ...
    def on_message_out(self, topic: str) -> None: ...
    def on_handler_done(self, seconds: float, messages: int) -> None: ...
    def on_queue_time(self, topic: str, seconds: float) -> None: ...
    def on_error(self, topic: str, error_type: str) -> None: ...
    def on_dead_letter(self, topic: str, reason: str) -> None: ...
    def on_retry(self, topic: str) -> None: ...
    def on_lag(self, topic: str, partition: int, lag: int) -> None: ...
    def on_rebalance(self, event: str, partitions: int) -> None: ...
    def on_assignment_lost(self, partitions: int) -> None: ...
    def observe(self, name: str, value: float, **labels: str) -> None: ...
    def count(self, name: str, amount: float = 1.0, **labels: str) -> None: ...
    def gauge(self, name: str, value: float, **labels: str) -> None: ...


class NullSensor:
    """Records nothing (unit tests, one-off scripts)."""

    def on_message_in(self, topic: str) -> None: ...
    def on_message_out(self, topic: str) -> None: ...
    def on_handler_done(self, seconds: float, messages: int) -> None: ...
    def on_queue_time(self, topic: str, seconds: float) -> None: ...
    def on_error(self, topic: str, error_type: str) -> None: ...
    def on_dead_letter(self, topic: str, reason: str) -> None: ...
    def on_retry(self, topic: str) -> None: ...
    def on_lag(self, topic: str, partition: int, lag: int) -> None: ...
    def on_rebalance(self, event: str, partitions: int) -> None: ...
    def on_assignment_lost(self, partitions: int) -> None: ...
    def observe(self, name: str, value: float, **labels: str) -> None: ...
    def count(self, name: str, amount: float = 1.0, **labels: str) -> None: ...
    def gauge(self, name: str, value: float, **labels: str) -> None: ...


class PrometheusSensor:
    """Prometheus series, in a registry of their own so several loops can share a process."""

    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        self.service = service
        self.registry = registry or CollectorRegistry()
        r, svc = self.registry, ["service"]
        self._in = Counter("stt_messages_in", "Messages consumed", [*svc, "topic"], registry=r)
        self._out = Counter("stt_messages_out", "Messages produced", [*svc, "topic"], registry=r)
        self._handler = Histogram(
            "stt_handler_seconds", "Handler time per call", svc, buckets=_SECONDS, registry=r
        )
        self._batch = Histogram(
            "stt_handler_batch_messages",
            "Messages per handler call",
            svc,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=r,
        )
        self._queue = Histogram(
            "stt_queue_seconds",
            "Now minus the event's produced time",
            [*svc, "topic"],
            buckets=_SECONDS,
            registry=r,
        )
        self._errors = Counter(
            "stt_errors", "Handler or decode errors", [*svc, "topic", "error_type"], registry=r
        )
        self._dlq = Counter(
            "stt_dead_letters", "Messages sent to a DLQ", [*svc, "topic", "reason"], registry=r
        )
        self._retries = Counter("stt_retries", "Handler retries", [*svc, "topic"], registry=r)
        self._lag = Gauge("stt_consumer_lag", "Consumer lag", [*svc, "topic", "partition"], registry=r)
        self._rebalances = Counter(
            "stt_rebalances", "Rebalance callbacks (assign, revoke, lost)", [*svc, "event"], registry=r
        )
        self._lost = Counter(
            "stt_assignments_lost", "Assignments lost (session timeout, fenced member)", svc, registry=r
        )
        self._assigned = Gauge(
            "stt_assigned_partitions", "Partitions assigned to this consumer", svc, registry=r
        )
        self._lost.labels(service)  # exported as 0 from the start, so a first loss is an increase
        self._consumed: set[str] = set()
        self._custom: dict[str, Histogram | Counter | Gauge] = {}
        self._lock = threading.Lock()

    def on_message_in(self, topic: str) -> None:
        self._in.labels(self.service, topic).inc()
        if topic not in self._consumed:
            # retries exported as 0 from a topic's first message: a first retry is an increase
            # and a topic without any reads 0, not no data
            self._consumed.add(topic)
            self._retries.labels(self.service, topic)

    def on_message_out(self, topic: str) -> None:
        self._out.labels(self.service, topic).inc()

    def on_handler_done(self, seconds: float, messages: int) -> None:
        self._handler.labels(self.service).observe(seconds)
        self._batch.labels(self.service).observe(messages)

    def on_queue_time(self, topic: str, seconds: float) -> None:
        self._queue.labels(self.service, topic).observe(max(seconds, 0.0))

    def on_error(self, topic: str, error_type: str) -> None:
        self._errors.labels(self.service, topic, error_type).inc()

    def on_dead_letter(self, topic: str, reason: str) -> None:
        self._dlq.labels(self.service, topic, reason[:60]).inc()

    def on_retry(self, topic: str) -> None:
        self._retries.labels(self.service, topic).inc()

    def on_lag(self, topic: str, partition: int, lag: int) -> None:
        self._lag.labels(self.service, topic, str(partition)).set(lag)

    def on_rebalance(self, event: str, partitions: int) -> None:
        self._rebalances.labels(self.service, event).inc()
        self._assigned.labels(self.service).set(partitions)  # what is owned after the event

    def on_assignment_lost(self, partitions: int) -> None:
        self._lost.labels(self.service).inc()

    def observe(self, name: str, value: float, **labels: str) -> None:
        metric = self._metric(name, labels, Histogram)
        assert isinstance(metric, Histogram), f"{name} is not a histogram"
        metric.labels(self.service, *labels.values()).observe(value)

    def count(self, name: str, amount: float = 1.0, **labels: str) -> None:
        metric = self._metric(name, labels, Counter)
        assert isinstance(metric, Counter), f"{name} is not a counter"
        metric.labels(self.service, *labels.values()).inc(amount)

    def gauge(self, name: str, value: float, **labels: str) -> None:
        """Set a value that goes up and down (a state, a share in effect)."""
        metric = self._metric(name, labels, Gauge)
        assert isinstance(metric, Gauge), f"{name} is not a gauge"
        metric.labels(self.service, *labels.values()).set(value)

    def _metric(self, name: str, labels: dict[str, str], kind: type) -> Histogram | Counter | Gauge:
        with self._lock:
            if name not in self._custom:
                names = ["service", *labels.keys()]
                if kind is Histogram:
                    self._custom[name] = Histogram(f"stt_{name}", name, names, registry=self.registry)
                elif kind is Gauge:
                    self._custom[name] = Gauge(f"stt_{name}", name, names, registry=self.registry)
                else:
                    self._custom[name] = Counter(f"stt_{name}", name, names, registry=self.registry)
            return self._custom[name]

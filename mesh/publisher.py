"""An idempotent producer that encodes events, carries trace context and checks delivery.

``send`` is asynchronous; ``flush`` waits for every acknowledgement and raises
``DeliveryError`` if any record was not acknowledged, so a caller stores input offsets only
after its outputs are safely in Kafka.
"""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from mesh.errors import DeliveryError, MessageTooLarge
from mesh.message import Output
from mesh.metrics import NullSensor, Sensor
from mesh.serde import AvroSerde
from mesh.settings import MeshSettings
from mesh.trace import TraceContext, inject


class Publisher:
    def __init__(
        self,
        settings: MeshSettings,
        service: str,
        *,
        serde: AvroSerde | None = None,
        producer: Any = None,
        sensor: Sensor | None = None,
    ) -> None:
        self.service = service
        self.serde = serde or AvroSerde(settings.schema_registry_url)
        conf = {**settings.producer_config(), "client.id": f"{service}-producer"}
        self._max_bytes = int(conf.get("message.max.bytes", 1_000_000))
        self._producer = producer or Producer(conf)
        self._closed = False
        self._sensor = sensor or NullSensor()
        self._failures: list[str] = []

    def send(self, out: Output, trace: TraceContext | None = None) -> TraceContext:
        """Encode and produce ``out``; returns the trace context it was sent with."""
        trace = trace or TraceContext.new(out.value.get("trace_id"))
        if "trace_id" in out.value and not out.value["trace_id"]:
            out.value["trace_id"] = trace.trace_id
        data, headers = self.serde.encode(out.schema, out.value)
        headers = inject([*out.headers, *headers], trace)
        self._produce(out.topic, data, out.key_bytes(), headers)
        self._sensor.on_message_out(out.topic)
        return trace

    def send_raw(self, topic: str, data: bytes, key: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        self._produce(topic, data, key, headers)

    def _produce(self, topic: str, data: bytes, key: bytes | None, headers: list[Any]) -> None:
        while True:
            try:
                self._producer.produce(topic, data, key, headers=headers, on_delivery=self._on_delivery)
                break
            except BufferError:  # local queue full: serve delivery reports, then try again
                self._producer.poll(0.5)
            except KafkaException as exc:
                if exc.args and exc.args[0].code() == KafkaError.MSG_SIZE_TOO_LARGE:
                    raise MessageTooLarge(
                        f"a {len(data)}-byte message for {topic} exceeds message.max.bytes "
                        f"({self._max_bytes}; STT_MESSAGE_MAX_BYTES)"
                    ) from exc
                raise
        self._producer.poll(0)

    def _on_delivery(self, err: KafkaError | None, msg: Any) -> None:
        if err is not None:
            self._failures.append(f"{msg.topic()}: {err}")

    def flush(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self._producer.flush(max(deadline - time.monotonic(), 0)) > 0:
            if time.monotonic() >= deadline:
                raise DeliveryError(f"{len(self._producer)} records not acknowledged in {timeout_s}s")
        if self._failures:
            failures, self._failures = self._failures, []
            raise DeliveryError("; ".join(failures[:5]))

    def close(self, timeout_s: float = 60.0) -> None:
        """Flush, then release the producer's connections (idempotent). The connections are
        released even when the flush fails (``DeliveryError`` still raised), so a producer
        left without brokers does not keep reconnecting after its owner gave up on it."""
        if self._closed:
            return
        self._closed = True
        try:
            self.flush(timeout_s)
        finally:
            closer = getattr(self._producer, "close", None)  # confluent-kafka >= 2.x
            if closer is not None:
                closer()

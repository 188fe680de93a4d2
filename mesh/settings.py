"""Connection settings shared by every service, read from ``STT_*`` environment variables.

Security options (SASL/SSL) are passed through untouched to confluent-kafka, so a production
cluster needs nothing but environment. Service-specific settings live in each service's
``config.py``; this is the only place the shared ones are read.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class MeshSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STT_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    kafka_extra: dict[str, str] = Field(
        default_factory=dict, description="Any further librdkafka options, as a JSON object."
    )
    schema_registry_url: str | None = Field(
        default=None, description="Use Confluent wire format with this registry (mock:// for tests)."
    )
    metrics_port: int | None = Field(
        default=9100, description="Port of /metrics, /healthz, /readyz; 0 picks a free one; None disables."
    )
    metrics_host: str = "0.0.0.0"
    unassigned_unhealthy_s: float | None = Field(
        default=None,
        description="A consumer without an assignment for longer than this, while its topics have "
        "partitions or no broker answers, reports /healthz 503 and its loop exits non-zero. "
        "Default: max.poll.interval.ms + session.timeout.ms of its consumer config + 15 s (360 s), "
        "the longest a healthy rebalance keeps a member waiting.",
    )
    rebalance_grace_s: float = Field(
        default=30.0, description="A consumer stays ready (/readyz) through a rebalance this short."
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="Service logs: text lines, or one JSON object per line.")
    log_level: str = "INFO"
    max_retries: int = 3
    retry_backoff_ms: int = 200
    message_max_bytes: int = 10 * 1024 * 1024

    def kafka_common(self) -> dict[str, Any]:
        """librdkafka options every client of this mesh gets."""
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        optional = {
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password.get_secret_value() if self.sasl_password else None,
            "ssl.ca.location": self.ssl_ca_location,
            "ssl.certificate.location": self.ssl_certificate_location,
            "ssl.key.location": self.ssl_key_location,
        }
        conf.update({k: v for k, v in optional.items() if v is not None})
        conf.update(self.kafka_extra)
        return conf

    def unassigned_limit_s(self, consumer_conf: dict[str, Any]) -> float:
        """``unassigned_unhealthy_s``, or the bound the broker puts on a rebalance: a member
        waits at most max.poll.interval.ms (the rebalance timeout) for the others to rejoin,
        plus a session timeout to notice a dead one."""
        if self.unassigned_unhealthy_s is not None:
            return self.unassigned_unhealthy_s
        poll_ms = int(consumer_conf.get("max.poll.interval.ms", 300_000))
        session_ms = int(consumer_conf.get("session.timeout.ms", 45_000))
        return (poll_ms + session_ms) / 1000 + 15.0

    def producer_config(self) -> dict[str, Any]:
        return {
            **self.kafka_common(),
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
            "message.max.bytes": self.message_max_bytes,
        }

    def consumer_config(self, group_id: str) -> dict[str, Any]:
        return {
            **self.kafka_common(),
            "group.id": group_id,
            "enable.auto.commit": True,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "fetch.max.bytes": max(self.message_max_bytes, 52428800),
            "max.partition.fetch.bytes": self.message_max_bytes,
            "statistics.interval.ms": 5000,
        }

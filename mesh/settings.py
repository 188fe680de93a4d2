"""Connection settings shared by every service, read from ``STT_*`` environment variables.

Security options (SASL/SSL) are passed through untouched to confluent-kafka, so a production
cluster needs nothing but environment. Service-specific settings live in each service's
``config.py``; this is the only place the shared ones are read.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
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
    max_poll_interval_ms: int = Field(
        default=300_000,
        ge=1_000,
        description="librdkafka's max.poll.interval.ms, set explicitly because every time budget "
        "derives from it: a loop that has not polled for this long leaves its group. The loop keeps "
        "polling while long work runs (see long_work_after_s), so this bounds a wedged loop, not a "
        "long recording. Liveness fails after 0.4x of it (liveness_s); the ASR batch pool's decode "
        "budget defaults to 0.8x of it (work_budget_s).",
    )
    session_timeout_ms: int = Field(
        default=45_000,
        ge=1_000,
        description="librdkafka's session.timeout.ms (heartbeats run on librdkafka's own thread).",
    )
    long_work_after_s: float | None = Field(
        default=None,
        gt=0,
        description="A handler call or tick still running after this long has the consumer's "
        "partitions paused while the loop keeps polling (group membership, rebalance callbacks) "
        "and beating (liveness) until the work ends; the partitions resume after it. Default: "
        "0.05x max.poll.interval.ms (15 s): librdkafka drops what it prefetched for a paused "
        "partition and fetches it again on resume, so pausing is kept for work that is really long.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="Service logs: text lines, or one JSON object per line."
    )
    log_level: str = "INFO"
    max_retries: int = 3
    retry_backoff_ms: int = 200
    message_max_bytes: int = 10 * 1024 * 1024

    @model_validator(mode="after")
    def _poll_interval_covers_a_session(self) -> MeshSettings:
        if self.max_poll_interval_ms < self.session_timeout_ms:  # librdkafka refuses it too
            raise ValueError(
                f"max_poll_interval_ms ({self.max_poll_interval_ms}) must be at least "
                f"session_timeout_ms ({self.session_timeout_ms})"
            )
        return self

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

    def liveness_s(self) -> float:
        """How long the loop may go without a beat before ``/healthz`` fails: well inside
        max.poll.interval.ms, so a wedged process is restarted before the broker evicts it and
        hands its partitions to another member."""
        return 0.4 * self.max_poll_interval_ms / 1000

    def pause_after_s(self) -> float:
        """When work in hand counts as long: ``long_work_after_s`` or 0.05x the poll interval."""
        if self.long_work_after_s is not None:
            return self.long_work_after_s
        return 0.05 * self.max_poll_interval_ms / 1000

    def work_budget_s(self) -> float:
        """The default time budget of one unit of work (an ASR batch decode before its
        fallback): 0.8x max.poll.interval.ms, the longest a handler could take even on the
        poll thread without losing the group."""
        return 0.8 * self.max_poll_interval_ms / 1000

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
            "max.poll.interval.ms": self.max_poll_interval_ms,
            "session.timeout.ms": self.session_timeout_ms,
            **self.kafka_extra,  # an explicit librdkafka option wins
        }

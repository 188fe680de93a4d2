"""Sink settings, read from ``STT_SINK_*`` environment variables (the only place they are read).

The DSN picks the store: ``chdb:///abs/path`` (or a relative path, resolved against the
working directory) is ClickHouse embedded in the sink's own process; ``http(s)://user:pw@host:8123``
is a real ClickHouse server reached with the same client code.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from mesh import topics

DEFAULT_TOPICS = [
    topics.RECORDINGS,
    topics.REDACTED,
    topics.DIARIZATION,
    topics.QUALITY,
    topics.GATES,
    topics.LLM_OUTCOMES,
    topics.JOBS,
]
DLQ_PATTERN = r"^stt\..*\.dlq$"


class SinkSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STT_SINK_", extra="ignore")

    dsn: str = Field(
        default="chdb://.stt-mesh/clickhouse",
        description="chdb://PATH (embedded) or http(s)://... (a ClickHouse server).",
    )
    database: str = "stt"
    group_id: str = "stt-sink"
    topics: list[str] = Field(default_factory=lambda: list(DEFAULT_TOPICS))
    dlq_pattern: str | None = Field(
        default=DLQ_PATTERN, description="Regex of dead-letter topics whose metadata is kept."
    )
    batch_max_rows: int = Field(default=50_000, ge=1, description="Insert once this many rows wait.")
    batch_max_s: float = Field(default=2.0, gt=0, description="... or once the oldest waited this long.")
    retry_min_s: float = Field(default=0.5, gt=0, description="First wait after a failed insert.")
    retry_max_s: float = Field(default=30.0, gt=0, description="Longest wait between insert attempts.")
    store_redacted_text: bool = Field(
        default=False, description="Keep the redacted transcript text (never the raw text)."
    )
    store_segment_scope: bool = Field(
        default=False, description="Also keep the per-chunk redacted transcripts, not only the call's."
    )
    metadata_keys: list[str] = Field(
        default_factory=lambda: [
            "batch_job",
            "batch_row",
            "golden_run",
            "golden_slice",
            "golden_split",
            "campaign",
            "region",
        ],
        description="Producer metadata keys copied to ClickHouse; every other key stays out.",
    )
    ttl_days: int = Field(default=400, ge=1, description="Retention of every table.")
    text_ttl_days: int = Field(default=30, ge=1, description="Retention of redacted text.")
    dlq_ttl_days: int = Field(default=30, ge=1, description="Retention of dead-letter metadata.")
    migrate_on_start: bool = Field(
        default=True, description="Apply missing migrations before consuming (off: a separate job does)."
    )
    cluster: str | None = Field(default=None, description="ON CLUSTER name: Replicated* engines.")
    http_host: str = "127.0.0.1"
    http_port: int | None = Field(
        default=8090, description="Read-only queries and recording results; None disables, 0 picks one."
    )
    query_max_rows: int = Field(default=10_000, ge=1, description="Most rows one HTTP query returns.")

    def resolved_dsn(self) -> str:
        """chdb:// with a relative path becomes absolute (chDB needs one)."""
        if self.dsn.startswith("chdb://"):
            path = self.dsn.removeprefix("chdb://")
            return f"chdb://{Path(path).expanduser().resolve()}"
        return self.dsn

    @property
    def embedded(self) -> bool:
        return self.dsn.startswith("chdb://")

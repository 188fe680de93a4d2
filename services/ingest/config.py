"""Ingest settings, read from ``STT_INGEST_*`` environment variables (the only place they are read).

Limits exist because ingest holds a whole recording in memory while it decodes and plans it:
about 64 kB per second of audio per channel (16 kHz float32), so the duration and size caps are
what bound a worker's memory.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STT_INGEST_", extra="ignore")

    chunk_target_s: float = Field(default=20.0, gt=0, description="Preferred chunk length.")
    chunk_max_s: float = Field(default=30.0, gt=0, le=30.0, description="Cap on a payload.")
    chunk_overlap_s: float = Field(default=1.0, ge=0, description="Overlap around forced cuts.")
    vad_min_silence_ms: int = Field(default=300, ge=50, description="Shortest pause to cut in.")
    max_duration_s: float = Field(default=4 * 3600.0, gt=0, description="Longest recording.")
    max_upload_bytes: int = Field(default=512 * 1024 * 1024, gt=0, description="Largest file.")
    max_channels: int = Field(default=8, ge=1, description="Most channels split_channels keeps.")
    min_sample_rate: int = Field(
        default=8000, ge=1, description="Lowest source rate accepted (telephone: 8 kHz)."
    )
    part_timeout_s: float = Field(
        default=300.0,
        gt=0,
        description="Fail an upload (parts on Kafka, an HTTP body) whose bytes stop arriving.",
    )
    max_buffered_bytes: int = Field(
        default=1024 * 1024 * 1024, gt=0, description="Cap on part bytes held for reassembly."
    )
    expiry_interval_s: float = Field(default=10.0, gt=0, description="Stalled-upload check period.")
    http_host: str = "0.0.0.0"
    http_port: int = 8080
    status_capacity: int = Field(
        default=10_000, ge=1, description="Recent uploads this replica remembers (GET, 409)."
    )
    results_url: str | None = Field(
        default="http://127.0.0.1:8090",
        description="The sink's HTTP API, asked first by GET /v1/recordings/{id}; empty or "
        "'none' answers from this replica's memory only.",
    )
    results_timeout_s: float = Field(default=2.0, gt=0, description="Wait on the result store.")

    @field_validator("results_url")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        value = (value or "").strip().rstrip("/")
        return None if value.lower() in ("", "none") else value

    @model_validator(mode="after")
    def _chunk_limits_agree(self) -> IngestSettings:
        if self.chunk_target_s > self.chunk_max_s:
            raise ValueError("chunk_target_s must not exceed chunk_max_s")
        if self.chunk_overlap_s >= self.chunk_max_s / 4:
            raise ValueError("chunk_overlap_s must be below chunk_max_s / 4")
        return self

"""Settings of the call-summary example: the only place its environment (``STT_SUMMARY_*``)
is read. Broker address and security come from ``mesh.MeshSettings`` (``STT_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SummarySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STT_SUMMARY_", extra="ignore")

    group_id: str = Field(default="stt-call-summary", description="Consumer group of the app.")
    threshold: float = Field(
        default=2 / 3, ge=0.0, le=1.0, description="A summary is accepted when its score is at least this."
    )
    max_units: int = Field(default=3, ge=1, description="Sentences (units) in a summary.")
    min_content_words: int = Field(
        default=8, ge=0, description="Generic check (no checklist): content words a summary needs."
    )
    price_per_1k_tokens_usd: float = Field(
        default=0.0005,
        ge=0.0,
        description="PLACEHOLDER price per 1,000 estimated tokens, to fill cost_usd; not a quote.",
    )
    metadata_wait_s: float = Field(
        default=30.0,
        gt=0,
        description="A transcript whose RecordingMetadata has not arrived after this long is "
        "judged without a checklist.",
    )
    max_wait_s: float = Field(
        default=3600.0, gt=0, description="Forget metadata whose recording transcript never came."
    )
    max_pending: int = Field(default=10_000, ge=1, description="Recordings waiting at most.")

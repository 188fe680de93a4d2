"""Settings of the quality service: the only place its environment (``STT_QUALITY_*``) is read.

Nested groups take JSON or ``__``-separated variables, e.g. ``STT_QUALITY_VERDICT__MAX_PROXY=0.3``,
``STT_QUALITY_GATE__PROTECTED='{"slice=telephone": 0.03}'``,
``STT_QUALITY_SLICE_METADATA_KEYS='["region", "client_version"]'``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.quality.cost import CostPolicy
from services.quality.gates import GatePolicy
from services.quality.slo import SloPolicy

PROXY_DIR = Path(__file__).resolve().parent / "proxy"


class VerdictSettings(BaseModel):
    """When a transcript is ``needs_review`` instead of ``accepted`` (each rule names a reason)."""

    min_coverage: float = Field(default=0.9, description="low_coverage below this speech coverage.")
    max_repetition_run: int = Field(
        default=3, description="repetition when an n-gram repeats back to back this often."
    )
    min_mean_word_probability: float = Field(
        default=0.55, description="low_confidence below this mean word probability."
    )
    max_low_probability_share: float = Field(
        default=0.35, description="low_confidence when more words than this are below p=0.5."
    )
    max_proxy: float = Field(default=0.30, description="high_proxy above this estimated WER.")
    min_language_probability: float = Field(
        default=0.5, description="language_mismatch needs the detector at least this sure."
    )
    min_words_per_speech_s: float = Field(
        default=0.6, description="sparse_words: fewer words per speech second than this."
    )
    max_words_per_speech_s: float = Field(
        default=6.0, description="dense_words: more words per speech second than this."
    )


class QualitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STT_QUALITY_", env_nested_delimiter="__", extra="ignore")

    app_id: str = Field(default="stt-quality", description="Faust app id: group and table topics.")
    faust_loglevel: str = Field(default="warning", description="Log level of the Faust worker.")
    datadir: Path = Field(
        default=Path(".stt-mesh/quality"),
        description="Faust's data folder (its tables are rebuilt from changelogs).",
    )
    partitions: int = Field(
        default=3, ge=1, description="Partitions of the joined topics (they must all have this many)."
    )
    replication_factor: int = Field(default=1, ge=1, description="Of the app's internal topics.")
    proxy_path: Path = Field(
        default=PROXY_DIR / "wer_proxy.json", description="Fitted WER-proxy coefficients (versioned file)."
    )
    join_timeout_s: float = Field(
        default=300.0,
        gt=0,
        description="A realtime recording with no new event for this long is reported partial "
        "(longer than redact's turns timeout, 120 s).",
    )
    batch_join_timeout_s: float = Field(
        default=3600.0, gt=0, description="The same for batch recordings, which queue behind backlogs."
    )
    join_expire_s: float = Field(
        default=86400.0,
        gt=0,
        description="A join reported partial and quiet this long is dropped (the changelog's retention).",
    )
    expect_turns: bool = Field(
        default=True, description="Wait for SpeakerTurns (false when diarize is not deployed)."
    )
    expect_redaction: bool = Field(
        default=True, description="Wait for the recording-scope RedactedTranscript."
    )
    sweep_interval_s: float = Field(default=5.0, gt=0, description="How often timeouts are checked.")
    slice_metadata_keys: list[str] = Field(
        default_factory=list,
        description="Producer metadata keys that become slice dimensions (region, client_version).",
    )
    window_s: float = Field(default=3600.0, gt=0, description="Tumbling window of the slice aggregates.")
    window_expires_s: float = Field(default=6 * 3600.0, gt=0, description="How long closed windows are kept.")
    gate_interval_s: float = Field(default=30.0, gt=0, description="How often the gates are evaluated.")
    gate_window_s: float = Field(
        default=24 * 3600.0, gt=0, description="Live samples older than this leave the gate."
    )
    gate_max_samples: int = Field(default=2000, ge=10, description="Samples kept per gate and arm.")
    verdict: VerdictSettings = Field(default_factory=VerdictSettings)
    gate: GatePolicy = Field(default_factory=GatePolicy)
    slo: SloPolicy = Field(default_factory=SloPolicy)
    cost: CostPolicy = Field(default_factory=CostPolicy)

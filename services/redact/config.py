"""Settings of the redaction service: the only place its environment (``STT_REDACT_*``) is read.

Policies come from a JSON file (``STT_REDACT_POLICIES_FILE``) shaped like
``{"default": {...}, "tenants": {"acme": {...}}}`` where each policy has ``name``,
``version``, ``entities``, ``operators`` ({"PERSON": "hash"}), ``default_operator``,
``score_threshold``. Hash salts are secrets and stay out of that file: either one
``STT_REDACT_HASH_KEY`` from which each tenant's salt is derived, or explicit
``STT_REDACT_HASH_SALTS='{"acme": "..."}'`` (mount both from a secret store).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class RedactSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STT_REDACT_", extra="ignore")

    model: str = Field(
        default="auto",
        description="spaCy NER model: installed package name, local path, or "
        "auto (the medium model if installed, else the small one).",
    )
    policies_file: Path | None = Field(default=None, description="JSON policy book.")
    hash_key: SecretStr | None = Field(default=None, description="Master key of tenant salts.")
    hash_salts: dict[str, SecretStr] = Field(default_factory=dict, description="Explicit salt per tenant.")
    segment_scope: Literal["all", "realtime", "off"] = Field(
        default="all",
        description="Emit a scope=segment output per ChunkTranscript (all), only "
        "for realtime-priority chunks, or never.",
    )
    recording_scope: bool = Field(default=True, description="Emit the whole-recording output.")
    diarization_enabled: bool | None = Field(
        default=None,
        description="Wait for SpeakerTurns before the recording-scope output: "
        "None (default) only while a diarizer is deployed: a diarizer pool's consumer group "
        "(diarizer_groups) has members, or had within diarizer_grace_s (or redact started less "
        "than that ago: a diarizer loading its model); True always (up to turns_timeout_s); "
        "False never.",
    )
    diarizer_groups: list[str] = Field(
        default_factory=lambda: ["stt-diarize-realtime", "stt-diarize-batch"],
        description="The diarizer pools' consumer groups; turns are expected while any has members.",
    )
    diarizer_check_s: float = Field(default=10.0, gt=0, description="How often that group is checked.")
    diarizer_grace_s: float = Field(
        default=120.0,
        ge=0,
        description="How long a diarizer without members (starting, restarting) still counts as deployed.",
    )
    turns_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="After all transcripts of a recording arrived, how long "
        "to wait for its SpeakerTurns before emitting without.",
    )
    max_recording_age_s: float = Field(
        default=3600.0, gt=0, description="Forget a recording whose transcripts never complete."
    )
    max_pending_recordings: int = Field(default=10_000, ge=1)
    ner_gate: bool = Field(default=True, description="Skip NER on segments with no possible name.")
    batch_size: int = Field(default=16, ge=1, description="Messages redacted together (nlp.pipe).")
    batch_timeout_ms: int = Field(default=20, ge=0, description="Longest wait to fill a batch.")

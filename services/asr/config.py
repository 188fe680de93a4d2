"""Settings of the ASR service: the only place its environment (``STT_ASR_*``) is read.

Nested groups take JSON or ``__``-separated variables, e.g. ``STT_ASR_DECODE__BEAM_SIZE=1``,
``STT_ASR_REALTIME__BATCH_SIZE=4``, ``STT_ASR_TENANT_PROMPTS='{"acme": {"hotwords": "Kafka"}}'``,
``STT_ASR_ROLLOUT__CANDIDATE_MODEL=/models/large-v3``, ``STT_ASR_ROLLOUT__CANDIDATE_SHARE=0.05``.

Two pools run the same code with different trade-offs: ``realtime`` takes small batches and
waits briefly for them (latency), ``batch`` takes large batches and waits longer (throughput).
A deploy runs one process (or pod) per pool, chosen with ``--pool`` or ``STT_ASR_POOL``.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, TypeAdapter, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.asr.coverage import CoverageSettings
from services.asr.decode import DecodeOptions
from services.asr.guards import GuardSettings

Pool = Literal["realtime", "batch"]
Arm = Literal["control", "candidate"]


class PoolSettings(BaseModel):
    batch_size: int = Field(default=8, ge=1, description="Most chunks decoded together.")
    batch_timeout_ms: int = Field(default=200, ge=0, description="Longest wait to fill a batch.")
    timeout_s: float | None = Field(
        default=60.0,
        gt=0,
        description="Budget of one main-model batch before it goes to the fallback; unset: 0.8x "
        "max.poll.interval.ms (STT_MAX_POLL_INTERVAL_MS, 240 s at its default).",
    )
    model: str | None = Field(default=None, description="Main model of this pool (default: model).")


class TenantPrompt(BaseModel):
    initial_prompt: str | None = Field(default=None, description="Text that conditions decoding.")
    hotwords: str | None = Field(default=None, description="Words the decoder should prefer.")


class VadOverrides(BaseModel):
    """VAD parameters of the candidate arm (the ``vad_*`` decode options); unset: as control."""

    filter: bool | None = Field(default=None, description="vad_filter: clip to speech first.")
    threshold: float | None = Field(default=None, ge=0, le=1, description="vad_threshold.")
    min_silence_ms: int | None = Field(default=None, ge=0, description="vad_min_silence_ms.")
    pad_ms: int | None = Field(default=None, ge=0, description="vad_pad_ms.")

    def as_decode(self) -> dict[str, Any]:
        return {f"vad_{k}": v for k, v in self.model_dump().items() if v is not None}


_DECODE_FIELDS = frozenset(f.name for f in fields(DecodeOptions))


class RolloutSettings(BaseModel):
    """A candidate model served beside the main (control) model to a share of recordings.

    Routing is per recording: ``candidate_tenants`` go wholly to the candidate, any other
    recording when a stable hash of ``salt`` and its id falls below ``candidate_share``, so
    every chunk of a recording, on every replica, takes the same arm. A chunk's
    ``hints.arm`` forces an arm. Gate decisions (``stt.gates.v1``) pause or roll back the
    candidate while the service runs (``rollout.py``); a rollback lasts as long as this
    configuration: only a different ``candidate_model`` starts a new rollout.
    """

    candidate_model: str | None = Field(
        default=None, description="Bundled name, mapped name or path; None: no candidate."
    )
    candidate_share: float = Field(
        default=0.0, ge=0, le=1, description="Share of recordings (by hash of id) it decodes."
    )
    candidate_tenants: list[str] = Field(
        default_factory=list, description="Tenants whose every recording goes to the candidate."
    )
    salt: str = Field(
        default="stt-asr-rollout",
        description="Mixed into the hash: a new salt draws a different set of recordings.",
    )
    candidate_decode: dict[str, Any] = Field(
        default_factory=dict,
        description='DecodeOptions overrides of the candidate arm only, e.g. {"beam_size": 1}.',
    )
    candidate_vad: VadOverrides = Field(
        default_factory=VadOverrides, description="VAD overrides of the candidate arm only."
    )

    @model_validator(mode="after")
    def _known_overrides(self) -> RolloutSettings:
        unknown = sorted(set(self.candidate_decode) - _DECODE_FIELDS)
        if unknown:
            raise ValueError(f"candidate_decode: not decode options: {', '.join(unknown)}")
        twice = sorted(set(self.candidate_vad.as_decode()) & set(self.candidate_decode))
        if twice:
            raise ValueError(f"set {', '.join(twice)} in candidate_decode or candidate_vad, not both")
        self.candidate_options(DecodeOptions())  # values of the wrong type fail at start
        return self

    def decode_overrides(self) -> dict[str, Any]:
        """Every decode option the candidate arm sets (VAD ones included), by option name."""
        return {**self.candidate_decode, **self.candidate_vad.as_decode()}

    def candidate_options(self, base: DecodeOptions) -> DecodeOptions:
        """``base`` (the control arm's options) with the candidate's overrides applied."""
        overrides = self.decode_overrides()
        if not overrides:
            return base
        return TypeAdapter(DecodeOptions).validate_python({**asdict(base), **overrides})


def _default_cache() -> Path:
    return Path.home() / ".cache" / "stt-mesh" / "models"


def _realtime() -> PoolSettings:
    return PoolSettings(batch_size=4, batch_timeout_ms=50, timeout_s=20.0)


def _batch() -> PoolSettings:
    return PoolSettings(batch_size=16, batch_timeout_ms=1000, timeout_s=None)  # derived


class AsrSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STT_ASR_", env_nested_delimiter="__", extra="ignore")

    pool: Pool = "realtime"
    model: str = Field(default="base", description="Bundled name (tiny.en, base), mapped name or path.")
    fallback_model: str | None = Field(
        default="tiny.en", description="Decodes chunks the main model failed or timed out on."
    )
    low_snr_model: str | None = Field(
        default=None, description="Decodes chunks whose stats.snr_db is below low_snr_db."
    )
    low_snr_db: float | None = None
    model_paths: dict[str, str] = Field(
        default_factory=dict, description="Model name -> local CTranslate2 directory."
    )
    model_cache_dir: Path = Field(default_factory=_default_cache)
    allow_download: bool = Field(
        default=False, description="Let unknown names download from the Hugging Face hub (GPU deploys)."
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compute_type: str = Field(default="auto", description="auto: float16 on CUDA, cpu_compute_type on CPU.")
    cpu_compute_type: str = "int8"
    device_index: int = 0
    cpu_threads: int = Field(default=0, ge=0, description="0: CTranslate2's default.")
    trim_heap: bool = Field(
        default=True,
        description="Return the C heap's free memory to the system after each "
        "batch (malloc_trim), so RSS does not creep up over hours.",
    )
    decode: DecodeOptions = Field(default_factory=DecodeOptions)
    guards: GuardSettings = Field(default_factory=GuardSettings)
    coverage: CoverageSettings = Field(
        default_factory=CoverageSettings,
        description="Speech coverage: re-decode uncovered speech, flag what stays uncovered.",
    )
    tenant_prompts: dict[str, TenantPrompt] = Field(default_factory=dict)
    realtime: PoolSettings = Field(default_factory=_realtime)
    batch: PoolSettings = Field(default_factory=_batch)
    rollout: RolloutSettings = Field(
        default_factory=RolloutSettings,
        description="Candidate model, the recordings it decodes and its decode overrides.",
    )

    def pool_settings(self, pool: Pool | None = None) -> PoolSettings:
        return self.realtime if (pool or self.pool) == "realtime" else self.batch

    def main_model(self, pool: Pool | None = None) -> str:
        return self.pool_settings(pool).model or self.model

    def candidate_options(self) -> DecodeOptions:
        """Decode options of the candidate arm: ``decode`` with the rollout's overrides."""
        return self.rollout.candidate_options(self.decode)

    def prompt_for(self, tenant: str) -> TenantPrompt:
        return self.tenant_prompts.get(tenant) or self.tenant_prompts.get("*") or TenantPrompt()

"""Settings of the ASR service: the only place its environment (``STT_ASR_*``) is read.

Nested groups take JSON or ``__``-separated variables, e.g. ``STT_ASR_DECODE__BEAM_SIZE=1``,
``STT_ASR_REALTIME__BATCH_SIZE=4``, ``STT_ASR_TENANT_PROMPTS='{"acme": {"hotwords": "Kafka"}}'``.

Two pools run the same code with different trade-offs: ``realtime`` takes small batches and
waits briefly for them (latency), ``batch`` takes large batches and waits longer (throughput).
A deploy runs one process (or pod) per pool, chosen with ``--pool`` or ``STT_ASR_POOL``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.asr.coverage import CoverageSettings
from services.asr.decode import DecodeOptions
from services.asr.guards import GuardSettings

Pool = Literal["realtime", "batch"]


class PoolSettings(BaseModel):
    batch_size: int = Field(default=8, ge=1, description="Most chunks decoded together.")
    batch_timeout_ms: int = Field(default=200, ge=0, description="Longest wait to fill a batch.")
    timeout_s: float | None = Field(
        default=60.0, gt=0,
        description="Budget of one main-model batch before it goes to the fallback.")
    model: str | None = Field(default=None, description="Main model of this pool (default: model).")


class TenantPrompt(BaseModel):
    initial_prompt: str | None = Field(default=None, description="Text that conditions decoding.")
    hotwords: str | None = Field(default=None, description="Words the decoder should prefer.")


def _default_cache() -> Path:
    return Path.home() / ".cache" / "stt-mesh" / "models"


def _realtime() -> PoolSettings:
    return PoolSettings(batch_size=4, batch_timeout_ms=50, timeout_s=20.0)


def _batch() -> PoolSettings:
    return PoolSettings(batch_size=16, batch_timeout_ms=1000, timeout_s=300.0)


class AsrSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STT_ASR_", env_nested_delimiter="__",
                                      extra="ignore")

    pool: Pool = "realtime"
    model: str = Field(
        default="base", description="Bundled name (tiny.en, base), mapped name or path.")
    fallback_model: str | None = Field(
        default="tiny.en", description="Decodes chunks the main model failed or timed out on.")
    low_snr_model: str | None = Field(
        default=None, description="Decodes chunks whose stats.snr_db is below low_snr_db.")
    low_snr_db: float | None = None
    model_paths: dict[str, str] = Field(
        default_factory=dict, description="Model name -> local CTranslate2 directory.")
    model_cache_dir: Path = Field(default_factory=_default_cache)
    allow_download: bool = Field(
        default=False,
        description="Let unknown names download from the Hugging Face hub (GPU deploys).")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compute_type: str = Field(
        default="auto", description="auto: float16 on CUDA, cpu_compute_type on CPU.")
    cpu_compute_type: str = "int8"
    device_index: int = 0
    cpu_threads: int = Field(default=0, ge=0, description="0: CTranslate2's default.")
    decode: DecodeOptions = Field(default_factory=DecodeOptions)
    guards: GuardSettings = Field(default_factory=GuardSettings)
    coverage: CoverageSettings = Field(
        default_factory=CoverageSettings,
        description="Speech coverage: re-decode uncovered speech, flag what stays uncovered.")
    tenant_prompts: dict[str, TenantPrompt] = Field(default_factory=dict)
    realtime: PoolSettings = Field(default_factory=_realtime)
    batch: PoolSettings = Field(default_factory=_batch)

    def pool_settings(self, pool: Pool | None = None) -> PoolSettings:
        return self.realtime if (pool or self.pool) == "realtime" else self.batch

    def main_model(self, pool: Pool | None = None) -> str:
        return self.pool_settings(pool).model or self.model

    def prompt_for(self, tenant: str) -> TenantPrompt:
        return self.tenant_prompts.get(tenant) or self.tenant_prompts.get("*") or TenantPrompt()

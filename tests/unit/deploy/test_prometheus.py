"""The Prometheus rules under infra/prometheus: valid for promtool, their alerts fire (and stay
quiet) on synthetic series as rules_test.yml says, and every metric they read is one the
services export."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.unit.deploy.metric_names import exported_names, metrics_in

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "infra" / "prometheus" / "rules.yml"


def promtool() -> str:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail("promtool is missing: `make system-deps` installs Debian's prometheus package")
    return tool


def test_the_rules_are_valid() -> None:
    out = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_burn_rate_alerts_fire_on_an_outage_and_not_on_a_blip() -> None:
    out = subprocess.run(
        [promtool(), "test", "rules", "rules_test.yml"], cwd=RULES.parent, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_metric_the_rules_read_is_exported() -> None:
    exported = exported_names()
    doc = yaml.safe_load(RULES.read_text())
    used = {m for group in doc["groups"] for rule in group["rules"] for m in metrics_in(rule["expr"])}
    assert used and used <= exported, f"not exported by any service: {sorted(used - exported)}"

"""The Prometheus metric names the services export, read from their source: literal
``"stt_*"`` names, ``f"stt_..._{n}"`` families with their ``names`` tuple, and ``stt_`` +
each name a sensor is given (``sensor.count("asr_...")``, or a name kept in a literal such as
``"asr_redecodes"`` and passed on); and what the dashboard and the rules read of them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = ROOT / "infra" / "grafana" / "stt-mesh.json"
RULES = ROOT / "infra" / "prometheus" / "rules.yml"
SOURCES = [p for d in ("mesh", "services") for p in (ROOT / d).rglob("*.py")]
_SERVICE_PREFIXES = "asr|diarize|ingest|redact|quality|sink"


def exported_names() -> set[str]:
    names: set[str] = set()
    for path in SOURCES:
        text = path.read_text()
        names.update(re.findall(r'"(stt_[a-z0-9_]+)"', text))
        names.update("stt_" + n for n in re.findall(rf'"((?:{_SERVICE_PREFIXES})_[a-z0-9_]+)"', text))
        # Gauge(f"stt_quality_slice_{n}") for n in names
        for family in re.findall(r'f"stt_([a-z_]+)_\{n\}"', text):
            block = re.search(r"names = \(([^)]*)\)", text)
            if block:
                names.update(f"stt_{family}_{n}" for n in re.findall(r'"([a-z0-9_]+)"', block.group(1)))
    return names


def metrics_in(expr: str) -> set[str]:
    """Metric names an expression reads (histogram/counter suffixes stripped)."""
    found = set(re.findall(r"\b(stt_[a-z0-9_]+)", expr))
    return {re.sub(r"_(bucket|count|sum|total)$", "", m) for m in found}


def selectors_in(expr: str) -> set[str]:
    """The ``stt_*`` series selectors an expression reads, as written (suffix and label
    matchers kept, range dropped): ``stt_queue_seconds_bucket{service="asr"}``."""
    return {m.group(0) for m in re.finditer(r"\bstt_[a-z0-9_]+(\{[^}]*\})?", expr)}


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target of the dashboard, rows' panels included."""

    def panels(items: list[dict]) -> list[dict]:
        return [q for p in items for q in (p, *panels(p.get("panels", [])))]

    doc = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in panels(doc["panels"]) for t in p.get("targets", [])]


def rule_groups() -> list[dict]:
    """The groups of rules.yml: ``name`` and ``rules`` (each a ``record`` or an ``alert``)."""
    return yaml.safe_load(RULES.read_text())["groups"]

"""The Grafana dashboard (infra/grafana/stt-mesh.json): valid JSON with the panels an operator
needs, and every query reads a metric the services export (a renamed metric fails here, not
on a blank panel in production)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.deploy.metric_names import exported_names, metrics_in

DASHBOARD = Path(__file__).resolve().parents[3] / "infra" / "grafana" / "stt-mesh.json"
NEEDED = (
    "Realtime factor",
    "Queue time",
    "p50 / p95 / p99",
    "Consumer lag",
    "Dead letters",
    "Retries",
    "coverage",
    "Re-decodes",
    "Language mix",
    "Accepted vs needs_review",
    "Cost per accepted",
    "Model versions",
    "Gate decisions",
)


def queries() -> list[tuple[str, str]]:
    doc = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in doc["panels"] for t in p["targets"]]


def test_the_dashboard_has_a_panel_for_each_operator_question() -> None:
    titles = " | ".join(p["title"] for p in json.loads(DASHBOARD.read_text())["panels"])
    missing = [n for n in NEEDED if n.lower() not in titles.lower()]
    assert not missing, missing


def test_every_query_reads_a_metric_the_code_exports() -> None:
    exported = exported_names()
    unknown = {(title, m) for title, expr in queries() for m in metrics_in(expr) if m not in exported}
    assert not unknown, sorted(unknown)
    assert all(metrics_in(expr) for _, expr in queries()), "a query that reads no metric"


def test_the_name_check_would_catch_a_renamed_metric() -> None:
    assert "stt_asr_rtf" in exported_names() and "stt_asr_rtf_renamed" not in exported_names()

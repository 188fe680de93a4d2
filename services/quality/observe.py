"""What the quality service exports on ``/metrics``: verdicts, proxy, coverage, hallucinations,
privacy errors, the queue-time SLO burn rates, unit cost, slice windows and gate decisions.

Counters are cumulative, so any window is a PromQL ``rate``; the gauges hold the service's own
views (burn rate over its two windows, cost per accepted transcript, the current window of
each slice), which are state a query could not rebuild from counters alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from prometheus_client import Gauge

from mesh.metrics import PrometheusSensor
from services.quality.aggregate import SliceWindow
from services.quality.config import QualitySettings
from services.quality.cost import UnitCost
from services.quality.slo import BurnRate


class _Labels(TypedDict):
    """The labels every per-recording series carries."""

    model: str
    arm: str


class Observer:
    def __init__(self, sensor: PrometheusSensor, settings: QualitySettings) -> None:
        self.sensor, self.settings = sensor, settings
        self.burn = BurnRate(settings.slo)
        self.cost = UnitCost(settings.cost)
        r = sensor.registry
        self._burn = Gauge(
            "stt_quality_queue_burn_rate",
            "Queue-time SLO burn rate (bad fraction / allowed bad fraction)",
            ["service", "window"],
            registry=r,
        )
        self._paging = Gauge(
            "stt_quality_queue_slo_paging",
            "1 while both burn-rate windows are above the paging rate",
            ["service"],
            registry=r,
        )
        self._unit_cost = Gauge(
            "stt_quality_cost_per_accepted_usd",
            "Cost per accepted transcript since start",
            ["service", "tenant", "model"],
            registry=r,
        )
        names = ("accepted_rate", "mean_wer_proxy", "p95_latency_seconds", "hallucination_rate", "reports")
        self._slice = {
            n: Gauge(
                f"stt_quality_slice_{n}", f"Current tumbling window: {n}", ["service", "slice"], registry=r
            )
            for n in names
        }
        self._gate = Gauge(
            "stt_quality_gate_state",
            "Last gate decision: 0 continue, 1 pause, 2 rollback",
            ["service", "gate", "canary"],
            registry=r,
        )

    def on_chunk(self, report: Mapping[str, Any], chunk: Mapping[str, Any]) -> None:
        labels = self._labels(report)
        self.sensor.count("quality_chunks", verdict=report["verdict"], **labels)
        queue_s = float(chunk.get("queue_ms") or 0.0) / 1000.0
        self.sensor.observe("quality_queue_seconds", queue_s, priority=chunk.get("priority", ""))
        self.burn.observe(chunk["produced_at_ms"] / 1000.0, queue_s)

    def on_recording(self, report: Mapping[str, Any]) -> None:
        labels = self._labels(report)
        self.sensor.count("quality_reports", verdict=report["verdict"], **labels)
        for reason in report["reasons"]:
            self.sensor.count("quality_review_reasons", reason=reason, **labels)
        self.sensor.observe("quality_wer_proxy", report["wer_proxy"], **labels)
        if report["true_wer"] is not None:
            self.sensor.observe("quality_true_wer", report["true_wer"], **labels)
        f = report["features"]
        if f.get("speech_s"):
            self.sensor.count("quality_speech_seconds", f["speech_s"], **labels)
            covered = f["speech_s"] * f["speech_coverage"]
            self.sensor.count("quality_covered_speech_seconds", covered, **labels)
        for lang, share in report["language_mix"].items():
            self.sensor.count(
                "quality_language_speech_seconds",
                share * f.get("speech_s", 0.0),
                language=lang,
                model=labels["model"],
            )
        if report["hallucinated_words"]:
            self.sensor.count("quality_hallucinated_words", report["hallucinated_words"], **labels)
        if report["privacy_errors"]:
            self.sensor.count("quality_privacy_errors", report["privacy_errors"], **labels)
        self.sensor.count("quality_cost_usd", report["cost_usd"], tenant=report["tenant"], **labels)
        if report["verdict"] == "accepted":
            self.sensor.count("quality_accepted", tenant=report["tenant"], **labels)
        self.cost.add(
            report["tenant"],
            labels["model"],
            processing_s=report["processing_s"],
            device=report["model"]["device"] or "cpu",
            accepted=report["verdict"] == "accepted",
            retries=report["retries"],
            fallback_used=min(1.0, f.get("fallback_share", 0.0)),
            arm=report["arm"],
            rtf=report["rtf"],
            cost_usd=report["cost_usd"],
        )
        for (tenant, model), value in self.cost.by_key().items():
            self._unit_cost.labels(self.sensor.service, tenant, model).set(value)

    def on_slice(self, key: str, window: SliceWindow) -> None:
        svc = self.sensor.service
        self._slice["accepted_rate"].labels(svc, key).set(window.accepted_rate)
        self._slice["mean_wer_proxy"].labels(svc, key).set(window.mean_proxy)
        self._slice["hallucination_rate"].labels(svc, key).set(window.hallucination_rate)
        self._slice["reports"].labels(svc, key).set(window.reports)
        p95 = window.latency_quantile(0.95)
        if p95 is not None:
            self._slice["p95_latency_seconds"].labels(svc, key).set(p95)

    def on_gate(self, event: Mapping[str, Any]) -> None:
        state = {"continue": 0, "pause": 1, "rollback": 2}[event["decision"]]
        canary = f"{event['canary']['name']}@{event['canary']['version']}"
        self._gate.labels(self.sensor.service, event["gate_id"], canary).set(state)
        self.sensor.count("quality_gate_decisions", decision=event["decision"], source=event["source"])

    def publish_slo(self, now_s: float) -> None:
        short, long = self.burn.rates(now_s)
        svc = self.sensor.service
        self._burn.labels(svc, "short").set(short)
        self._burn.labels(svc, "long").set(long)
        self._paging.labels(svc).set(float(self.burn.paging(now_s)))

    @staticmethod
    def _labels(report: Mapping[str, Any]) -> _Labels:
        m = report["model"]
        return {"model": f"{m['name']}@{m['version']}", "arm": report["arm"]}

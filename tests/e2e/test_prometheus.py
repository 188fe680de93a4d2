"""A real Prometheus against the running mesh: every service is a scrape target that is up,
the rules of infra/prometheus/rules.yml load and evaluate, and after real traffic every series
the dashboard (infra/grafana/stt-mesh.json) and the rules read has samples, every recording
rule has a value and every panel's query returns something.

The traffic causes every event a panel counts: the sample call with its reference and
checklist (the whole path, the sink and the downstream summary app included); a short call
that asks for the rollout candidate (the quality service then judges the live gate and
publishes a decision: too few samples, so a pause, which leaves a forced candidate arm working
for the golden run of test_quality_gate.py); speech the English-only model finds no words in
(Mandarin, and the sample call low-passed to 300 Hz: low-coverage chunks, re-decoded gaps);
and a raw message that is not Avro (the ingest dead-letters it). Retries are exported as 0
per consumed topic, so their panel and rule have data without one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from confluent_kafka import Producer

from mesh import MeshSettings, Publisher, topics
from services.ingest.cli import publish_files
from stt_mesh.demo import sample_metadata
from tests.e2e.conftest import METRICS_PORTS, SINK_PORT, free_ports, sample_dir
from tests.service_process import terminate
from tests.unit.deploy.metric_names import RULES, dashboard_queries, rule_groups, selectors_in

pytestmark = pytest.mark.e2e

TENANT = "e2e-prometheus"
# tiny.en transcribes no word of it (measured: speech 12.9 s, coverage 0, flagged low)
MANDARIN = "你好, 谢谢你的来电, 我能帮你什么忙吗? 我们的办公室在北京, 今天下午三点开门."


def prometheus_binary() -> str:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is missing: `make system-deps` installs Debian's prometheus package")
    return binary


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, **params: str) -> Any:
        resp = httpx.get(f"{self.url}{path}", params=params, timeout=10)
        body = resp.json()
        assert resp.status_code == 200 and body["status"] == "success", (path, params, body)
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.get("/api/v1/query", query=expr)["result"]


@pytest.fixture(scope="module")
def prometheus(stack: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """Prometheus scraping every service of the stack each second, with the project's rules."""
    binary = prometheus_binary()
    home = tmp_path_factory.mktemp("prometheus")
    [port] = free_ports(1, [*SINK_PORT, *METRICS_PORTS.values()])
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {
                "job_name": "stt-mesh",
                "static_configs": [
                    {"targets": [f"127.0.0.1:{p}"], "labels": {"process": name}}
                    for name, p in METRICS_PORTS.items()
                ],
            }
        ],
    }
    (home / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = home / "prometheus.log"
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={home / 'prometheus.yml'}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=home,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while not ready(f"{url}/-/ready"):
            assert proc.poll() is None, f"prometheus exited: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"prometheus not ready: {log.read_text()[-3000:]}"
            time.sleep(0.5)
        yield Prometheus(url)
    finally:
        terminate(proc)


def ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def traffic(prometheus: Prometheus, stack: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The module docstring's calls and raw message, once every call is completed in ClickHouse."""
    from stt_mesh.analysis import Results

    tmp = tmp_path_factory.mktemp("prometheus-traffic")
    wav, short, mandarin, muffled = (
        sample_dir() / "sample.wav",
        tmp / "candidate.wav",
        tmp / "mandarin.wav",
        tmp / "muffled.wav",
    )
    subprocess.run(
        ["espeak-ng", "-w", str(short), "good morning, thanks for calling, how can I help you"], check=True
    )
    subprocess.run(["espeak-ng", "-v", "cmn", "-w", str(tmp / "cmn.wav"), MANDARIN], check=True)
    subprocess.run(
        ["sox", str(tmp / "cmn.wav"), "-r", "16000", "-c", "1", "-b", "16", str(mandarin)], check=True
    )
    subprocess.run(
        ["sox", str(wav), str(muffled), "trim", "0", "12", "lowpass", "300", "lowpass", "300", "gain", "10"],
        check=True,
    )
    pub = Publisher(MeshSettings(bootstrap_servers=stack, metrics_port=None), service="e2e-prometheus")
    try:
        [(sample, _)] = publish_files(
            [wav], pub, tenant=TENANT, priority="realtime", metadata=sample_metadata(), progress=False
        )
        [(candidate, _)] = publish_files(
            [short], pub, tenant=TENANT, priority="realtime", arm="candidate", progress=False
        )
        unheard = publish_files([mandarin, muffled], pub, tenant=TENANT, priority="realtime", progress=False)
    finally:
        pub.close()
    raw = Producer({"bootstrap.servers": stack})
    raw.produce(topics.RAW, key=f"garbage-prometheus-{os.getpid()}".encode(), value=os.urandom(64))
    raw.flush(10)
    del raw  # no idle connections left to a broker that stops after the session

    ids = [sample, candidate, *(rid for rid, _ in unheard)]
    results, rows = Results(url=f"http://127.0.0.1:{SINK_PORT[-1]}"), []
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        try:
            rows = results.dicts(
                "SELECT recording_id, status, llm_tasks FROM stt.calls "
                "WHERE has({ids:Array(String)}, recording_id)",
                {"ids": ids},
            )
        except Exception:  # the sink may still be migrating
            rows = []
        done = {r["recording_id"]: r for r in rows if r["status"] == "completed"}
        if set(done) == set(ids) and done[sample]["llm_tasks"]:
            break
        time.sleep(2.0)
    else:
        raise AssertionError(f"the calls did not complete in time: {rows}")
    return {"sample": sample, "candidate": candidate}


def wanted_selectors() -> dict[str, str]:
    """selector -> where it is read (a panel title or a rule)."""
    wanted = {s: f"panel {title!r}" for title, expr in dashboard_queries() for s in selectors_in(expr)}
    for group in rule_groups():
        for rule in group["rules"]:
            for s in selectors_in(rule["expr"]):
                wanted.setdefault(s, f"rule {rule.get('record') or rule.get('alert')}")
    return wanted


def recorded() -> list[str]:
    return [r["record"] for g in rule_groups() for r in g["rules"] if "record" in r]


def missing(prometheus: Prometheus) -> dict[str, list[str]]:
    return {
        "series": [f"{s} ({where})" for s, where in wanted_selectors().items() if not prometheus.query(s)],
        "recording rules": [r for r in recorded() if not prometheus.query(r)],
        "panel queries": [f"{t}: {e}" for t, e in dashboard_queries() if not prometheus.query(e)],
    }


@pytest.fixture(scope="module")
def scraped(prometheus: Prometheus, traffic: dict[str, str]) -> dict[str, list[str]]:
    """What is still missing once the traffic is scraped (waits for rates to have two points,
    the slice windows and the gate decision to be published)."""
    deadline, gaps = time.monotonic() + 180, {}
    while time.monotonic() < deadline:
        gaps = missing(prometheus)
        if not any(gaps.values()):
            break
        time.sleep(2.0)
    return gaps


def test_every_service_is_a_target_that_is_up(prometheus: Prometheus, traffic) -> None:
    targets = prometheus.get("/api/v1/targets")["activeTargets"]
    assert {t["labels"]["process"] for t in targets} == set(METRICS_PORTS), targets
    up = {r["metric"]["process"]: r["value"][1] for r in prometheus.query("up")}
    down = {t["labels"]["process"]: t["lastError"] for t in targets if up.get(t["labels"]["process"]) != "1"}
    assert not down, down


def test_the_rule_groups_are_loaded_and_healthy(prometheus: Prometheus, traffic) -> None:
    groups = {g["name"]: g for g in prometheus.get("/api/v1/rules")["groups"]}
    assert set(groups) == {g["name"] for g in rule_groups()}
    for want in rule_groups():
        got = groups[want["name"]]["rules"]
        assert [r["name"] for r in got] == [r.get("record") or r["alert"] for r in want["rules"]]
        bad = [(r["name"], r["health"], r.get("lastError")) for r in got if r["health"] != "ok"]
        assert not bad, bad


def test_every_series_the_dashboard_and_the_rules_read_has_samples(scraped) -> None:
    assert not scraped["series"], scraped["series"]


def test_every_recording_rule_has_a_value(scraped) -> None:
    assert not scraped["recording rules"], scraped["recording rules"]


def test_every_panel_query_returns_data(scraped) -> None:
    assert not scraped["panel queries"], scraped["panel queries"]

"""Consumers under load survive broker restarts: each time the broker is down longer than
their session timeout, they lose their assignment (and say so: /readyz 503, a lost-assignment
count), and once it is back every group is STABLE with all its members again and a message
published afterwards is processed.

The broker is a throwaway one of this test's own (it is restarted), and its own log must show
every start. The workers are processes, as in production, and a worker that exits is started
again, as a supervisor would: that is how a consumer left without brokers by librdkafka (see
``mesh.rebalance``) recovers.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from infra.local import LocalKafka, create_topics
from mesh import DeliveryError, MeshSettings, Output, Publisher
from tests.kafka_helpers import read_all, wait_for
from tests.service_process import terminate

pytestmark = pytest.mark.integration

RESTARTS, GROUPS, MEMBERS, PARTITIONS = 3, 2, 2, 4
SESSION_MS = 6000  # the broker's group.min.session.timeout.ms
WORKER = Path(__file__).with_name("loop_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def free_port(pair: bool = False) -> int:
    """A free port (and, with ``pair``, the one after it free too, for the controller)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if not pair or (port < 65535 and _free(port + 1)):
            return port


def _free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def broker(tmp_path: Path):
    kafka = LocalKafka(home=tmp_path / "kafka", port=free_port(pair=True))
    kafka.start()
    try:
        yield kafka
    finally:
        kafka.stop()


@dataclass
class Worker:
    group: str
    logs: Path
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    exits: list[int] = field(default_factory=list)

    def start(self, bootstrap: str) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "STT_METRICS_PORT": str(self.port),
            "STT_METRICS_HOST": "127.0.0.1",
            "STT_UNASSIGNED_UNHEALTHY_S": "40",
            "STT_REBALANCE_GRACE_S": "1",
            "STT_KAFKA_EXTRA": json.dumps(
                {"session.timeout.ms": str(SESSION_MS), "heartbeat.interval.ms": "1000"}
            ),
        }
        args = [
            sys.executable,
            str(WORKER),
            bootstrap,
            f"in-{self.group}",
            f"out-{self.group}",
            self.group,
            "0.005",
        ]
        with self.logs.open("ab") as log:
            self.proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)

    def restart_if_exited(self, bootstrap: str) -> None:
        """What a supervisor does with a service that exits."""
        if self.proc is not None and self.proc.poll() is not None:
            self.exits.append(self.proc.returncode)
            self.start(bootstrap)

    def probe(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, ""
        except OSError:
            return 0, ""  # not listening (yet, or any more)

    def metric(self, name: str) -> float:
        """The sum of a series over its labels; -1 when it is not exported."""
        status, body = self.probe("/metrics")
        values = re.findall(rf"^{name}\{{[^}}]*\}} (\S+)$", body, re.M)
        return sum(map(float, values)) if status == 200 and values else -1.0

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc)


class Load:
    """Keeps messages flowing into every source topic, from a producer of its own."""

    def __init__(self, settings: MeshSettings, groups: list[str]) -> None:
        self._pub, self._groups = Publisher(settings, "load"), groups
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        i = 0
        while not self._done.wait(0.02):
            for group in self._groups:
                self._pub.send(Output(f"in-{group}", "LlmOutcome", outcome(f"load-{i}")))
            i += 1

    def stop(self) -> None:
        self._done.set()
        self._thread.join(10)
        with contextlib.suppress(DeliveryError):  # what it still has queued does not matter
            self._pub.close(timeout_s=5)


def outcome(rid: str) -> dict:
    return {
        "trace_id": uuid.uuid4().hex,
        "recording_id": rid,
        "tenant": "t",
        "task": "x",
        "accepted": True,
        "score": None,
        "latency_ms": 1.0,
        "cost_usd": 0.0,
        "model": None,
        "produced_at_ms": int(time.time() * 1000),
    }


def members(bootstrap: str, groups: list[str]) -> dict[str, set[str]] | None:
    """Member ids of every group that is STABLE with all members assigned; None otherwise.
    A new admin client each time: a long-lived one could be left without brokers itself."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        described = {g: f.result(10) for g, f in admin.describe_consumer_groups(groups).items()}
    except (KafkaException, TimeoutError):
        return None  # the coordinator is still loading
    ok = all(
        d.state.name == "STABLE"
        and len(d.members) == MEMBERS
        and all(m.assignment.topic_partitions for m in d.members)
        for d in described.values()
    )
    return {g: {m.member_id for m in d.members} for g, d in described.items()} if ok else None


def test_when_the_broker_restarts_under_load_then_every_group_recovers_and_consumes(
    broker: LocalKafka, tmp_path: Path
):
    groups = [f"g{i}-{uuid.uuid4().hex[:6]}" for i in range(GROUPS)]
    specs = [
        {
            "name": f"{kind}-{g}{dlq}",
            "partitions": PARTITIONS if kind == "in" and not dlq else 1,
            "config": {},
        }
        for g in groups
        for kind in ("in", "out")
        for dlq in ("", ".dlq")
    ]
    create_topics(broker.bootstrap, specs)
    workers = [Worker(g, tmp_path / f"{g}-{k}.log") for g in groups for k in range(MEMBERS)]
    settings = MeshSettings(bootstrap_servers=broker.bootstrap, metrics_port=None)
    for w in workers:
        w.start(broker.bootstrap)
    try:
        for n in range(RESTARTS):
            restart_under_load(n, broker, workers, groups, settings)
    except AssertionError:
        for w in workers:
            print(f"--- {w.logs.name} (exits {w.exits})\n{w.logs.read_text()[-3000:]}")
        raise
    finally:
        for w in workers:
            w.stop()
    print(f"workers restarted after exiting: {sum(len(w.exits) for w in workers)}")
    starts = broker.server_log.read_text().count("Transition from STARTING to STARTED")
    assert starts == RESTARTS + 1, "the broker's own log must record every start, for diagnosis"


def restart_under_load(
    n: int, broker: LocalKafka, workers: list[Worker], groups: list[str], settings: MeshSettings
) -> None:
    before = recovered(broker, workers, groups, timeout_s=90)
    load = Load(settings, groups)  # a producer per restart: one may be left without brokers too
    try:
        consumed = {id(w): w.metric("stt_messages_in_total") for w in workers}
        assert wait_for(
            lambda: all(w.metric("stt_messages_in_total") >= consumed[id(w)] + 20 for w in workers), 60
        ), "the load never reached every worker"
        lost = {id(w): (w.metric("stt_assignments_lost_total"), len(w.exits)) for w in workers}
        broker.stop()
        assert wait_for(lambda: all(w.probe("/readyz")[0] == 503 for w in workers), 30), (
            f"restart {n}: a consumer still reports ready with the broker gone"
        )
        broker.start()
        recovered(broker, workers, groups, timeout_s=120, replacing=before)
    finally:
        load.stop()
    same = [w for w in workers if len(w.exits) == lost[id(w)][1]]  # not restarted meanwhile
    assert all(w.metric("stt_assignments_lost_total") > lost[id(w)][0] for w in same), (
        f"restart {n}: an assignment lost while the broker was down was not counted"
    )
    marker = f"after-restart-{n}"
    publisher = Publisher(settings, "marker")
    for g in groups:
        publisher.send(Output(f"in-{g}", "LlmOutcome", outcome(marker)))
    publisher.close()
    for g in groups:
        assert wait_for(lambda g=g: processed(broker.bootstrap, g, marker), 60), (
            f"restart {n}: a message published after the restart was not processed by {g}"
        )


def recovered(
    broker: LocalKafka,
    workers: list[Worker],
    groups: list[str],
    timeout_s: float,
    replacing: dict[str, set[str]] | None = None,
) -> dict[str, set[str]]:
    """Wait until every worker is ready and every group is STABLE with all members assigned,
    none of them one of ``replacing`` (a broker that restarts restores the old members until
    their sessions expire); restarts workers that exited. Returns the groups' member ids."""
    state: dict[str, set[str]] = {}

    def settled() -> bool:
        for w in workers:
            w.restart_if_exited(broker.bootstrap)
        if not all(w.probe("/readyz")[0] == 200 for w in workers):
            return False
        state.clear()
        state.update(members(broker.bootstrap, groups) or {})
        fresh = all(not (state[g] & (replacing or {}).get(g, set())) for g in state)
        return bool(state) and fresh

    assert wait_for(settled, timeout_s, every_s=0.5), (
        f"the groups did not settle with all their members, all new: {state}"
    )
    return state


def processed(bootstrap: str, group: str, marker: str) -> bool:
    records = read_all(bootstrap, f"out-{group}", expect=1, timeout_s=5, settle_s=0.5)
    return any(value["recording_id"] == marker for _, value, _ in records)

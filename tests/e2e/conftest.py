"""The whole mesh, each service in its own process, against the session's real broker.

Services use the contract's fixed topic names, so e2e tests share one stack (started once
per module that asks for it) and tell their recordings apart by recording_id.
"""

from __future__ import annotations

import importlib.resources
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh import MeshSettings, Publisher
from stt_mesh.follow import Events

E2E_ENV = {
    # tiny.en keeps the suite inside CI's budget on 2 cores; `make run` uses the defaults.
    "STT_ASR_MODEL": "tiny.en",
    "STT_ASR_FALLBACK_MODEL": "tiny.en",
    "STT_ASR_DEVICE": "cpu",  # the assertions on compute type hold on a GPU host too
    # the rollout gate test's candidate (tests/e2e/test_quality_gate.py): base with a VAD that
    # only trusts loud, wideband speech, so it loses telephone speech; no live traffic
    # (share 0): only recordings that ask for the candidate arm get it
    "STT_ASR_ROLLOUT__CANDIDATE_MODEL": "base",
    "STT_ASR_ROLLOUT__CANDIDATE_VAD__THRESHOLD": "0.9",
    "STT_ASR_ROLLOUT__CANDIDATE_SHARE": "0",
    "STT_QUALITY_GATE__PROTECTED": '{"slice=telephone": 0.03}',
    "STT_QUALITY_GATE_INTERVAL_S": "5",
    # a part upload that never completes fails within a minute (tests/e2e/test_bad_input.py),
    # not after the 300 s default
    "STT_INGEST_PART_TIMEOUT_S": "60",
}


def sample_dir() -> Path:
    return Path(str(importlib.resources.files("pyannote.audio") / "sample"))


def sox_noise(path: Path, seconds: float, color: str = "whitenoise", volume: float = 0.003) -> Path:
    """A 16 kHz mono 16-bit WAV of sox's ``color`` noise (whitenoise, pinknoise ...) at ``volume``."""
    args = ["-r", "16000", "-c", "1", "-b", "16", str(path), "synth", str(seconds), color, "vol", str(volume)]
    subprocess.run(["sox", "-n", *args], check=True)
    return path


def stm_text(path: Path) -> str:
    return " ".join(line.split(None, 5)[5] for line in path.read_text().splitlines() if line.strip())


SINK_PORT: list[int] = []
# each service's /metrics port in the stack, by the name of its log file ("asr-realtime")
METRICS_PORTS: dict[str, int] = {}


def service_name(argv: list[str]) -> str:
    """The name ``start_services`` gives a service's log file: ``asr-realtime``, ``sink``."""
    return "-".join(argv).replace("--pool-", "")


def free_ports(n: int, exclude: list[int]) -> list[int]:
    """``n`` distinct ports free on every interface now (the services bind 0.0.0.0), none of
    ``exclude``; all are held open until all are chosen."""
    import contextlib
    import socket

    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        while len(ports) < n:
            sock = stack.enter_context(socket.socket())
            sock.bind(("0.0.0.0", 0))
            if sock.getsockname()[1] not in exclude:
                ports.append(sock.getsockname()[1])
        return ports


def sink_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The stack's sink: its own embedded ClickHouse and HTTP port (not `make run`'s)."""
    env, port = own_sink_env(tmp_path_factory)
    SINK_PORT.append(port)
    return env


def own_sink_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], int]:
    """A sink's environment (an embedded ClickHouse folder and an HTTP port of its own) and
    that port, for a stack other than the shared one: ``SINK_PORT`` keeps naming the shared
    stack's sink."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return {
        "STT_SINK_DSN": f"chdb://{tmp_path_factory.mktemp('clickhouse')}",
        "STT_SINK_HTTP_PORT": str(port),
        "STT_SINK_STORE_REDACTED_TEXT": "true",
        "STT_SINK_BATCH_MAX_S": "1",
    }, port


@pytest.fixture(scope="session")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from infra.local import create_topics, topic_specs
    from stt_mesh.demo import SERVICES, start_services, stop_services

    create_topics(kafka_bootstrap, topic_specs())
    logs = tmp_path_factory.mktemp("service-logs")
    env = {**E2E_ENV, **sink_env(tmp_path_factory)}
    # a known /metrics port per service (not 0), so a test can scrape them (test_prometheus.py)
    names = [service_name(argv) for argv in SERVICES]
    METRICS_PORTS.update(zip(names, free_ports(len(names), SINK_PORT), strict=True))
    procs = [
        proc
        for argv, name in zip(SERVICES, names, strict=True)
        for proc in start_services(
            kafka_bootstrap, logs, [argv], {**env, "STT_METRICS_PORT": str(METRICS_PORTS[name])}
        )
    ]
    try:
        yield kafka_bootstrap
    finally:
        stop_services(procs)
        codes = {" ".join(map(str, p.args[2:])): p.returncode for p in procs}
        bad = {name: code for name, code in codes.items() if code not in (0, -15)}
        assert not bad, f"services did not stop cleanly: {bad}; logs in {logs}"


@pytest.fixture
def results(stack: str):
    """The result store of the stack, through its sink's read-only HTTP API."""
    from stt_mesh.analysis import Results

    return Results(url=f"http://127.0.0.1:{SINK_PORT[-1]}")


@pytest.fixture
def publisher(stack: str) -> Iterator[Publisher]:
    pub = Publisher(MeshSettings(bootstrap_servers=stack, metrics_port=None), service="e2e")
    yield pub
    pub.close()  # no idle connections left to a broker that stops after the session


@pytest.fixture
def events(stack: str):
    opened: list[Events] = []

    def open_(*topics: str) -> Events:
        ev = Events(MeshSettings(bootstrap_servers=stack, metrics_port=None), topics)
        opened.append(ev)
        return ev

    yield open_
    for ev in opened:
        ev.close()

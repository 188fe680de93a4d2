"""``stt-mesh up`` as a person runs it: in a subprocess, with the light services (ingest, redact,
the sink: no Whisper model), against a broker it starts itself on a port of its own; ``stt-mesh
ps`` from another process sees every service ready; SIGTERM stops every service cleanly, then
the broker, and leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from stt_mesh import up

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
TEST_KAFKA_PORT = int(os.environ.get("STT_TEST_KAFKA_PORT", "19092"))
SERVICES = ["ingest", "redact", "sink"]


def kafka_port() -> int:
    """The test broker's port if it is free (the session broker may hold it), else one beside it;
    the controller takes the next port too."""
    for port in (TEST_KAFKA_PORT, TEST_KAFKA_PORT + 20, TEST_KAFKA_PORT + 40):
        if not up.port_in_use(port) and not up.port_in_use(port + 1):
            return port
    pytest.skip(f"no free broker port near {TEST_KAFKA_PORT}")


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def logs(directory: Path, out: Path) -> str:
    parts = [f"--- up ---\n{tail(out)}"]
    parts += [f"--- {p.name} ---\n{tail(p, 20)}" for p in sorted((directory / "logs").glob("*.log"))]
    return "\n".join(parts)


def test_up_starts_the_light_services_shows_them_ready_and_stops_them_all_on_sigterm(tmp_path: Path) -> None:
    directory, out = tmp_path / "stack", tmp_path / "up.out"
    port, sink_port = kafka_port(), up.free_port()
    cmd = [
        sys.executable,
        "-m",
        "stt_mesh.cli",
        "up",
        "--dir",
        str(directory),
        "--port",
        str(port),
        "--sink-port",
        str(sink_port),
        "--only",
        ",".join(SERVICES),
        "--ready-timeout",
        "180",
        "--grace",
        "20",
    ]
    # the stack's own settings only (a caller's STT_SINK_DSN would win over its ClickHouse)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STT_") or k == "STT_KAFKA_LIB"}
    started = time.monotonic()
    with out.open("wb") as sink_out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=sink_out, stderr=subprocess.STDOUT)
    state: up.StackState | None = None
    try:
        deadline, rows = time.monotonic() + 180, []
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"up exited with {proc.returncode}\n{logs(directory, out)}"
            state = up.read_state(up.state_path(directory))
            if state and state.phase == "running":
                rows = up.probe_rows(state.services, up.service_alive)
                if all(r.ready for r in rows):
                    break
            time.sleep(1.0)
        else:
            pytest.fail(f"not ready in 180 s (a loaded machine): {rows}\n{logs(directory, out)}")
        ready_s = time.monotonic() - started

        # another terminal: `stt-mesh ps` probes the same ports
        ps = subprocess.run(
            [sys.executable, "-m", "stt_mesh.cli", "ps", "--dir", str(directory), "--json"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ps.returncode == 0, ps.stderr
        shown = json.loads(ps.stdout)
        assert shown["supervisor_running"] and shown["broker_started"]
        assert shown["bootstrap"] == f"127.0.0.1:{port}"
        assert [(s["name"], s["healthz"], s["readyz"]) for s in shown["services"]] == [
            (name, "ok", "ok") for name in SERVICES
        ]
        assert len({s["port"] for s in shown["services"]}) == len(SERVICES)

        # the sink answers on the port up gave it, from the ClickHouse under --dir
        request = urllib.request.Request(
            f"http://127.0.0.1:{sink_port}/v1/query",
            method="POST",
            data=json.dumps({"sql": "SELECT 1 AS one"}).encode(),
        )
        with urllib.request.urlopen(request, timeout=30) as resp:
            assert json.loads(resp.read())["rows"] == [[1]]
        assert (directory / "clickhouse").is_dir()
        assert all((directory / "logs" / f"{name}.log").stat().st_size > 0 for name in SERVICES)

        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(90)
        total_s = time.monotonic() - started
        assert rc == 0, logs(directory, out)
        state = up.read_state(up.state_path(directory))
        assert state is not None and state.phase == "stopped" and state.clean
        assert [(s.name, s.status, s.killed) for s in state.services] == [
            (name, "stopped", False) for name in SERVICES
        ]
        assert all(s.exit_code in (0, -signal.SIGTERM) for s in state.services), state.services
        assert not any(up.service_alive(s) for s in state.services), "a service process is left running"
        assert not (directory / "kafka" / "kafka.pid").exists() and not up.port_in_use(port)
        text = out.read_text()
        assert "every service is ready" in text and "every service stopped cleanly" in text
        print(f"ready after {ready_s:.1f} s, stopped after {total_s:.1f} s")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for s in state.services if state else []:
            if up.service_alive(s) and s.pid:
                os.kill(s.pid, signal.SIGKILL)
        from infra.local import LocalKafka

        LocalKafka(home=directory / "kafka", port=port).stop()

"""One service (``python -m MODULE``) in a subprocess with its own log file, for the
integration suites that run a service as it is deployed; and ``SupervisedService``, a mesh
service that a test kills and starts again as a supervisor would."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def terminate(proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> int:
    """SIGTERM, then SIGKILL after ``timeout_s``; the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


class ServiceProcess:
    def __init__(self, module: str, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log.open("ab"),
        )

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout_s``; the exit code."""
        return terminate(self.proc, timeout_s)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "\n".join(text[-lines:])


def free_port(pair: bool = False) -> int:
    """A free port on 127.0.0.1 (with ``pair``, the one after it is free too: a broker's
    controller listens there)."""

    def taken(port: int) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if not pair or (port < 65535 and not taken(port + 1)):
            return port


class SupervisedService:
    """One mesh service as ``stt_mesh.demo.start_services`` runs it (``argv`` like an entry of
    its ``SERVICES``), on a metrics port of its own, that can be killed and started again with
    the same argv and environment, as a supervisor (Kubernetes, systemd) restarts a container.

    ``kills`` are the times it was killed on purpose; ``exits`` the (time, exit code) of every
    exit nobody asked for, noticed by ``restart_if_exited``."""

    def __init__(self, argv: list[str], bootstrap: str, log_dir: Path, env: dict[str, str]) -> None:
        self.argv, self.bootstrap, self.log_dir = list(argv), bootstrap, log_dir
        self.name = "-".join(argv).replace("--pool-", "")  # its log file is <name>.log
        self.port = free_port()
        self.env = {**env, "STT_METRICS_PORT": str(self.port), "STT_METRICS_HOST": "127.0.0.1"}
        self.lock = threading.Lock()  # held while the process is swapped
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.starts = 0
        self.kills: list[float] = []
        self.exits: list[tuple[float, int]] = []

    @property
    def log(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def start(self) -> None:
        from stt_mesh.demo import start_services

        [self.proc] = start_services(self.bootstrap, self.log_dir, [self.argv], self.env)
        self.started_at, self.starts = time.monotonic(), self.starts + 1

    def kill_and_restart(self) -> float:
        """SIGKILL (``kill -9``: no handler runs, nothing is flushed or committed), then start
        it again at once; returns when it was killed."""
        with self.lock:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)
            self.kills.append(time.monotonic())
            self.start()
            return self.kills[-1]

    def restart_if_exited(self) -> bool:
        """What a supervisor does with a process that exited: start it again."""
        with self.lock:
            if self.proc is None or self.proc.poll() is None:
                return False
            self.exits.append((time.monotonic(), self.proc.returncode))
            self.start()
            return True

    def probe(self, path: str, timeout_s: float = 5.0) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=timeout_s) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, ""
        except OSError:
            return 0, ""  # not listening (yet, or any more)

    def ready(self) -> bool:
        return self.probe("/readyz")[0] == 200

    def metric(self, name: str) -> float:
        """The sum of a series over its labels; -1 when the process does not answer."""
        status, body = self.probe("/metrics")
        if status != 200:
            return -1.0
        return sum(float(v) for v in re.findall(rf"^{name}(?:\{{[^}}]*\}})? (\S+)$", body, re.M))

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout_s``; the exit code."""
        with self.lock:
            if self.proc is None:
                return None
            return terminate(self.proc, timeout_s)

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "\n".join(text[-lines:])

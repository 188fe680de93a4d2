"""``stt-mesh up``: the local stack (broker, every service, the sink) as processes, one command.

    stt-mesh up [--only ingest,redact,sink] [--model tiny.en] [--env KEY=VALUE] [--detach]
    stt-mesh ps      the stack's processes, ports and probes, from any terminal
    stt-mesh down    stop a stack that runs in the background (or in another terminal)

``up`` starts the local Kafka (``infra.local.LocalKafka``, the v1 topics created as ``infra
up`` does) unless it runs already or ``--bootstrap`` names another broker, then each service
of ``stt_mesh.demo.SERVICES`` in its own process and process group, logging to
``<dir>/logs/<service>.log``, each with its own metrics port (``/metrics``, ``/healthz``,
``/readyz``: free ports by default, ``--metrics-base N`` for N, N+1, ...). The sink keeps the
embedded ClickHouse in ``<dir>/clickhouse`` and answers on ``--sink-port`` (8090), so ``stt-mesh
sql`` and ``stt-mesh result`` work against it.

It then shows a table of the processes (pid, port, /healthz, /readyz, restarts or exit code),
redrawn until every service is ready or ``--ready-timeout`` passes, and stays in the
foreground printing each change. A service that exits non-zero (a stalled consumer does, for
its supervisor to restart it) is started again after a backoff, up to ``--max-restarts`` times.
SIGINT or SIGTERM stops every service (SIGTERM, ``--grace`` seconds, then SIGKILL), then the
broker if ``up`` started it. The exit code is 0 when every service stopped cleanly, 1 when one
did not (it was killed, failed, or exited non-zero), 2 when the stack could not start.

The stack's state (pids, ports, the broker, exit codes) is in ``<dir>/up.json``, written
atomically on every change; ``ps`` and ``down`` read it and probe the ports themselves.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parents[1]
STATE_FILE = "up.json"
EXTRA_SERVICES: list[list[str]] = [["ingest", "http"]]  # selectable, not started by default
CLEAN_SIGNALS = (signal.SIGTERM, signal.SIGINT)  # a service stopped by these before its handler


# -- services -----------------------------------------------------------------------------------
def service_name(argv: Sequence[str]) -> str:
    """``asr --pool batch`` is ``asr-batch``; also the stem of the service's log file."""
    return "-".join(argv).replace("--pool-", "")


def service_module(argv: Sequence[str]) -> str:
    return argv[0] if "." in argv[0] else f"services.{argv[0]}"


def service_command(argv: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", service_module(argv), *argv[1:]]


def launch(
    argv: Sequence[str], env: dict[str, str], log_path: Path, new_group: bool = False
) -> subprocess.Popen[bytes]:
    """One service in its own process, stdout and stderr appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            service_command(argv),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            process_group=0 if new_group else None,
        )


@dataclass(frozen=True)
class Spec:
    argv: tuple[str, ...]

    @property
    def name(self) -> str:
        return service_name(self.argv)


def catalog() -> list[Spec]:
    from stt_mesh.demo import SERVICES

    return [Spec(tuple(a)) for a in SERVICES + EXTRA_SERVICES]


def default_specs() -> list[Spec]:
    from stt_mesh.demo import SERVICES

    return [Spec(tuple(a)) for a in SERVICES]


def matches(selector: str, spec: Spec) -> bool:
    """A selector names a service (``asr-batch``, ``ingest-http``), every pool of one (``asr``:
    realtime and batch, but ``ingest`` is not the HTTP intake), or a module by its last part
    (``call_summary`` or ``call-summary``)."""

    def norm(text: str) -> str:
        return text.strip().replace("-", "_")

    s, first = norm(selector), norm(spec.argv[0])
    pools_of = first == s and (len(spec.argv) == 1 or spec.argv[1] == "--pool")
    return s == norm(spec.name) or pools_of or ("." in first and s == first.rsplit(".", 1)[-1])


def select(
    only: Iterable[str] | None = None,
    also: Iterable[str] = (),
    available: Sequence[Spec] | None = None,
    default: Sequence[Spec] | None = None,
) -> list[Spec]:
    """The services to run: ``only`` (selectors) or the default set, plus ``also``; in catalog order."""
    available = list(available if available is not None else catalog())
    chosen = set(default if default is not None else default_specs()) if only is None else set()
    for selector in [*(only or []), *also]:
        hits = [s for s in available if matches(selector, s)]
        if not hits:
            names = ", ".join(s.name for s in available)
            raise ValueError(f"no service {selector!r}; choose from {names}")
        chosen.update(hits)
    if not chosen:
        raise ValueError("no service selected")
    return [s for s in available if s in chosen]


def split_list(values: Iterable[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [v for value in values for v in value.split(",") if v.strip()]


# -- ports --------------------------------------------------------------------------------------
def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PortError(RuntimeError):
    pass


def assign_ports(
    names: Sequence[str],
    base: int | None = None,
    avoid: Iterable[int] = (),
    in_use: Callable[[int], bool] = port_in_use,
    pick: Callable[[], int] = free_port,
) -> dict[str, int]:
    """A metrics port per service: ``base``, ``base + 1``, ... (each must be free), or free ports
    the system picks; never one of ``avoid`` (the broker's, the sink's) and never one twice."""
    avoid = set(avoid)
    ports: dict[str, int] = {}
    for i, name in enumerate(names):
        if base:
            port = base + i
            if port in avoid or in_use(port):
                raise PortError(f"metrics port {port} for {name} is taken; pick another --metrics-base")
        else:
            for _ in range(100):
                port = pick()
                if port not in avoid and port not in ports.values():
                    break
            else:
                raise PortError(f"no free port for {name}")
        ports[name] = port
    return ports


# -- state file ---------------------------------------------------------------------------------
@dataclass
class ProcState:
    name: str
    argv: list[str]
    port: int
    log: str
    pid: int | None = None
    status: str = "pending"  # pending, starting, running, restarting, exited, failed, stopping,
    # stopped, not started (asked to stop before its turn), gone (ended while nothing watched it)
    restarts: int = 0
    exit_code: int | None = None
    killed: bool = False  # SIGKILLed after the grace

    @property
    def clean(self) -> bool:
        """Stopped on request without a SIGKILL: exit code 0, or the signal it was sent (before
        its handler was in place), or unknown for a process stopped by pid (not our child)."""
        if self.killed:
            return False
        if self.status == "not started":
            return True
        if self.exit_code is None:
            return self.status == "stopped"
        return self.exit_code == 0 or -self.exit_code in CLEAN_SIGNALS


@dataclass
class StackState:
    dir: str
    supervisor_pid: int
    bootstrap: str
    broker_started: bool = False  # by this stack: `down` and the end of `up` stop it
    broker_home: str | None = None
    broker_port: int | None = None
    sink_url: str | None = None
    phase: str = "starting"  # starting, running, stopping, stopped
    started_at: float = field(default_factory=time.time)
    stopped_at: float | None = None
    clean: bool | None = None
    services: list[ProcState] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StackState:
        services = [ProcState(**s) for s in data.get("services", [])]
        return cls(**{**data, "services": services})


def state_path(directory: Path) -> Path:
    return directory / STATE_FILE


def write_state(path: Path, state: StackState) -> None:
    """Atomically: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(state.to_json())
    os.replace(tmp, path)


def read_state(path: Path) -> StackState | None:
    try:
        return StackState.from_dict(json.loads(path.read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError, KeyError):
        return None


# -- probes and the table -----------------------------------------------------------------------
def probe(port: int, path: str, timeout_s: float = 1.0) -> str:
    """``ok`` (200), the HTTP status of any other answer, or ``-`` when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout_s) as resp:
            return "ok" if resp.status == 200 else str(resp.status)
    except urllib.error.HTTPError as exc:
        return str(exc.code)
    except (OSError, ValueError):
        return "-"


@dataclass(frozen=True)
class Row:
    name: str
    pid: int | None
    port: int
    status: str
    healthz: str = "-"
    readyz: str = "-"
    restarts: int = 0
    exit_code: int | None = None

    @property
    def ready(self) -> bool:
        return self.status == "running" and self.readyz == "ok"


_PROBE_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="probe")


def probe_rows(services: Sequence[ProcState], alive: Callable[[ProcState], bool]) -> list[Row]:
    """A row per service; a running one's probes are asked in parallel."""

    def one(s: ProcState) -> Row:
        live = s.status in ("starting", "running", "stopping") and alive(s)
        status = (
            ("running" if s.status == "starting" else s.status)
            if live
            else (s.status if s.status not in ("starting", "running") else "gone")
        )
        hz, rz = (probe(s.port, "/healthz"), probe(s.port, "/readyz")) if live else ("-", "-")
        return Row(s.name, s.pid if live else None, s.port, status, hz, rz, s.restarts, s.exit_code)

    return list(_PROBE_POOL.map(one, services))


HEADER = ("SERVICE", "PID", "PORT", "STATUS", "HEALTHZ", "READYZ", "RESTARTS", "EXIT")


def render_table(rows: Sequence[Row]) -> list[str]:
    cells = [HEADER] + [
        (
            r.name,
            "-" if r.pid is None else str(r.pid),
            str(r.port),
            r.status,
            r.healthz,
            r.readyz,
            str(r.restarts),
            "-" if r.exit_code is None else str(r.exit_code),
        )
        for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    return ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells]


def summary_line(rows: Sequence[Row]) -> str:
    ready = sum(r.ready for r in rows)
    return f"{ready}/{len(rows)} ready"


def changes(before: Sequence[Row], after: Sequence[Row]) -> list[str]:
    """What changed per service between two probes, one line each."""
    old = {r.name: r for r in before}
    lines = []
    for r in after:
        o = old.get(r.name)
        if o is None:
            continue
        diffs = [
            f"{label} {a} -> {b}"
            for label, a, b in (
                ("status", o.status, r.status),
                ("healthz", o.healthz, r.healthz),
                ("readyz", o.readyz, r.readyz),
                ("pid", o.pid, r.pid),
                ("exit", o.exit_code, r.exit_code),
            )
            if a != b and not (label in ("pid", "exit") and b is None)
        ]
        if diffs:
            lines.append(f"{r.name}: {', '.join(diffs)}")
    return lines


# -- processes ----------------------------------------------------------------------------------
class Proc(Protocol):
    pid: int

    def poll(self) -> int | None: ...
    def send_signal(self, sig: int) -> None: ...
    def kill(self) -> None: ...


@dataclass
class Exit:
    code: int | None
    killed: bool


def stop_processes(
    procs: Sequence[Proc],
    grace_s: float = 30.0,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Exit]:
    """SIGTERM every live process, wait up to ``grace_s`` for all of them, SIGKILL the rest and
    reap them; each one's exit code and whether it had to be killed."""
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
    deadline = clock() + grace_s
    while any(p.poll() is None for p in procs) and clock() < deadline:
        sleep(0.1)
    killed = set()
    for i, proc in enumerate(procs):
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            killed.add(i)
    kill_deadline = clock() + 10.0
    while any(p.poll() is None for p in procs) and clock() < kill_deadline:
        sleep(0.05)
    return [Exit(p.poll(), i in killed) for i, p in enumerate(procs)]


def backoff_s(restarts: int) -> float:
    return float(min(2**restarts, 30))


class Supervisor:
    """Runs the services, restarts the ones that fail, and stops them all."""

    def __init__(
        self,
        services: list[ProcState],
        spawn: Callable[[ProcState], Proc],
        max_restarts: int = 3,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.services, self.spawn, self.max_restarts = services, spawn, max_restarts
        self.clock, self.sleep = clock, sleep
        self.procs: dict[str, Proc] = {}
        self._restart_at: dict[str, float] = {}
        self.stopping = False

    def start(self, s: ProcState) -> None:
        proc = self.spawn(s)
        self.procs[s.name] = proc
        s.pid, s.status, s.exit_code = proc.pid, "starting", None

    def start_all(self, stop: Callable[[], bool] = lambda: False) -> None:
        for s in self.services:
            if stop():
                return
            self.start(s)

    def check(self) -> bool:
        """Note exits and due restarts; whether anything changed."""
        changed, now = False, self.clock()
        for s in self.services:
            proc = self.procs.get(s.name)
            if s.status == "restarting" and now >= self._restart_at.get(s.name, now) and not self.stopping:
                s.restarts += 1
                self.start(s)
                changed = True
            elif proc is not None and s.status in ("starting", "running"):
                code = proc.poll()
                if code is None:
                    if s.status == "starting":
                        s.status, changed = "running", True
                    continue
                s.exit_code, changed = code, True
                if code != 0 and s.restarts < self.max_restarts:
                    s.status = "restarting"
                    self._restart_at[s.name] = now + backoff_s(s.restarts)
                else:
                    s.status = "exited" if code == 0 else "failed"
        return changed

    def stop(self, grace_s: float) -> bool:
        """Stop every service; whether each stopped cleanly (one that had failed did not)."""
        self.stopping = True
        live = [s for s in self.services if s.status in ("starting", "running") and s.name in self.procs]
        for s in live:
            s.status = "stopping"
        exits = stop_processes(
            [self.procs[s.name] for s in live], grace_s, clock=self.clock, sleep=self.sleep
        )
        for s, e in zip(live, exits, strict=True):
            s.exit_code, s.killed, s.status = e.code, e.killed, "stopped"
        for s in self.services:
            if s.status == "restarting":
                s.status = "failed"
            elif s.status == "pending":
                s.status = "not started"
        return all(s.clean for s in self.services)


# -- pids of a stack started elsewhere ----------------------------------------------------------
def pid_runs(pid: int | None, *needles: str) -> bool:
    """The process ``pid`` is alive (not a zombie) and its command line contains one of
    ``needles`` (any, when none is given): a pid from the state file may since belong to
    another program."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    alive = stat.rsplit(")", 1)[-1].split()[0] != "Z"
    return alive and (not needles or any(n in cmdline for n in needles))


def supervisor_alive(state: StackState) -> bool:
    return pid_runs(state.supervisor_pid, "stt_mesh", "stt-mesh")


def service_alive(s: ProcState) -> bool:
    return pid_runs(s.pid, service_module(s.argv))


# -- environment --------------------------------------------------------------------------------
def service_env(
    base: dict[str, str],
    directory: Path,
    bootstrap: str,
    metrics_port: int,
    sink_port: int,
    model: str | None = None,
    overrides: dict[str, str] | None = None,
) -> dict[str, str]:
    """Local defaults (state under ``directory``) < the caller's environment < what ``up``
    must set (broker, ports) < ``--model`` < ``--env``."""
    from stt_mesh.demo import DEMO_ENV

    defaults = {
        "STT_SINK_DSN": f"chdb://{directory / 'clickhouse'}",
        "STT_QUALITY_DATADIR": str(directory / "quality"),
        "STT_DIARIZE_STATE_DIR": str(directory / "diarize"),
        "STT_METRICS_HOST": "127.0.0.1",
        "PYANNOTE_METRICS_ENABLED": "false",
        "HF_HUB_OFFLINE": "1",
        **DEMO_ENV,
    }
    env = {
        **defaults,
        **base,
        "STT_BOOTSTRAP_SERVERS": bootstrap,
        "STT_METRICS_PORT": str(metrics_port),
        "STT_SINK_HTTP_PORT": str(sink_port),
    }
    if model:
        env["STT_ASR_MODEL"] = model
    return {**env, **(overrides or {})}


def parse_env(pairs: Iterable[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--env takes KEY=VALUE, not {pair!r}")
        out[key] = value
    return out


# -- the commands -------------------------------------------------------------------------------
class Screen:
    """The table, redrawn in place on a terminal; elsewhere (a log file) only the changes."""

    def __init__(self, out: Any = None) -> None:
        self.out = out or sys.stdout
        self.tty = bool(getattr(self.out, "isatty", lambda: False)())
        self.drawn = 0
        self.live = True

    def table(self, rows: Sequence[Row], note: str) -> None:
        lines = [*render_table(rows), note]
        if self.tty and self.drawn:
            self.out.write(f"\x1b[{self.drawn}F\x1b[J")
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()
        self.drawn = len(lines) if self.tty else 0

    def lines(self, lines: Iterable[str]) -> None:
        stamp = time.strftime("%H:%M:%S")
        for line in lines:
            self.out.write(f"{stamp} {line}\n")
        self.out.flush()


def cmd_up(args: argparse.Namespace) -> int:
    directory = Path(args.dir).expanduser().resolve()
    if args.detach:
        return detach(args, directory)
    try:
        specs = select(split_list(args.only), split_list(args.also) or [])
        overrides = parse_env(args.env)
    except ValueError as exc:
        print(f"stt-mesh up: error: {exc}", file=sys.stderr)
        return 2
    path = state_path(directory)
    previous = read_state(path)
    if previous and supervisor_alive(previous):
        print(
            f"stt-mesh up: a stack runs from {directory} already (pid {previous.supervisor_pid}); "
            f"see `stt-mesh ps --dir {args.dir}` or stop it with `stt-mesh down --dir {args.dir}`",
            file=sys.stderr,
        )
        return 2
    left = [f"{s.name} (pid {s.pid})" for s in previous.services if service_alive(s)] if previous else []
    if left:
        print(
            f"stt-mesh up: services of an earlier stack from {directory} still run: {', '.join(left)}; "
            f"`stt-mesh down --dir {args.dir}` stops them",
            file=sys.stderr,
        )
        return 2

    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return Stack(args, directory, specs, overrides, stop).run()


class Stack:
    def __init__(
        self,
        args: argparse.Namespace,
        directory: Path,
        specs: list[Spec],
        overrides: dict[str, str],
        stop: threading.Event,
    ) -> None:
        self.args, self.dir, self.specs, self.overrides, self.stop = args, directory, specs, overrides, stop
        self.path = state_path(directory)
        self.broker: Any = None
        self.state: StackState | None = None

    @property
    def has_sink(self) -> bool:
        return any(s.argv[0] == "sink" for s in self.specs)

    def say(self, text: str) -> None:
        print(text, flush=True)

    def run(self) -> int:
        args = self.args
        sink_port = args.sink_port
        if self.has_sink and port_in_use(sink_port):
            self.say(
                f"stt-mesh up: the sink's port {sink_port} is taken (a `make run`?); "
                "pick another with --sink-port"
            )
            return 2
        bootstrap, started = self.start_broker()
        if bootstrap is None:
            return 2
        try:
            avoid = {sink_port} | ({args.port, args.port + 1} if started is not None else set())
            ports = assign_ports([s.name for s in self.specs], args.metrics_base, avoid)
        except PortError as exc:
            self.say(f"stt-mesh up: error: {exc}")
            self.stop_broker(bool(started))
            return 2
        logs = self.dir / "logs"
        services = [
            ProcState(s.name, list(s.argv), ports[s.name], str(logs / f"{s.name}.log")) for s in self.specs
        ]
        self.state = StackState(
            dir=str(self.dir),
            supervisor_pid=os.getpid(),
            bootstrap=bootstrap,
            broker_started=bool(started),
            broker_home=str(self.dir / "kafka") if started is not None else None,
            broker_port=args.port if started is not None else None,
            sink_url=f"http://127.0.0.1:{sink_port}" if self.has_sink else None,
            services=services,
        )
        base = dict(os.environ)

        def spawn(s: ProcState) -> Proc:
            env = service_env(base, self.dir, bootstrap, s.port, sink_port, args.model, self.overrides)
            return launch(s.argv, env, Path(s.log), new_group=True)

        sup = Supervisor(services, spawn, max_restarts=args.max_restarts)
        try:
            sup.start_all(self.stop.is_set)
            self.state.phase = "running"
            write_state(self.path, self.state)
            self.say(
                f"{len(services)} service(s) on {bootstrap}; logs in {logs}"
                + (f"; sink {self.state.sink_url}" if self.state.sink_url else "")
            )
            self.watch(sup)
        finally:
            clean = self.shutdown(sup)
        return 0 if clean else 1

    def start_broker(self) -> tuple[str | None, bool | None]:
        """The bootstrap address and whether this stack started the broker (None: not ours)."""
        from infra.local import LocalKafka, create_topics, kafka_version, topic_specs

        if self.args.bootstrap:
            try:
                created = create_topics(self.args.bootstrap, topic_specs())
            except Exception as exc:
                self.say(f"stt-mesh up: the broker at {self.args.bootstrap} did not answer: {exc}")
                return None, None
            self.say(f"broker {self.args.bootstrap} (not started here); {len(created)} topics created")
            return self.args.bootstrap, None
        self.broker = LocalKafka(home=self.dir / "kafka", port=self.args.port)
        started = not self.broker.running()
        verb = "starting" if started else "reusing"
        self.say(f"{verb} Kafka {kafka_version()} on {self.broker.bootstrap} ...")
        try:
            created = self.broker.up()
        except (RuntimeError, TimeoutError, OSError, subprocess.CalledProcessError) as exc:
            self.say(f"stt-mesh up: Kafka did not start: {exc}")
            if started:
                self.broker.stop()
            return None, None
        self.say(f"Kafka up; {len(created)} topics created")
        return self.broker.bootstrap, started

    def stop_broker(self, started: bool) -> None:
        if started and self.broker is not None:
            self.say(f"stopping Kafka on {self.broker.bootstrap} ...")
            self.broker.stop()

    def watch(self, sup: Supervisor) -> None:
        assert self.state is not None
        screen, t0 = Screen(), time.monotonic()
        rows: list[Row] = []
        all_ready = False
        while not self.stop.is_set():
            if sup.check():
                write_state(self.path, self.state)
            new = probe_rows(self.state.services, lambda s: sup.procs[s.name].poll() is None)
            elapsed = time.monotonic() - t0
            if screen.live:
                ready = all(r.ready for r in new)
                timed_out = elapsed > self.args.ready_timeout
                if screen.tty or ready or timed_out or not rows:
                    note = summary_line(new) + f" after {elapsed:.0f} s"
                    screen.table(new, note + (" (Ctrl-C stops the stack)" if screen.tty else ""))
                elif changes(rows, new):
                    screen.lines(changes(rows, new))
                if ready or timed_out:
                    screen.live = False
                    all_ready = ready
                    waiting = [r.name for r in new if not r.ready]
                    self.say(
                        f"every service is ready ({elapsed:.0f} s)"
                        if ready
                        else f"not ready after {self.args.ready_timeout:.0f} s: {', '.join(waiting)}"
                    )
            else:
                screen.lines(changes(rows, new))
                now_ready = all(r.ready for r in new)
                if now_ready != all_ready:
                    all_ready = now_ready
                    self.say(f"{summary_line(new)}")
            rows = new
            self.stop.wait(1.0)

    def shutdown(self, sup: Supervisor) -> bool:
        assert self.state is not None
        self.say("stopping the services ...")
        self.state.phase = "stopping"
        write_state(self.path, self.state)
        clean = sup.stop(self.args.grace)
        self.stop_broker(self.state.broker_started)
        self.state.phase, self.state.stopped_at, self.state.clean = "stopped", time.time(), clean
        write_state(self.path, self.state)
        for line in render_table(probe_rows(self.state.services, lambda s: False)):
            self.say(line)
        bad = [s.name for s in self.state.services if not s.clean]
        self.say(
            "every service stopped cleanly"
            if clean
            else f"did not stop cleanly: {', '.join(bad)} (see {self.dir / 'logs'})"
        )
        return clean


def detach(args: argparse.Namespace, directory: Path) -> int:
    """Run ``up`` in the background (its own session, output in <dir>/logs/up.log) and return
    once every service is ready, or the timeout passed, or it gave up."""
    argv = [sys.executable, "-m", "stt_mesh.cli", "up", *up_argv(args)]
    log = directory / "logs" / "up.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    path = state_path(directory)
    before = read_state(path)
    if before and supervisor_alive(before):
        print(
            f"stt-mesh up: a stack runs from {directory} already (pid {before.supervisor_pid})",
            file=sys.stderr,
        )
        return 2
    with log.open("ab") as out:
        child = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=Path.cwd(),
        )
    print(f"stt-mesh up running in the background (pid {child.pid}); its output: {log}")
    deadline = time.monotonic() + args.ready_timeout
    rows: list[Row] = []
    while time.monotonic() < deadline:
        if child.poll() is not None:
            last = log.read_text(errors="replace").splitlines()[-5:]
            print(
                "\n".join([*last, f"stt-mesh up exited with {child.returncode}; see {log}"]), file=sys.stderr
            )
            return 2
        state = read_state(path)
        if state and state.supervisor_pid == child.pid and state.phase == "running":
            rows = probe_rows(state.services, service_alive)
            if rows and all(r.ready for r in rows):
                print("\n".join(render_table(rows)))
                print(f"{summary_line(rows)}; `stt-mesh ps` shows the stack, `stt-mesh down` stops it")
                return 0
        time.sleep(1.0)
    print("\n".join(render_table(rows)))
    print(
        f"not every service is ready after {args.ready_timeout:.0f} s; the stack keeps running "
        "(`stt-mesh ps`, `stt-mesh down`)"
    )
    return 1


def up_argv(args: argparse.Namespace) -> list[str]:
    """The options of ``args`` as ``up`` takes them, less ``--detach``."""
    out = [
        "--dir",
        str(args.dir),
        "--port",
        str(args.port),
        "--sink-port",
        str(args.sink_port),
        "--ready-timeout",
        str(args.ready_timeout),
        "--grace",
        str(args.grace),
        "--max-restarts",
        str(args.max_restarts),
    ]
    for flag, value in (
        ("--bootstrap", args.bootstrap),
        ("--metrics-base", args.metrics_base),
        ("--model", args.model),
    ):
        if value:
            out += [flag, str(value)]
    for flag, values in (("--only", args.only), ("--with", args.also), ("--env", args.env)):
        for value in values or []:
            out += [flag, value]
    return out


def cmd_ps(args: argparse.Namespace) -> int:
    """Exit 0: every service ready; 1: the stack runs, not every service is ready; 3: no stack."""
    directory = Path(args.dir).expanduser().resolve()
    state = read_state(state_path(directory))
    if state is None:
        print(f"no stack started from {directory} (`stt-mesh up --dir {args.dir}`)", file=sys.stderr)
        return 3
    running = supervisor_alive(state)
    rows = probe_rows(state.services, service_alive)
    if args.json:
        print(
            json.dumps(
                {
                    "dir": state.dir,
                    "supervisor_pid": state.supervisor_pid,
                    "supervisor_running": running,
                    "phase": state.phase,
                    "clean": state.clean,
                    "bootstrap": state.bootstrap,
                    "broker_started": state.broker_started,
                    "sink_url": state.sink_url,
                    "services": [{**asdict(r), "ready": r.ready} for r in rows],
                }
            )
        )
    else:
        up_for = time.time() - state.started_at
        broker = f"{state.bootstrap} ({'started by up' if state.broker_started else 'not started by up'})"
        gone = "" if state.phase == "stopped" else f" (up pid {state.supervisor_pid} is gone)"
        who = (
            f"up pid {state.supervisor_pid}, {state.phase} for {up_for:.0f} s"
            if running
            else state.phase + gone
        )
        print(
            f"stack in {state.dir}: {who}; broker {broker}"
            + (f"; sink {state.sink_url}" if state.sink_url else "")
        )
        print("\n".join(render_table(rows)))
        print(summary_line(rows))
    if not running:
        return 3
    return 0 if rows and all(r.ready for r in rows) else 1


def cmd_down(args: argparse.Namespace) -> int:
    """Stop the stack of ``--dir``: its ``up`` stops the services and its broker; when that
    process is gone, the services and the broker it started are stopped from here."""
    directory = Path(args.dir).expanduser().resolve()
    path = state_path(directory)
    state = read_state(path)
    if state is None:
        print(f"no stack started from {directory}", file=sys.stderr)
        return 3
    if supervisor_alive(state):
        print(f"stopping the stack of up pid {state.supervisor_pid} ...", flush=True)
        with contextlib.suppress(ProcessLookupError):
            os.kill(state.supervisor_pid, signal.SIGTERM)
        deadline = time.monotonic() + args.timeout
        while supervisor_alive(state) and time.monotonic() < deadline:
            time.sleep(0.2)
        if supervisor_alive(state):
            print(f"up pid {state.supervisor_pid} still runs after {args.timeout:.0f} s", file=sys.stderr)
            return 1
        state = read_state(path) or state
    elif state.phase != "stopped":
        print(f"up pid {state.supervisor_pid} is gone; stopping what it left ...", flush=True)
        orphans = [s for s in state.services if service_alive(s)]
        ends = {
            "starting": "gone",
            "running": "gone",
            "stopping": "gone",  # ended unwatched
            "restarting": "failed",
            "pending": "not started",
        }
        for s in state.services:
            if s not in orphans:
                s.status = ends.get(s.status, s.status)
        exits = stop_processes([_Pid(s.pid) for s in orphans if s.pid], args.grace)
        for s, e in zip(orphans, exits, strict=True):
            s.exit_code, s.killed, s.status = None, e.killed, "stopped"  # its code went to init
        if state.broker_started and state.broker_home and state.broker_port:
            from infra.local import LocalKafka

            LocalKafka(home=Path(state.broker_home), port=state.broker_port).stop()
        state.phase, state.stopped_at = "stopped", time.time()
        state.clean = all(s.clean for s in state.services)
        write_state(path, state)
    else:
        print(f"the stack in {directory} is stopped already")
    print("\n".join(render_table(probe_rows(state.services, lambda s: False))))
    print("every service stopped cleanly" if state.clean else "not every service stopped cleanly")
    return 0 if state.clean else 1


class _Pid:
    """A process that is not our child, stopped by pid: its exit code is not ours to read."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def poll(self) -> int | None:
        return None if pid_runs(self.pid) else 0

    def send_signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)


def add_parsers(sub: Any) -> None:
    """``up``, ``ps`` and ``down`` on the CLI's subparsers."""
    up = sub.add_parser(
        "up",
        help="run the local stack: broker, every service, the sink",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    up.add_argument("--dir", default=".stt-mesh", help="state, logs, the broker and ClickHouse (.stt-mesh)")
    up.add_argument(
        "--only",
        action="append",
        metavar="LIST",
        help="comma-separated services: a name (asr-batch), a service's pools (asr), "
        "e.g. ingest,redact,sink (default: every service of `make run`)",
    )
    up.add_argument(
        "--with",
        dest="also",
        action="append",
        metavar="LIST",
        help="add services to the set, e.g. ingest-http (the HTTP intake)",
    )
    up.add_argument("--model", help="the ASR model (STT_ASR_MODEL), e.g. tiny.en on a small machine")
    up.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an environment variable for every service (repeatable)",
    )
    up.add_argument("--port", type=int, default=9092, help="the local broker's port (9092)")
    up.add_argument("--bootstrap", help="use this broker instead of starting one")
    up.add_argument(
        "--metrics-base",
        type=int,
        metavar="PORT",
        help="metrics ports PORT, PORT+1, ... (default: free ports, shown by ps)",
    )
    up.add_argument(
        "--sink-port",
        type=int,
        default=int(os.environ.get("STT_SINK_HTTP_PORT", "8090")),
        help="the sink's HTTP port (8090)",
    )
    up.add_argument(
        "--ready-timeout",
        type=float,
        default=600.0,
        help="seconds to redraw the table while waiting for every service to be ready",
    )
    up.add_argument("--grace", type=float, default=30.0, help="seconds from SIGTERM to SIGKILL")
    up.add_argument("--max-restarts", type=int, default=3, help="restarts of a service that fails")
    up.add_argument(
        "-d",
        "--detach",
        action="store_true",
        help="run in the background; return once every service is ready",
    )
    up.set_defaults(func=cmd_up)

    ps = sub.add_parser("ps", help="the local stack's processes, ports and health")
    ps.add_argument("--dir", default=".stt-mesh")
    ps.add_argument("--json", action="store_true")
    ps.set_defaults(func=cmd_ps)

    down = sub.add_parser("down", help="stop the local stack `up` runs")
    down.add_argument("--dir", default=".stt-mesh")
    down.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for up to stop it")
    down.add_argument(
        "--grace", type=float, default=30.0, help="when up is gone: seconds from SIGTERM to SIGKILL"
    )
    down.set_defaults(func=cmd_down)

"""The parts of ``stt-mesh up`` that need no broker: selecting services, ports, the state file,
the health table, the environment of a service, the stop sequence and restarts (on fake
processes and a fake clock)."""

from __future__ import annotations

import json
import signal
import socket
from pathlib import Path

import pytest

from stt_mesh import cli, up
from stt_mesh.demo import SERVICES


# -- selection ----------------------------------------------------------------------------------
def names(specs: list[up.Spec]) -> list[str]:
    return [s.name for s in specs]


def test_the_default_set_is_every_service_of_make_run_named_like_its_log() -> None:
    assert names(up.select()) == [
        "ingest",
        "asr-realtime",
        "asr-batch",
        "diarize-realtime",
        "diarize-batch",
        "redact",
        "quality",
        "sink",
        "examples.call_summary",
    ]
    assert [list(s.argv) for s in up.select()] == SERVICES


def test_a_selector_names_a_service_its_pools_or_a_module() -> None:
    assert names(up.select(["ingest", "redact", "sink"])) == ["ingest", "redact", "sink"]
    assert names(up.select(["asr"])) == ["asr-realtime", "asr-batch"]
    assert names(up.select(["asr-batch", "diarize"])) == ["asr-batch", "diarize-realtime", "diarize-batch"]
    assert names(up.select(["call-summary"])) == ["examples.call_summary"]
    assert names(up.select(["call_summary", "sink"])) == ["sink", "examples.call_summary"]  # catalog order


def test_the_http_intake_is_opt_in_and_ingest_does_not_select_it() -> None:
    assert "ingest-http" not in names(up.select())
    assert names(up.select(["ingest"])) == ["ingest"]
    assert names(up.select(["ingest-http"])) == ["ingest-http"]
    assert names(up.select(None, ["ingest-http"]))[-1] == "ingest-http"
    assert up.select(["ingest-http"])[0].argv == ("ingest", "http")


def test_an_unknown_service_is_an_error_that_lists_the_choices() -> None:
    with pytest.raises(ValueError, match=r"no service 'asrr'.*asr-realtime"):
        up.select(["asrr"])


def test_comma_lists_from_repeated_options_are_flattened() -> None:
    assert up.split_list(["ingest,redact", "sink", ""]) == ["ingest", "redact", "sink"]
    assert up.split_list(None) is None


def test_the_command_of_a_service_is_its_module() -> None:
    assert up.service_command(["asr", "--pool", "batch"])[1:] == ["-m", "services.asr", "--pool", "batch"]
    assert up.service_command(["examples.call_summary"])[1:] == ["-m", "examples.call_summary"]


# -- ports --------------------------------------------------------------------------------------
def test_fixed_ports_follow_the_base_and_a_taken_one_is_an_error() -> None:
    assert up.assign_ports(["a", "b", "c"], 9300, in_use=lambda p: False) == {"a": 9300, "b": 9301, "c": 9302}
    with pytest.raises(up.PortError, match="9301 for b"):
        up.assign_ports(["a", "b"], 9300, in_use=lambda p: p == 9301)
    with pytest.raises(up.PortError, match="9300 for a"):
        up.assign_ports(["a"], 9300, avoid={9300}, in_use=lambda p: False)


def test_free_ports_are_distinct_and_avoid_the_brokers_and_the_sinks() -> None:
    picks = iter([9092, 5000, 5000, 8090, 5001, 5002])
    ports = up.assign_ports(["a", "b", "c"], None, avoid={9092, 8090}, pick=lambda: next(picks))
    assert ports == {"a": 5000, "b": 5001, "c": 5002}


def test_free_ports_are_really_free_and_a_bound_one_is_in_use() -> None:
    ports = up.assign_ports(["a", "b"])
    assert len(set(ports.values())) == 2 and not any(up.port_in_use(p) for p in ports.values())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert up.port_in_use(sock.getsockname()[1])


# -- state file ---------------------------------------------------------------------------------
def a_state(tmp_path: Path) -> up.StackState:
    return up.StackState(
        dir=str(tmp_path),
        supervisor_pid=1234,
        bootstrap="127.0.0.1:19692",
        broker_started=True,
        broker_home=str(tmp_path / "kafka"),
        broker_port=19692,
        sink_url="http://127.0.0.1:8090",
        services=[
            up.ProcState("ingest", ["ingest"], 9301, str(tmp_path / "logs/ingest.log"), pid=11),
            up.ProcState("asr-batch", ["asr", "--pool", "batch"], 9302, "x.log", pid=12, restarts=2),
        ],
    )


def test_the_state_file_round_trips_and_is_replaced_atomically(tmp_path: Path) -> None:
    path = up.state_path(tmp_path)
    state = a_state(tmp_path)
    up.write_state(path, state)
    assert up.read_state(path) == state
    state.services[0].status, state.phase = "running", "running"
    up.write_state(path, state)
    assert up.read_state(path) == state
    assert sorted(p.name for p in tmp_path.iterdir()) == ["up.json"]  # no temporary file left
    assert json.loads(path.read_text())["services"][1]["argv"] == ["asr", "--pool", "batch"]


def test_a_missing_or_broken_state_file_reads_as_none(tmp_path: Path) -> None:
    path = up.state_path(tmp_path)
    assert up.read_state(path) is None
    path.write_text("{not json")
    assert up.read_state(path) is None
    path.write_text('{"dir": "x"}')
    assert up.read_state(path) is None


def test_clean_means_stopped_on_request_without_a_kill() -> None:
    def proc(**kw: object) -> up.ProcState:
        return up.ProcState("s", ["s"], 1, "l", **kw)  # type: ignore[arg-type]

    assert proc(exit_code=0, status="stopped").clean
    assert proc(exit_code=-signal.SIGTERM, status="stopped").clean  # before its handler was set
    assert not proc(exit_code=-signal.SIGKILL, status="stopped", killed=True).clean
    assert not proc(exit_code=1, status="failed").clean
    assert not proc(status="running").clean
    assert proc(status="stopped").clean  # stopped by pid: its code went to init
    assert not proc(status="stopped", killed=True).clean


# -- the table ----------------------------------------------------------------------------------
ROWS = [
    up.Row("ingest", 11, 9301, "running", "ok", "ok"),
    up.Row("asr-realtime", 12, 9302, "running", "ok", "503", restarts=1),
    up.Row("sink", None, 9303, "failed", restarts=3, exit_code=1),
]


def test_the_table_has_a_column_per_field_aligned() -> None:
    lines = up.render_table(ROWS)
    assert lines[0].split() == ["SERVICE", "PID", "PORT", "STATUS", "HEALTHZ", "READYZ", "RESTARTS", "EXIT"]
    assert lines[1].split() == ["ingest", "11", "9301", "running", "ok", "ok", "0", "-"]
    assert lines[2].split() == ["asr-realtime", "12", "9302", "running", "ok", "503", "1", "-"]
    assert lines[3].split() == ["sink", "-", "9303", "failed", "-", "-", "3", "1"]
    starts = {line.index(line.split()[2]) for line in lines}  # the PORT column starts at one place
    assert len(starts) == 1
    assert up.summary_line(ROWS) == "1/3 ready"


def test_changes_name_what_moved_per_service() -> None:
    after = [
        up.Row("ingest", 11, 9301, "running", "ok", "ok"),
        up.Row("asr-realtime", 12, 9302, "running", "ok", "ok", restarts=1),
        up.Row("sink", 21, 9303, "running", "-", "-", restarts=3),
    ]
    assert up.changes(ROWS, after) == [
        "asr-realtime: readyz 503 -> ok",
        "sink: status failed -> running, pid None -> 21",
    ]
    assert up.changes(after, after) == []


def test_a_row_is_ready_only_while_running_with_readyz_ok() -> None:
    assert ROWS[0].ready and not ROWS[1].ready
    assert not up.Row("x", None, 1, "stopped", "ok", "ok").ready


def test_probes_answer_ok_the_status_or_nothing() -> None:
    from http.server import BaseHTTPRequestHandler

    from mesh.health import BackgroundServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = BackgroundServer(Handler, "127.0.0.1", 0, "probe-test").start()
    try:
        assert up.probe(server.port, "/healthz") == "ok"
        assert up.probe(server.port, "/readyz") == "503"
        rows = up.probe_rows(
            [
                up.ProcState("a", ["a"], server.port, "l", pid=1, status="running"),
                up.ProcState("b", ["b"], server.port, "l", pid=2, status="running"),
                up.ProcState("c", ["c"], server.port, "l", status="restarting"),
            ],
            alive=lambda s: s.name == "a",
        )
    finally:
        server.stop()
    assert up.probe(server.port, "/healthz") == "-"
    assert [(r.status, r.healthz, r.readyz, r.pid) for r in rows] == [
        ("running", "ok", "503", 1),
        ("gone", "-", "-", None),
        ("restarting", "-", "-", None),
    ]


def test_the_screen_redraws_in_place_on_a_terminal_only() -> None:
    import io

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, log = Tty(), io.StringIO()
    for out in (tty, log):
        screen = up.Screen(out)
        screen.table(ROWS, "note")
        screen.table(ROWS, "note")
    assert tty.getvalue().count("\x1b[5F\x1b[J") == 1  # back over 4 table lines and the note
    assert "\x1b" not in log.getvalue()


# -- environment --------------------------------------------------------------------------------
def test_a_service_env_layers_defaults_caller_forced_model_and_overrides(tmp_path: Path) -> None:
    base = {
        "STT_SINK_DSN": "http://ch:8123",
        "STT_METRICS_PORT": "1",
        "STT_BOOTSTRAP_SERVERS": "far:9092",
        "PATH": "/bin",
    }
    env = up.service_env(
        base,
        tmp_path,
        "127.0.0.1:19692",
        9301,
        8091,
        model="tiny.en",
        overrides={"STT_ASR_DEVICE": "cpu", "STT_SINK_HTTP_PORT": "8099"},
    )
    assert env["STT_BOOTSTRAP_SERVERS"] == "127.0.0.1:19692" and env["STT_METRICS_PORT"] == "9301"
    assert env["STT_SINK_DSN"] == "http://ch:8123"  # the caller's environment beats a local default
    assert env["STT_QUALITY_DATADIR"] == str(tmp_path / "quality")
    assert env["STT_DIARIZE_STATE_DIR"] == str(tmp_path / "diarize")
    assert env["STT_ASR_MODEL"] == "tiny.en" and env["STT_ASR_DEVICE"] == "cpu"
    assert env["STT_SINK_HTTP_PORT"] == "8099" and env["PATH"] == "/bin"
    assert env["STT_SINK_STORE_REDACTED_TEXT"] == "true"  # as make run
    default = up.service_env({}, tmp_path, "b:1", 1, 8090)
    assert default["STT_SINK_DSN"] == f"chdb://{tmp_path / 'clickhouse'}" and "STT_ASR_MODEL" not in default


def test_env_pairs_need_a_key_and_an_equals_sign() -> None:
    assert up.parse_env(["A=1", "B=x=y", "C="]) == {"A": "1", "B": "x=y", "C": ""}
    for bad in ("A", "=1"):
        with pytest.raises(ValueError):
            up.parse_env([bad])


# -- the stop sequence and restarts -------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


class FakeProc:
    """Exits ``exit_after`` seconds after SIGTERM (never, when None) with ``code``."""

    def __init__(
        self, clock: Clock, pid: int, exit_after: float | None = 0.5, code: int = 0, exited: int | None = None
    ) -> None:
        self.clock, self.pid, self.exit_after, self.code = clock, pid, exit_after, code
        self.signals: list[int] = []
        self.returncode = exited
        self._term_at: float | None = None

    def poll(self) -> int | None:
        if (
            self.returncode is None
            and self._term_at is not None
            and self.exit_after is not None
            and self.clock() >= self._term_at + self.exit_after
        ):
            self.returncode = self.code
        return self.returncode

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)
        self._term_at = self.clock()

    def kill(self) -> None:
        self.signals.append(signal.SIGKILL)
        self.returncode = -signal.SIGKILL


def test_stop_sends_sigterm_waits_the_grace_then_kills_what_is_left() -> None:
    clock = Clock()
    quick, slow, stuck, gone = (
        FakeProc(clock, 1, 0.5),
        FakeProc(clock, 2, 20.0, code=1),
        FakeProc(clock, 3, None),
        FakeProc(clock, 4, exited=0),
    )
    exits = up.stop_processes([quick, slow, stuck, gone], grace_s=10.0, clock=clock, sleep=clock.sleep)
    assert [(e.code, e.killed) for e in exits] == [(0, False), (-9, True), (-9, True), (0, False)]
    assert quick.signals == [signal.SIGTERM] and stuck.signals == [signal.SIGTERM, signal.SIGKILL]
    assert gone.signals == []  # already exited: not signalled
    assert 10.0 <= clock.now < 10.5  # one grace for all of them, not one each


def test_stop_returns_as_soon_as_every_process_exited() -> None:
    clock = Clock()
    exits = up.stop_processes(
        [FakeProc(clock, 1, 1.0), FakeProc(clock, 2, 2.0)], grace_s=30.0, clock=clock, sleep=clock.sleep
    )
    assert [(e.code, e.killed) for e in exits] == [(0, False), (0, False)]
    assert clock.now < 2.5


def supervised(
    clock: Clock, behaviours: dict[str, list[FakeProc]], max_restarts: int = 2
) -> tuple[up.Supervisor, list[up.ProcState]]:
    services = [up.ProcState(n, [n], 9300 + i, "l") for i, n in enumerate(behaviours)]
    spawned = {n: iter(procs) for n, procs in behaviours.items()}
    sup = up.Supervisor(services, lambda s: next(spawned[s.name]), max_restarts, clock, clock.sleep)
    return sup, services


def test_a_failed_service_is_restarted_after_a_backoff_up_to_the_limit() -> None:
    clock = Clock()
    first, second, third = FakeProc(clock, 10), FakeProc(clock, 11), FakeProc(clock, 12)
    sup, (svc,) = supervised(clock, {"asr": [first, second, third]})
    sup.start_all()
    assert sup.check() and (svc.pid, svc.status) == (10, "running")
    first.returncode = 1
    assert sup.check() and (svc.status, svc.exit_code) == ("restarting", 1)
    clock.now += 0.5
    assert not sup.check() and svc.status == "restarting"  # backoff 1 s
    clock.now += 0.6
    assert sup.check() and (svc.pid, svc.restarts, svc.exit_code) == (11, 1, None)
    second.returncode = -signal.SIGKILL  # killed from outside: also restarted, after 2 s
    sup.check()
    clock.now += 2.1
    sup.check()
    assert (svc.pid, svc.restarts) == (12, 2)
    third.returncode = 3
    sup.check()
    clock.now += 60
    sup.check()
    assert (svc.status, svc.exit_code, svc.restarts) == ("failed", 3, 2)  # the limit is reached
    assert not sup.stop(1.0)  # a failed service did not stop cleanly


def test_a_service_that_exits_zero_by_itself_is_not_restarted() -> None:
    clock = Clock()
    proc = FakeProc(clock, 10)
    sup, (svc,) = supervised(clock, {"quality": [proc]})
    sup.start_all()
    proc.returncode = 0
    sup.check()
    clock.now += 60
    sup.check()
    assert (svc.status, svc.exit_code, svc.restarts) == ("exited", 0, 0)


def test_supervisor_stop_records_each_exit_and_says_whether_all_were_clean() -> None:
    clock = Clock()
    sup, services = supervised(clock, {"ingest": [FakeProc(clock, 1)], "redact": [FakeProc(clock, 2)]})
    sup.start_all()
    sup.check()
    assert sup.stop(5.0)
    assert [(s.status, s.exit_code, s.killed) for s in services] == [("stopped", 0, False)] * 2


def test_a_service_that_ignores_sigterm_makes_the_stop_unclean() -> None:
    clock = Clock()
    sup, services = supervised(clock, {"sink": [FakeProc(clock, 1, exit_after=None)]})
    sup.start_all()
    assert not sup.stop(0.0)
    assert (services[0].exit_code, services[0].killed) == (-signal.SIGKILL, True)


def test_start_all_stops_starting_services_once_asked_to_stop() -> None:
    clock = Clock()
    sup, services = supervised(clock, {"a": [FakeProc(clock, 1)], "b": [FakeProc(clock, 2)]})
    asked = iter([False, True])
    sup.start_all(lambda: next(asked))
    assert [s.pid for s in services] == [1, None]
    assert sup.stop(5.0)  # the one never started counts as stopped
    assert [s.status for s in services] == ["stopped", "not started"]


def test_a_service_waiting_for_its_restart_at_the_stop_is_failed() -> None:
    clock = Clock()
    proc = FakeProc(clock, 1)
    sup, (svc,) = supervised(clock, {"asr": [proc]})
    sup.start_all()
    proc.returncode = 1
    sup.check()
    assert svc.status == "restarting"
    assert not sup.stop(5.0) and (svc.status, svc.exit_code) == ("failed", 1)


def test_a_pid_runs_only_while_its_command_line_matches() -> None:
    import os

    assert up.pid_runs(os.getpid(), "python", "pytest")
    assert not up.pid_runs(os.getpid(), "no-such-program-here")
    assert not up.pid_runs(None) and not up.pid_runs(2**22 + 17)


# -- the CLI ------------------------------------------------------------------------------------
def test_the_cli_has_up_ps_and_down() -> None:
    parser = cli.build_parser()
    args = parser.parse_args(
        [
            "up",
            "--only",
            "ingest,redact",
            "--only",
            "sink",
            "--model",
            "tiny.en",
            "--env",
            "A=1",
            "--port",
            "19692",
            "--metrics-base",
            "9400",
            "-d",
        ]
    )
    assert args.func is up.cmd_up and args.detach and args.metrics_base == 9400
    assert up.split_list(args.only) == ["ingest", "redact", "sink"]
    again = parser.parse_args(["up", *up.up_argv(args)])  # what --detach hands the background process
    assert not again.detach
    assert {k: v for k, v in vars(again).items() if k != "detach"} == {
        k: v for k, v in vars(args).items() if k != "detach"
    }
    assert parser.parse_args(["ps", "--json"]).func is up.cmd_ps
    assert parser.parse_args(["down", "--dir", "x"]).func is up.cmd_down


def test_ps_and_down_without_a_stack_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ps", "--dir", str(tmp_path)]) == 3
    assert cli.main(["down", "--dir", str(tmp_path)]) == 3
    assert "no stack started" in capsys.readouterr().err


def test_ps_of_a_stopped_stack_shows_its_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = a_state(tmp_path)
    state.supervisor_pid, state.phase, state.clean = 2**22 + 17, "stopped", True
    for s in state.services:
        s.status, s.exit_code = "stopped", 0
    up.write_state(up.state_path(tmp_path), state)
    assert cli.main(["ps", "--dir", str(tmp_path), "--json"]) == 3
    shown = json.loads(capsys.readouterr().out)
    assert shown["phase"] == "stopped" and not shown["supervisor_running"]
    assert [(s["name"], s["status"], s["exit_code"]) for s in shown["services"]] == [
        ("ingest", "stopped", 0),
        ("asr-batch", "stopped", 0),
    ]
    assert cli.main(["down", "--dir", str(tmp_path)]) == 0
    assert "stopped already" in capsys.readouterr().out


def test_up_refuses_an_unknown_service_or_a_bad_env_before_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["up", "--dir", str(tmp_path), "--only", "nope"]) == 2
    assert cli.main(["up", "--dir", str(tmp_path), "--env", "NOEQUALS"]) == 2
    assert "no service 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "kafka").exists()


def test_up_refuses_to_start_beside_services_an_earlier_stack_left_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import subprocess
    import sys

    left = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "services.ingest"])
    try:
        state = a_state(tmp_path)
        state.supervisor_pid = 2**22 + 17  # gone
        state.services[0].pid, state.services[0].status = left.pid, "running"
        up.write_state(up.state_path(tmp_path), state)
        assert cli.main(["up", "--dir", str(tmp_path), "--only", "ingest"]) == 2
        assert f"ingest (pid {left.pid})" in capsys.readouterr().err
        assert not (tmp_path / "kafka").exists()
        assert cli.main(["down", "--dir", str(tmp_path), "--grace", "5"]) == 0  # stops it by pid
        assert left.wait(10) == -signal.SIGTERM
        after = up.read_state(up.state_path(tmp_path))
        assert after is not None and after.phase == "stopped" and after.clean
        assert [s.status for s in after.services] == ["stopped", "not started"]
    finally:
        left.kill()
        left.wait()

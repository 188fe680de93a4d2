"""A real single-node Apache Kafka (KRaft) on 127.0.0.1, fetched from Maven Central.

Why Maven and not a tarball: the machines this project runs on reach package registries
only. ``infra/kafka/pom.xml`` names the broker artifact; ``mvn dependency:copy-dependencies``
puts its classpath in a cache shared by every checkout (``~/.cache/stt-mesh/kafka-<ver>-<pom
digest>``: a changed pom gets a classpath of its own), so only the first start downloads anything.

The broker logs through ``infra/kafka/log4j2.xml`` into ``<home>/logs`` (``server.log``, the
group coordinator included, and ``controller.log``); its stdout goes to ``<home>/kafka.log``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INFRA_DIR = Path(__file__).resolve().parent
POM = INFRA_DIR / "kafka" / "pom.xml"
LOG4J2_CONFIG = INFRA_DIR / "kafka" / "log4j2.xml"
TOPICS_FILE = INFRA_DIR / "topics.toml"


def kafka_version() -> str:
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    assert match, "kafka.version missing from pom.xml"
    return match.group(1)


def default_lib_dir() -> Path:
    override = os.environ.get("STT_KAFKA_LIB")
    if override:
        return Path(override)
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:8]
    return Path.home() / ".cache" / "stt-mesh" / f"kafka-{kafka_version()}-{digest}" / "lib"


@dataclass
class LocalKafka:
    home: Path
    port: int = 9092
    controller_port: int = 0  # 0: the port after ``port``
    lib_dir: Path = field(default_factory=default_lib_dir)
    heap: str = "768m"

    def __post_init__(self) -> None:
        self.controller_port = self.controller_port or self.port + 1

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def log_file(self) -> Path:
        """The JVM's stdout and stderr (start-up failures); the broker's own log is ``server_log``."""
        return self.home / "kafka.log"

    @property
    def server_log(self) -> Path:
        return self.home / "logs" / "server.log"

    # -- steps --------------------------------------------------------------------------
    def fetch(self) -> Path:
        """Copy the broker's jars from Maven Central into the cache, once."""
        if any(self.lib_dir.glob("kafka_2.13-*.jar")):
            return self.lib_dir
        tmp = self.lib_dir.with_name(self.lib_dir.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        cmd = ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", f"-DoutputDirectory={tmp}"]
        subprocess.run(cmd, check=True)
        tmp.rename(self.lib_dir)
        return self.lib_dir

    def configure(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.home / "data"),
            "num.partitions": "1",
            "auto.create.topics.enable": "true",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "message.max.bytes": "10485760",
            "replica.fetch.max.bytes": "10485760",
            "log.retention.check.interval.ms": "60000",
        }
        path = self.home / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        return path

    def format(self) -> None:
        props = self.configure()
        if (self.home / "data" / "meta.properties").exists():
            return
        cluster_id = new_cluster_id()
        self._java("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props), check=True)

    def up(self) -> list[str]:
        """Start the broker and create the contract topics it lacks; returns those created."""
        self.start()
        return create_topics(self.bootstrap, topic_specs())

    def start(self, timeout_s: float = 90.0) -> None:
        """Fetch, format and start the broker unless it runs already; wait until it answers."""
        if self.running():
            self.wait_ready(timeout_s)
            return
        if _port_open(self.port):
            raise RuntimeError(f"port {self.port} is taken by another process; stop it or pick another port")
        self.fetch()
        self.format()
        log = self.log_file.open("ab")
        proc = subprocess.Popen(
            self._java_cmd("kafka.Kafka", str(self.home / "server.properties")),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid_file.write_text(str(proc.pid))
        self.wait_ready(timeout_s, proc)

    def wait_ready(self, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
        """Wait until the port accepts connections and the broker answers a metadata request."""
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + timeout_s
        while not _port_open(self.port):
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"Kafka exited with {proc.returncode}; see {self.log_file}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"Kafka on {self.bootstrap} not up in {timeout_s}s; see {self.log_file}")
            time.sleep(0.3)
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        admin.list_topics(timeout=max(deadline - time.monotonic(), 5))

    def stop(self, timeout_s: float = 30.0) -> None:
        pid = self._pid()
        if pid is None:
            return
        _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            _signal(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)

    def running(self) -> bool:
        pid = self._pid()
        return pid is not None and _alive(pid)

    def status(self) -> str:
        pid = self._pid()
        state = f"running (pid {pid})" if self.running() else "stopped"
        return f"kafka {kafka_version()} on {self.bootstrap}: {state}; home {self.home}"

    # -- helpers ------------------------------------------------------------------------
    def _pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _java_cmd(self, main: str, *args: str) -> list[str]:
        return [
            "java",
            f"-Xmx{self.heap}",
            "-Xms256m",
            "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
            f"-Dkafka.logs.dir={self.server_log.parent}",
            "-cp",
            f"{self.lib_dir}/*",
            main,
            *args,
        ]

    def _java(self, main: str, *args: str, check: bool) -> None:
        subprocess.run(self._java_cmd(main, *args), check=check, capture_output=True)


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, base64url. Like Kafka's own Uuid.randomUuid, never
    one that starts with '-', which the storage tool would read as an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


@contextlib.contextmanager
def broker_or_throwaway(bootstrap: str | None, port: int = 29092) -> Iterator[str]:
    """Yield ``bootstrap`` if given; otherwise start a broker in a temporary directory (for
    benchmarks and one-off runs) and stop it afterwards."""
    if bootstrap:
        yield bootstrap
        return
    broker = LocalKafka(Path(tempfile.mkdtemp(prefix="stt-kafka-")), port=port)
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


# -- topics -----------------------------------------------------------------------------
def topic_specs(names: list[str] | None = None) -> list[dict[str, Any]]:
    """Topic name, partitions, replication factor and config for every contract topic and its DLQ."""
    from mesh import topics

    spec = tomllib.loads(TOPICS_FILE.read_text())
    defaults = spec.get("defaults", {})
    out = []
    for name in names or list(topics.ALL):
        own = spec.get(name, {})
        config = {**defaults.get("config", {}), **own.get("config", {})}
        replication = own.get("replication_factor", defaults.get("replication_factor", 1))
        out.append(
            {
                "name": name,
                "partitions": own.get("partitions", defaults.get("partitions", 3)),
                "replication_factor": replication,
                "config": config,
            }
        )
        out.append(
            {
                "name": topics.dlq(name),
                "partitions": defaults.get("dlq_partitions", 1),
                "replication_factor": replication,
                "config": {**defaults.get("config", {})},
            }
        )
    return out


def create_topics(bootstrap: str, specs: list[dict[str, Any]], timeout_s: float = 30.0) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    new = [
        NewTopic(s["name"], s["partitions"], s.get("replication_factor", 1), config=s["config"])
        for s in specs
    ]
    created = []
    for name, future in admin.create_topics(new, request_timeout=timeout_s).items():
        try:
            future.result(timeout_s)
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    return created

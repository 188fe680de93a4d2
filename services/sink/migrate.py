"""Schema migrations for ClickHouse: the numbered ``.sql`` files under infra/clickhouse/migrations.

``stt-mesh sink migrate`` applies, in order, every file not yet recorded in the
``schema_migrations`` table, and records it with the checksum of its template; a file changed
after it was applied is refused (write a new migration instead). Statements use
``IF NOT EXISTS``, so a migration interrupted midway is simply applied again.

The files are written for one server. ``render(..., cluster=NAME)`` gives the cluster variant:
every CREATE/ALTER gets ``ON CLUSTER``, every MergeTree engine becomes its Replicated twin
with the conventional ``/clickhouse/tables/{shard}/{database}/{table}`` path and ``{replica}``
macro, and the per-server deduplication window becomes the replicated one (the log of
insert tokens lives in Keeper instead).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from services.sink.config import SinkSettings
from services.sink.store import Store

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "infra" / "clickhouse" / "migrations"
_ENGINE = re.compile(r"ENGINE = (Replacing)?MergeTree(\((?P<args>[^)]*)\))?")
_CREATE = re.compile(
    r"^(CREATE (?:TABLE|VIEW|MATERIALIZED VIEW|DATABASE|DICTIONARY) IF NOT EXISTS \S+)", re.M
)
_ALTER = re.compile(r"^(ALTER TABLE \S+)", re.M)
_REPLICA_ARGS = "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    template: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.template.encode()).hexdigest()[:16]


def migrations(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(folder.glob("*.sql")):
        number, _, name = path.stem.partition("_")
        if not number.isdigit():
            raise ValueError(f"migration {path.name} must start with its number, e.g. 0003_name.sql")
        found.append(Migration(int(number), name, path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"two migrations share a number in {folder}")
    return found


def render(template: str, settings: SinkSettings, cluster: str | None = None) -> list[str]:
    """The statements of a migration, for one server or (``cluster``) for a cluster."""
    sql = (
        template.replace("$DB", settings.database)
        .replace("$TTL_DAYS", str(settings.ttl_days))
        .replace("$TEXT_TTL_DAYS", str(settings.text_ttl_days))
        .replace("$DLQ_TTL_DAYS", str(settings.dlq_ttl_days))
    )
    if cluster:
        sql = _clustered(sql, cluster)
    return statements(sql)


def _clustered(sql: str, cluster: str) -> str:
    def engine(m: re.Match[str]) -> str:
        args = m.group("args")
        inner = f"{_REPLICA_ARGS}, {args}" if args else _REPLICA_ARGS
        return f"ENGINE = Replicated{m.group(1) or ''}MergeTree({inner})"

    sql = _ENGINE.sub(engine, sql)
    sql = _CREATE.sub(lambda m: f"{m.group(1)} ON CLUSTER '{cluster}'", sql)
    sql = _ALTER.sub(lambda m: f"{m.group(1)} ON CLUSTER '{cluster}'", sql)
    return sql.replace("non_replicated_deduplication_window", "replicated_deduplication_window")


def statements(sql: str) -> list[str]:
    """Split on semicolons that end a line, dropping comment-only lines."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*$", body, flags=re.M) if s.strip()]


def migrate(store: Store, settings: SinkSettings, folder: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply what is missing; returns the names applied now."""
    db, cluster = settings.database, settings.cluster
    on_cluster = f" ON CLUSTER '{cluster}'" if cluster else ""
    store.command(f"CREATE DATABASE IF NOT EXISTS {db}{on_cluster}")
    engine = f"ReplicatedMergeTree({_REPLICA_ARGS})" if cluster else "MergeTree"
    store.command(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations{on_cluster} "
        f"(version UInt32, name String, checksum String, "
        f"applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = {engine} ORDER BY version"
    )
    applied = {int(v): c for v, c in store.query(f"SELECT version, checksum FROM {db}.schema_migrations")[1]}
    done = []
    for m in migrations(folder):
        if m.version in applied:
            if applied[m.version] != m.checksum:
                raise ValueError(
                    f"migration {m.version:04d}_{m.name} changed after it was applied "
                    f"(checksum {applied[m.version]} -> {m.checksum}); add a new one instead"
                )
            continue
        for statement in render(m.template, settings, cluster):
            store.command(statement)
        store.insert(
            f"{db}.schema_migrations", [[m.version, m.name, m.checksum]], ["version", "name", "checksum"]
        )
        done.append(f"{m.version:04d}_{m.name}")
    return done

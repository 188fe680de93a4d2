"""Migrations: splitting and rendering the templates, the cluster variant (checked by the
ClickHouse parser itself through ``formatQuery``), and applying them once and only once."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.sink.config import SinkSettings
from services.sink.migrate import MIGRATIONS_DIR, migrate, migrations, render, statements
from services.sink.store import Store, StoreError

PROJECT = migrations()
SETTINGS = SinkSettings(database="stt_x", ttl_days=111, text_ttl_days=22, dlq_ttl_days=33)


def cluster_statements() -> list[str]:
    return [s for m in PROJECT for s in render(m.template, SETTINGS, cluster="analytics")]


# -- statements() and render() -------------------------------------------------------------


def test_statements_split_on_semicolons_that_end_a_line_and_drop_comment_lines() -> None:
    sql = (
        "-- a header comment; with a semicolon\n"
        "CREATE TABLE a (x String DEFAULT 'p;q') ENGINE = MergeTree ORDER BY x;\n"
        "\n"
        "  -- indented comment\n"
        "CREATE VIEW v AS\nSELECT 1;   \n"
        "SELECT 2\n"
    )
    assert statements(sql) == [
        "CREATE TABLE a (x String DEFAULT 'p;q') ENGINE = MergeTree ORDER BY x",
        "CREATE VIEW v AS\nSELECT 1",
        "SELECT 2",
    ]


def test_statements_of_only_comments_and_blank_lines_are_none() -> None:
    assert statements("-- nothing here;\n\n   \n-- at all\n") == []


def test_render_fills_the_database_and_every_ttl() -> None:
    template = (
        "CREATE TABLE IF NOT EXISTS $DB.t (d DateTime,\n"
        "s String TTL d + INTERVAL $TEXT_TTL_DAYS DAY)\n"
        "ENGINE = MergeTree ORDER BY d TTL d + INTERVAL $TTL_DAYS DAY;\n"
        "CREATE TABLE IF NOT EXISTS $DB.u (d DateTime) ENGINE = MergeTree ORDER BY d\n"
        "TTL d + INTERVAL $DLQ_TTL_DAYS DAY;\n"
    )
    first, second = render(template, SETTINGS)
    assert first == (
        "CREATE TABLE IF NOT EXISTS stt_x.t (d DateTime,\n"
        "s String TTL d + INTERVAL 22 DAY)\n"
        "ENGINE = MergeTree ORDER BY d TTL d + INTERVAL 111 DAY"
    )
    assert second.startswith("CREATE TABLE IF NOT EXISTS stt_x.u") and second.endswith("INTERVAL 33 DAY")


def test_the_project_migrations_leave_no_placeholder_unfilled() -> None:
    for m in PROJECT:
        for statement in render(m.template, SETTINGS):
            assert "$" not in statement, (m.name, statement[:200])
            assert "stt_x." in statement


def test_the_project_migrations_are_numbered_in_order() -> None:
    assert [m.version for m in PROJECT] == sorted({m.version for m in PROJECT})
    assert [m.name for m in PROJECT][:3] == ["tables", "views", "batch_jobs"]


def test_the_single_server_variant_has_no_cluster_clause() -> None:
    for m in PROJECT:
        for statement in render(m.template, SETTINGS):
            assert "ON CLUSTER" not in statement and "Replicated" not in statement


# -- the cluster variant -----------------------------------------------------------------------


def test_every_create_of_the_cluster_variant_is_on_the_cluster() -> None:
    creates = [s for s in cluster_statements() if s.startswith("CREATE")]
    assert len(creates) == len(cluster_statements()) > 10
    for statement in creates:
        head = statement.split("\n", 1)[0]
        assert re.fullmatch(
            r"CREATE (TABLE|VIEW) IF NOT EXISTS stt_x\.\w+ ON CLUSTER 'analytics'( AS)?", head.strip()
        ), head


def test_every_mergetree_engine_of_the_cluster_variant_is_replicated_with_shard_and_replica() -> None:
    tables = [s for s in cluster_statements() if s.startswith("CREATE TABLE")]
    assert len(tables) == 9
    for statement in tables:
        engines = re.findall(r"ENGINE = (\w+)\(([^)]*)\)", statement)
        assert len(engines) == 1, statement[:300]
        name, args = engines[0]
        assert name == "ReplicatedReplacingMergeTree"
        assert args == "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version"
        assert "replicated_deduplication_window = 1000" in statement
        assert "non_replicated_deduplication_window" not in statement


def test_a_plain_mergetree_and_an_alter_become_replicated_and_on_the_cluster() -> None:
    template = (
        "CREATE TABLE IF NOT EXISTS $DB.a (x UInt8) ENGINE = MergeTree ORDER BY x;\n"
        "CREATE TABLE IF NOT EXISTS $DB.b (x UInt8) ENGINE = MergeTree() ORDER BY x;\n"
        "ALTER TABLE $DB.a ADD COLUMN IF NOT EXISTS y UInt8;\n"
    )
    a, b, alter = render(template, SETTINGS, cluster="c")
    replica = "ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')"
    assert a == f"CREATE TABLE IF NOT EXISTS stt_x.a ON CLUSTER 'c' (x UInt8) ENGINE = {replica} ORDER BY x"
    assert b == f"CREATE TABLE IF NOT EXISTS stt_x.b ON CLUSTER 'c' (x UInt8) ENGINE = {replica} ORDER BY x"
    assert alter == "ALTER TABLE stt_x.a ON CLUSTER 'c' ADD COLUMN IF NOT EXISTS y UInt8"


def test_a_materialized_view_of_the_cluster_variant_is_on_the_cluster_too() -> None:
    template = "CREATE MATERIALIZED VIEW IF NOT EXISTS $DB.mv TO $DB.a AS SELECT x FROM $DB.b;\n"
    (statement,) = render(template, SETTINGS, cluster="c")
    assert "ON CLUSTER 'c'" in statement


def test_every_cluster_statement_is_valid_clickhouse(store: Store) -> None:
    """formatQuery parses a statement without running it: the engine's own syntax check."""
    for statement in cluster_statements():
        try:
            _, rows = store.query("SELECT formatQuery({q:String})", {"q": statement})
        except StoreError as exc:
            pytest.fail(f"ClickHouse cannot parse:\n{statement}\n{exc}")
        formatted = rows[0][0]
        assert "ON CLUSTER analytics" in formatted or "ON CLUSTER 'analytics'" in formatted
        if statement.startswith("CREATE TABLE"):
            assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}'" in formatted


def test_format_query_does_reject_a_broken_statement(store: Store) -> None:
    """The check above could fail: a statement ClickHouse cannot parse is refused."""
    with pytest.raises(StoreError):
        store.query(
            "SELECT formatQuery({q:String})",
            {"q": "CREATE TABLE x ON CLUSTER 'c' (a UInt8) ENGINE = ReplicatedMergeTree("},
        )


# -- applying ----------------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "0001_first.sql").write_text(
        "-- the first table\nCREATE TABLE IF NOT EXISTS $DB.one (x UInt8) ENGINE = MergeTree ORDER BY x;\n"
    )
    (tmp_path / "0002_second.sql").write_text(
        "CREATE TABLE IF NOT EXISTS $DB.two (x UInt8) ENGINE = MergeTree ORDER BY x\n"
        "TTL toDateTime(x) + INTERVAL $TTL_DAYS DAY;\n"
        "CREATE VIEW IF NOT EXISTS $DB.both AS SELECT x FROM $DB.one UNION ALL SELECT x FROM $DB.two;\n"
    )
    return tmp_path


@pytest.fixture
def own_db(store: Store) -> Iterator[tuple[Store, SinkSettings]]:
    """A database of this test's own on the session's data directory, and a client for it."""
    settings = SinkSettings(database=f"mig_test_{uuid.uuid4().hex[:8]}")
    client = Store(store.dsn, settings.database)
    yield client, settings
    client.close()


def tables(store: Store, db: str) -> set[str]:
    _, rows = store.query("SELECT name FROM system.tables WHERE database = {db:String}", {"db": db})
    return {r[0] for r in rows}


def test_migrate_applies_every_file_in_order_and_records_it(
    folder: Path, own_db: tuple[Store, SinkSettings]
) -> None:
    store, settings = own_db
    assert migrate(store, settings, folder) == ["0001_first", "0002_second"]
    assert tables(store, settings.database) == {"one", "two", "both", "schema_migrations"}
    _, rows = store.query(
        f"SELECT version, name, checksum FROM {settings.database}.schema_migrations ORDER BY version"
    )
    assert [(v, n) for v, n, _ in rows] == [(1, "first"), (2, "second")]
    assert [c for _, _, c in rows] == [m.checksum for m in migrations(folder)]


def test_migrate_applied_twice_applies_nothing_the_second_time(
    folder: Path, own_db: tuple[Store, SinkSettings]
) -> None:
    store, settings = own_db
    assert len(migrate(store, settings, folder)) == 2
    assert migrate(store, settings, folder) == []
    _, rows = store.query(f"SELECT count() FROM {settings.database}.schema_migrations")
    assert rows == [(2,)]


def test_a_new_file_is_applied_alone(folder: Path, own_db: tuple[Store, SinkSettings]) -> None:
    store, settings = own_db
    migrate(store, settings, folder)
    (folder / "0003_third.sql").write_text(
        "CREATE TABLE IF NOT EXISTS $DB.three (x UInt8) ENGINE = MergeTree ORDER BY x;\n"
    )
    assert migrate(store, settings, folder) == ["0003_third"]
    assert "three" in tables(store, settings.database)


def test_a_changed_template_of_an_applied_migration_is_refused(
    folder: Path, own_db: tuple[Store, SinkSettings]
) -> None:
    store, settings = own_db
    migrate(store, settings, folder)
    path = folder / "0001_first.sql"
    path.write_text(path.read_text() + "-- edited afterwards\n")
    with pytest.raises(ValueError, match="0001_first changed after it was applied"):
        migrate(store, settings, folder)


def test_a_migration_that_fails_midway_is_not_recorded_and_is_applied_again_once_fixed(
    folder: Path, own_db: tuple[Store, SinkSettings]
) -> None:
    store, settings = own_db
    (folder / "0002_second.sql").write_text(
        "CREATE TABLE IF NOT EXISTS $DB.two (x UInt8) ENGINE = MergeTree ORDER BY x;\n"
        "CREATE VIEW IF NOT EXISTS $DB.broken AS SELECT no_such_column FROM $DB.one;\n"
    )
    with pytest.raises(StoreError):
        migrate(store, settings, folder)
    _, rows = store.query(f"SELECT name FROM {settings.database}.schema_migrations")
    assert rows == [("first",)]
    (folder / "0002_second.sql").write_text(
        "CREATE TABLE IF NOT EXISTS $DB.two (x UInt8) ENGINE = MergeTree ORDER BY x;\n"
        "CREATE VIEW IF NOT EXISTS $DB.fixed AS SELECT x FROM $DB.one;\n"
    )
    assert migrate(store, settings, folder) == ["0002_second"]


def test_migrate_records_in_the_settings_database_whatever_the_clients_default(
    store: Store, folder: Path, own_db: tuple[Store, SinkSettings]
) -> None:
    scratch, _ = own_db  # a client whose default database is a scratch one, not the target
    migrate(scratch, SinkSettings(database=scratch.database), folder.parent / "none")
    target = SinkSettings(database=f"mig_target_{uuid.uuid4().hex[:8]}")
    assert migrate(scratch, target, folder) == ["0001_first", "0002_second"]
    assert migrate(scratch, target, folder) == []


def test_the_project_migrations_applied_again_apply_nothing(store: Store) -> None:
    assert migrate(store, SinkSettings()) == []
    assert {
        "recordings",
        "recording_failures",
        "transcripts",
        "speaker_turns",
        "quality",
        "gate_decisions",
        "llm_outcomes",
        "dead_letters",
        "batch_jobs",
        "calls",
        "job_progress",
    } <= tables(store, "stt")


def test_a_file_without_its_number_is_refused(tmp_path: Path) -> None:
    (tmp_path / "tables.sql").write_text("SELECT 1;\n")
    with pytest.raises(ValueError, match="must start with its number"):
        migrations(tmp_path)


def test_two_files_with_one_number_are_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;\n")
    (tmp_path / "0001_b.sql").write_text("SELECT 2;\n")
    with pytest.raises(ValueError, match="share a number"):
        migrations(tmp_path)


def test_the_migrations_folder_is_the_infra_one() -> None:
    assert MIGRATIONS_DIR.parts[-3:] == ("infra", "clickhouse", "migrations")

"""One embedded ClickHouse (chDB) for the whole session: a process opens a single chDB data
directory at a time, so every test shares this store and keeps apart by its own recording ids.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from services.sink.config import SinkSettings
from services.sink.migrate import migrate
from services.sink.rows import to_row
from services.sink.store import Store

_offsets = itertools.count(1000)


@pytest.fixture(scope="session")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chdb") / "clickhouse"


@pytest.fixture(scope="session")
def store(store_path: Path) -> Iterator[Store]:
    """The writer client of the session's store, with the project's migrations applied."""
    settings = SinkSettings(dsn=f"chdb://{store_path}")
    writer = Store(settings.resolved_dsn(), settings.database)
    migrate(writer, settings)
    yield writer
    writer.close()


@pytest.fixture(scope="session")
def reader(store: Store) -> Iterator[Store]:
    """A read-only second client on the same data directory."""
    client = store.reader()
    yield client
    client.close()


@pytest.fixture
def rid() -> str:
    """This test's own recording id."""
    return f"rec-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def put(store: Store) -> Callable[..., tuple[str, dict[str, Any]] | None]:
    """Route one event the way the sink does and insert its row: ``put(schema, value,
    settings=None, topic=...)`` returns (table, row), or None for an event the sink skips."""

    def insert(
        schema: str,
        value: Mapping[str, Any],
        settings: SinkSettings | None = None,
        topic: str = "stt.test.v1",
        partition: int = 0,
    ) -> tuple[str, dict[str, Any]] | None:
        routed = to_row(
            schema, value, (topic, partition, next(_offsets), 1_700_000_000_000), settings or SinkSettings()
        )
        if routed is not None:
            table, row = routed
            columns = list(row)
            store.insert(table, [[row[c] for c in columns]], columns)
        return routed

    return insert

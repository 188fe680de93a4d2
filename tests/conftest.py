"""Shared fixtures: one real Kafka broker per test session, uuid topics per test.

The broker is the project's own ``infra.local.LocalKafka`` on its own ports and data
directory, so a `make run` stack on the default port does not interfere. Set
``STT_TEST_BOOTSTRAP`` to use a broker that is already running instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

TEST_KAFKA_PORT = int(os.environ.get("STT_TEST_KAFKA_PORT", "19092"))


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("STT_TEST_BOOTSTRAP")
    if external:
        yield external
        return
    from infra.local import LocalKafka

    home = tmp_path_factory.mktemp("kafka")
    broker = LocalKafka(home=Path(home), port=TEST_KAFKA_PORT)
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def unique() -> str:
    """A short uuid to name this test's topics and consumer groups."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def make_topics(kafka_bootstrap: str):
    """Create topics (and their DLQs) for one test: ``make_topics(name, ..., partitions=2)``."""
    from infra.local import create_topics
    from mesh import topics

    def make(*names: str, partitions: int = 1) -> list[str]:
        specs = [
            {"name": n, "partitions": partitions, "config": {"max.message.bytes": "10485760"}} for n in names
        ]
        specs += [{"name": topics.dlq(n), "partitions": 1, "config": {}} for n in names]
        create_topics(kafka_bootstrap, specs)
        return list(names)

    return make


@pytest.fixture
def mesh_settings(kafka_bootstrap: str):
    from mesh import MeshSettings

    return MeshSettings(bootstrap_servers=kafka_bootstrap, metrics_port=None, retry_backoff_ms=10)

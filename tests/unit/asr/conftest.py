"""Fixtures of the ASR unit tests: AudioChunk dicts and a scriptable fake engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.asr.fakes import FakeEngine, make_chunk


@pytest.fixture
def chunk_factory() -> Callable[..., dict[str, Any]]:
    return make_chunk


@pytest.fixture
def fake_engine() -> FakeEngine:
    return FakeEngine()

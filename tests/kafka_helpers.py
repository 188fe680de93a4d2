"""Small helpers for tests that talk to the real broker."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from confluent_kafka import Consumer

from mesh.serde import AvroSerde


def read_all(
    bootstrap: str,
    topic: str,
    *,
    expect: int,
    timeout_s: float = 30.0,
    serde: AvroSerde | None = None,
    settle_s: float = 1.0,
    decode: bool = True,
) -> list[tuple[str, Any, Any]]:
    """Read a topic from the start until ``expect`` records arrived and no more come for
    ``settle_s`` (so duplicates would be seen); returns (schema, value, raw message).
    With ``decode=False`` the value is the message's bytes and the schema is empty."""
    serde = serde or AvroSerde()
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out: list[tuple[str, dict[str, Any], Any]] = []
    deadline = time.monotonic() + timeout_s
    last_new = time.monotonic()
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None:
                schema, value = serde.decode(msg.value(), msg.headers()) if decode else ("", msg.value())
                out.append((schema, value, msg))
                last_new = time.monotonic()
            elif len(out) >= expect and time.monotonic() - last_new > settle_s:
                break
    finally:
        consumer.close()
    return out


def run_in_thread(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


@contextlib.contextmanager
def running(*procs: Any) -> Iterator[None]:
    """Run mesh Processors in threads for the block; stop and join them after it."""
    threads = [run_in_thread(p.run) for p in procs]
    try:
        yield
    finally:
        for p in procs:
            p.stop()
        for t in threads:
            t.join(30)


def wait_for(predicate: Callable[[], bool], timeout_s: float = 30.0, every_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every_s)
    return predicate()

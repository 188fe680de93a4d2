"""Sink insert throughput: QualityReport rows per second into embedded ClickHouse (chDB).

    .venv/bin/python bench/sink_insert.py [--rows 200000] [--batch-rows 50000]

Three measurements in one run, on one fresh store (a temporary chDB directory with the
project's migrations applied), with the same rows:

* raw: ``clickhouse_connect`` ``client.insert`` straight into a plain MergeTree table with the
  quality table's columns: no Store wrapper, no deduplication token, no ReplacingMergeTree.
* store: ``services.sink.store.Store.insert`` into ``stt.quality`` (ReplacingMergeTree, TTL,
  ``non_replicated_deduplication_window``) with a token per batch like the sink's.
* sink path: what the sink does per message: Avro decode (``mesh.serde``), ``rows.to_row``,
  the row dict to a column list, and the store insert, in the sink's batches.

The rows are QualityReports as the quality service writes them (``tests/sink_events.py``:
chunk and call reports of whole calls), varied in recording_id, trace_id, tenant and seq.
Only the inserts (and, for the sink path, decode and row building) are timed; building the
values and the Avro bytes is not. Batches are the sink's default ``batch_max_rows``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mesh.serde import AvroSerde
from mesh.trace import new_trace_id
from services.sink.config import SinkSettings
from services.sink.migrate import migrate
from services.sink.rows import to_row
from services.sink.store import Store
from tests import sink_events as ev

TOPIC, TENANTS, CALLS = "stt.quality.v1", ["acme", "globex", "initech", "umbrella"], 24


def templates() -> list[dict[str, Any]]:
    """Chunk and call QualityReports of a few different calls (good, poor, noisy audio)."""
    found = []
    for i in range(CALLS):
        _, events = ev.call(
            f"tpl-{i}", probs=0.5 + 0.02 * i, snr_db=5.0 + i, codec="pcm_mulaw" if i % 3 == 0 else "pcm_s16le"
        )
        found += [value for schema, value in events if schema == "QualityReport"]
    return found


def reports(n: int, base: list[dict[str, Any]], prefix: str) -> Iterator[dict[str, Any]]:
    """``n`` QualityReports: one call report after seven chunk reports, each call its own
    recording (``prefix``: each measurement has its own, so no two share an identity key that
    ReplacingMergeTree would collapse)."""
    now = int(time.time() * 1000)
    trace = new_trace_id()
    for i in range(n):
        call, seq = divmod(i, 8)
        template = base[(2 * call + (1 if seq == 7 else 0)) % len(base)]
        if seq == 0:
            trace = new_trace_id()
        yield {
            **template,
            "recording_id": f"{prefix}-{call:07d}",
            "trace_id": trace,
            "tenant": TENANTS[call % len(TENANTS)],
            "scope": "recording" if seq == 7 else "chunk",
            "seq": None if seq == 7 else seq,
            "produced_at_ms": now - (n - i),
        }


def row_batches(
    n: int, batch_rows: int, base: list[dict[str, Any]], settings: SinkSettings, prefix: str
) -> Iterator[tuple[int, list[str], list[list[Any]]]]:
    """(first offset, columns, rows) per batch, built through ``to_row`` as the sink builds them."""
    batch: list[dict[str, Any]] = []
    first = 0
    for offset, value in enumerate(reports(n, base, prefix)):
        batch.append(to_row("QualityReport", value, (TOPIC, 0, offset, value["produced_at_ms"]), settings)[1])
        if len(batch) == batch_rows or offset == n - 1:
            columns = list(batch[0])
            yield first, columns, [[r[c] for c in columns] for r in batch]
            first, batch = offset + 1, []


def timed_raw(client: Any, table: str, batches: list[tuple[int, list[str], list[list[Any]]]]) -> float:
    elapsed = 0.0
    for _, columns, rows in batches:
        started = time.perf_counter()
        client.insert(table, rows, column_names=columns)
        elapsed += time.perf_counter() - started
    return elapsed


def timed_store(store: Store, batches: list[tuple[int, list[str], list[list[Any]]]], topic: str) -> float:
    elapsed = 0.0
    for first, columns, rows in batches:
        token = f"{topic}/0/{first}-{first + len(rows) - 1}/quality"
        started = time.perf_counter()
        store.insert("quality", rows, columns, token=token)
        elapsed += time.perf_counter() - started
    return elapsed


def timed_sink_path(
    store: Store,
    messages: list[tuple[bytes, list[tuple[str, bytes]]]],
    batch_rows: int,
    settings: SinkSettings,
    topic: str,
) -> dict[str, float]:
    """Decode + to_row + column list + insert, per batch of the sink's size; seconds per step."""
    serde = AvroSerde()
    spent = {"decode": 0.0, "to_row": 0.0, "insert": 0.0}
    clock = time.perf_counter
    for first in range(0, len(messages), batch_rows):
        rows = []
        for offset, (data, headers) in enumerate(messages[first : first + batch_rows], start=first):
            t0 = clock()
            schema, value = serde.decode(data, headers)
            t1 = clock()
            rows.append(
                to_row(schema.rsplit(".", 1)[-1], value, (topic, 0, offset, 1_700_000_000_000), settings)[1]
            )
            t2 = clock()
            spent["decode"] += t1 - t0
            spent["to_row"] += t2 - t1
        t0 = clock()
        columns = list(rows[0])
        store.insert(
            "quality",
            [[r[c] for c in columns] for r in rows],
            columns,
            token=f"{topic}/0/{first}-{first + len(rows) - 1}/quality",
        )
        spent["insert"] += clock() - t0
    return spent


def count(store: Store, table: str, prefix: str) -> int:
    return store.query(f"SELECT count() FROM {table} WHERE startsWith(recording_id, '{prefix}-')")[1][0][0]


def line(name: str, n: int, seconds: float) -> str:
    return f"{name:<44} {n:>8} rows {seconds:8.2f} s {n / seconds:>11,.0f} rows/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch-rows", type=int, default=SinkSettings().batch_max_rows)
    parser.add_argument("--rounds", type=int, default=2, help="raw and store rounds, alternating order")
    args = parser.parse_args()
    n, batch_rows = args.rows, args.batch_rows

    raw, stored = float("inf"), float("inf")
    with tempfile.TemporaryDirectory(prefix="sink-bench-") as tmp:
        settings = SinkSettings(dsn=f"chdb://{tmp}/clickhouse")
        store = Store(settings.resolved_dsn(), settings.database)
        migrate(store, settings)
        store.command("CREATE DATABASE IF NOT EXISTS raw")
        store.command(
            "CREATE TABLE raw.quality AS stt.quality ENGINE = MergeTree "
            "PARTITION BY toYYYYMM(produced_at) ORDER BY (tenant, recording_id, scope, seq)"
        )
        base = templates()
        warm = list(row_batches(1000, 1000, base, settings, "warmup"))  # first inserts, not timed
        timed_raw(store.client, "raw.quality", warm)
        timed_store(store, warm, "stt.warmup.v1")

        for r in range(args.rounds):  # alternating order, best of each: the machine is shared
            batches = list(row_batches(n, batch_rows, base, settings, f"bench{r}"))
            if r % 2 == 0:
                raw = min(raw, timed_raw(store.client, "raw.quality", batches))
                stored = min(stored, timed_store(store, batches, f"{TOPIC}.r{r}"))
            else:
                stored = min(stored, timed_store(store, batches, f"{TOPIC}.r{r}"))
                raw = min(raw, timed_raw(store.client, "raw.quality", batches))
            assert count(store, "raw.quality", f"bench{r}") == n, "raw rows missing"
            assert count(store, "stt.quality", f"bench{r}") == n, "store rows missing"
            del batches

        serde = AvroSerde()
        messages = [serde.encode("QualityReport", value) for value in reports(n, base, "sinkpath")]
        steps = timed_sink_path(store, messages, batch_rows, settings, "stt.quality.sinkpath.v1")
        assert count(store, "stt.quality", "sinkpath") == n, "sink-path rows missing"
        store.close()
    sink = sum(steps.values())

    print(
        f"{n:,} QualityReport rows into embedded chDB (clickhouse-connect over chDB), batches of "
        f"{batch_rows:,}, best of {args.rounds} alternating rounds; {os.cpu_count()} CPU(s)"
    )
    print(line("raw client.insert (plain MergeTree)", n, raw))
    print(line("Store.insert (stt.quality, dedup token)", n, stored))
    print(line("sink path (Avro decode + to_row + insert)", n, sink))
    print("  of which " + ", ".join(f"{k} {v:.2f} s ({n / v:,.0f} rows/s)" for k, v in steps.items()))
    print(
        f"Store.insert / raw insert: {raw / stored:.2f}x the raw rate; "
        f"sink path / raw insert: {raw / sink:.2f}x"
    )
    target = 100_000
    print(
        f"target >= {target:,} rows/s through the sink's store: Store.insert {n / stored:,.0f} rows/s "
        f"({'met' if n / stored >= target else 'NOT met'}); sink path {n / sink:,.0f} rows/s "
        f"({'met' if n / sink >= target else 'NOT met'})"
    )


if __name__ == "__main__":
    main()

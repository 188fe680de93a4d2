"""Mesh overhead per message: Avro encode + produce + consume + decode + store offset.

Sends N AudioChunk events with 100 KB of PCM through a real broker twice in one run:
once through the mesh (Publisher -> Processor with a no-op handler) and once with bare
confluent-kafka (same bytes, same broker, no Avro, no offset store), and prints the
per-message cost of each and their ratio.

    python bench/mesh_overhead.py [--messages 2000] [--bootstrap HOST:PORT]
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid

from confluent_kafka import Consumer, Producer

from infra.local import broker_or_throwaway, create_topics
from mesh import MeshSettings, Message, Output, Processor, Publisher
from mesh.trace import new_trace_id

PAYLOAD = 100 * 1024


def chunk(i: int, pcm: bytes) -> dict:
    stats = {
        "duration_s": 3.2,
        "rms_dbfs": -20.0,
        "peak_dbfs": -3.0,
        "clipping_ratio": 0.0,
        "snr_db": 30.0,
        "silence_ratio": 0.1,
    }
    return {
        "recording_id": f"bench-{i % 50}",
        "trace_id": new_trace_id(),
        "tenant": "bench",
        "seq": i,
        "is_last": False,
        "chunk_count": 0,
        "channel": 0,
        "channel_role": None,
        "start_s": 0.0,
        "duration_s": 3.2,
        "keep_from_s": 0.0,
        "keep_until_s": 3.2,
        "sample_rate": 16000,
        "encoding": "s16le",
        "pcm": pcm,
        "stats": stats,
        "priority": "batch",
        "hints": {
            "language": None,
            "num_speakers": None,
            "min_speakers": None,
            "max_speakers": None,
            "channel_roles": [],
        },
        "recording_duration_s": 3.2,
        "produced_at_ms": int(time.time() * 1000),
    }


def run_mesh(settings: MeshSettings, topic: str, n: int) -> float:
    pcm = bytes(range(256)) * (PAYLOAD // 256)
    handled = threading.Event()
    count = 0

    def handle(msg: Message) -> list[Output]:
        nonlocal count
        count += 1
        if count == n:
            handled.set()
        return []

    proc = Processor(
        settings, service="bench", topics=[topic], group_id=f"bench-{uuid.uuid4().hex}", handler=handle
    )
    thread = threading.Thread(target=proc.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not proc.health.ready:  # partitions assigned: the group has settled
        if time.monotonic() > deadline:
            raise RuntimeError("the mesh consumer was never assigned its partitions")
        time.sleep(0.05)
    pub = Publisher(settings, service="bench")
    start = time.perf_counter()
    for i in range(n):
        pub.send(Output(topic, "AudioChunk", chunk(i, pcm)))
    pub.flush()
    finished = handled.wait(600)
    elapsed = time.perf_counter() - start
    pub.close()
    proc.stop()
    thread.join(30)
    if not finished:
        raise RuntimeError(f"the mesh handled {count} of {n} messages in 600 s")
    return elapsed


def run_bare(bootstrap: str, topic: str, n: int) -> float:
    payload = bytes(range(256)) * (PAYLOAD // 256)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bare-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    assigned = threading.Event()
    consumer.subscribe([topic], on_assign=lambda c, parts: assigned.set())
    deadline = time.monotonic() + 60
    while not assigned.is_set():  # the same settled start as the mesh side
        if time.monotonic() > deadline:
            raise RuntimeError("the bare consumer was never assigned its partitions")
        consumer.poll(0.1)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 5,
            "compression.type": "lz4",
            "message.max.bytes": 10 * 1024 * 1024,
        }
    )
    got = 0
    start = time.perf_counter()
    for i in range(n):
        producer.produce(topic, payload, f"bench-{i % 50}".encode())
        producer.poll(0)
    producer.flush()
    deadline = time.monotonic() + 600
    while got < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"bare consumer got {got} of {n} messages in 600 s")
        got += len([m for m in consumer.consume(500, 1.0) if m.error() is None])
    elapsed = time.perf_counter() - start
    consumer.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--bootstrap")
    args = parser.parse_args()
    with broker_or_throwaway(args.bootstrap) as bootstrap:
        run_id = uuid.uuid4().hex[:8]
        mesh_topic, bare_topic = f"bench-mesh-{run_id}", f"bench-bare-{run_id}"
        specs = [{"name": t, "partitions": 3, "config": {}} for t in (mesh_topic, bare_topic)]
        create_topics(bootstrap, specs)
        settings = MeshSettings(bootstrap_servers=bootstrap, metrics_port=None)
        n = args.messages
        bare = run_bare(bootstrap, bare_topic, n)
        mesh = run_mesh(settings, mesh_topic, n)
        print(f"messages: {n} x {PAYLOAD // 1024} KB payload, 3 partitions, one broker on loopback")
        print(f"bare confluent-kafka produce+consume: {bare / n * 1000:.3f} ms/message")
        print(
            "mesh (Avro encode + produce + consume + decode + store offset): "
            f"{mesh / n * 1000:.3f} ms/message"
        )
        print(f"mesh / bare: {mesh / bare:.2f}x; mesh overhead: {(mesh - bare) / n * 1000:.3f} ms/message")


if __name__ == "__main__":
    main()

"""A partition that is revoked while the loop has it paused (long work in hand) and assigned
to the same consumer again is fetched again: librdkafka keeps an application's pause of a
partition across its revocation, so without a resume on assignment it would stay paused for
the life of the process, owned and ready but never read.

Found by tests/e2e/test_survive.py: an ASR batch decode outlasted the long-work threshold
while the broker restarted; the assignment was lost and came back, and the batch pool sat on
its three partitions with a lag until it was restarted.
"""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import Consumer

from mesh import Message, Output, Processor
from tests.integration.test_loop import outcome, publish
from tests.kafka_helpers import read_all, running, wait_for

pytestmark = pytest.mark.integration

WORK_S = 12.0


def test_a_partition_revoked_while_paused_is_fetched_again_once_it_is_assigned_back(
    mesh_settings, make_topics, unique
):
    """Long work pauses both partitions; a second member joins and takes one of them; the work
    ends (the loop resumes what it still owns); the second member leaves and the partition it
    had comes back: it must be read again."""
    settings = mesh_settings.model_copy(
        update={"long_work_after_s": 0.5, "session_timeout_ms": 6000, "max_poll_interval_ms": 6000}
    )
    source, sink = make_topics(f"in-{unique}", f"out-{unique}", partitions=2)
    started = threading.Event()

    def handle(msg: Message) -> list[Output]:
        if msg.value["recording_id"] == "rec-0" and not started.is_set():  # long the first time
            started.set()
            time.sleep(WORK_S)
        return [Output(sink, "LlmOutcome", msg.value)]

    group = f"g-{unique}"
    proc = Processor(settings, service="paused", topics=[source], group_id=group, handler=handle)
    other = Consumer({**settings.consumer_config(group), "client.id": "passer-by"})
    with running(proc):
        assert wait_for(lambda: len(proc.assignment.owned) == 2, timeout_s=60)
        publish(settings, source, [outcome(0)])
        assert started.wait(30) and wait_for(lambda: len(proc._paused) == 2, timeout_s=10), "no long work"
        other.subscribe([source])  # takes one of the two paused partitions from the loop
        assert wait_for(
            lambda: (
                other.poll(0.2) is None and len(other.assignment()) == 1 and len(proc.assignment.owned) == 1
            ),
            timeout_s=30,
            every_s=0.01,
        )
        while proc._paused:  # the work ends: the loop resumes the partition it still owns
            other.poll(0.2)
        other.close()  # the other partition comes back to the loop, paused by it before
        assert wait_for(lambda: len(proc.assignment.owned) == 2, timeout_s=30)
        publish(settings, source, [outcome(i) for i in range(1, 11)])
        # rec-0 may come out twice (its work ended after its partition was revoked: at least once)
        expected = {f"rec-{i}" for i in range(11)}
        assert wait_for(lambda: outputs(settings.bootstrap_servers, sink) >= expected, timeout_s=60), (
            f"missing {sorted(expected - outputs(settings.bootstrap_servers, sink))}: a partition "
            "assigned back stayed paused"
        )


def outputs(bootstrap: str, topic: str) -> set[str]:
    return {v["recording_id"] for _, v, _ in read_all(bootstrap, topic, expect=1, timeout_s=5, settle_s=0.5)}

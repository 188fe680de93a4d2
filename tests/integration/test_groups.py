"""``mesh.groups.GroupWatch`` against the real broker: a group nobody consumes in is inactive,
one with a live member is active, and it turns inactive again once that member left."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer

from mesh.groups import GroupWatch

pytestmark = pytest.mark.integration


def wait_for(check, want: bool, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check() == want:
            return True
        time.sleep(1.0)
    return check() == want


def test_a_group_is_active_while_it_has_members(kafka_bootstrap, make_topics, mesh_settings, unique) -> None:
    [topic] = make_topics(f"groups-{unique}")
    group = f"diarizer-{unique}"
    watch = GroupWatch(mesh_settings, group, every_s=3600).start()
    assert watch.active() is False  # nobody deployed: the broker knows the group has no member

    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group})
    consumer.subscribe([topic])
    try:
        assert wait_for(lambda: (consumer.poll(0.5), watch.check())[1] and watch.active(), True)
    finally:
        consumer.close()
    assert wait_for(lambda: (watch.check(), watch.active())[1], False)


def test_before_any_answer_the_watch_assumes_the_group_is_there(mesh_settings) -> None:
    class Silent:
        def describe_consumer_groups(self, *_a, **_k):
            raise RuntimeError("no broker")

    watch = GroupWatch(mesh_settings, "g", admin=lambda _s: Silent())
    assert watch.check() is None and watch.active() is True and watch.active(unknown=False) is False


def test_a_group_without_members_stays_active_for_its_grace(mesh_settings) -> None:
    class Empty:
        def describe_consumer_groups(self, groups, **_k):
            from concurrent.futures import Future

            done: Future = Future()
            done.set_result(type("Described", (), {"members": []})())
            return {groups[0]: done}

    now = [0.0]
    watch = GroupWatch(mesh_settings, "g", grace_s=120.0, admin=lambda _s: Empty(), clock=lambda: now[0])
    watch.check()
    assert watch.active() is True  # just started: the diarizer may still be loading its model
    now[0] = 121.0
    assert watch.active() is False


def test_a_question_that_failed_is_asked_of_a_new_admin_client(mesh_settings) -> None:
    """An admin client left without brokers after a broker restart never answers again: the
    next question goes to a new client, so the watch does not keep its last answer for good."""
    from concurrent.futures import Future

    class Orphaned:
        def describe_consumer_groups(self, *_a, **_k):
            raise RuntimeError("Local: Timed out")

    class Answers:
        def describe_consumer_groups(self, groups, **_k):
            done: Future = Future()
            done.set_result(type("Described", (), {"members": ["diarizer"]})())
            return {groups[0]: done}

    clients = iter([Orphaned(), Answers()])
    watch = GroupWatch(mesh_settings, "g", admin=lambda _s: next(clients))
    assert watch.check() is None and watch.renewals == 1
    assert watch.check() == 1 and watch.active(unknown=False) is True


def test_after_a_broker_restart_the_watch_sees_members_again(tmp_path) -> None:
    """The same on a real broker of this test's own, restarted: before the fix every describe
    timed out after the restart and the watch kept answering 'no members'."""
    from infra.local import LocalKafka, create_topics
    from mesh import MeshSettings
    from tests.service_process import free_port

    broker = LocalKafka(home=tmp_path / "kafka", port=free_port(pair=True))
    broker.start()
    try:
        create_topics(broker.bootstrap, [{"name": "t", "partitions": 1, "config": {}}])
        # asking every second, also while the broker shuts down: that is what strands a client
        watch = GroupWatch(
            MeshSettings(bootstrap_servers=broker.bootstrap, metrics_port=None),
            "g",
            every_s=1.0,
            timeout_s=3.0,
        ).start()
        assert wait_for(lambda: watch.active(unknown=False), False, timeout_s=10)
        broker.stop()
        broker.start()
        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "g"})
        consumer.subscribe(["t"])
        try:
            assert wait_for(
                lambda: (consumer.poll(0.5), watch.active(unknown=False))[1], True, timeout_s=90
            ), "the watch never saw the member that joined after the restart"
        finally:
            consumer.close()
            watch.stop()
    finally:
        broker.stop()

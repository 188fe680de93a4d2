"""The ASR gate watcher against a real broker: a rollback published to the gates topic
reaches a running watcher within seconds, decisions published before it started are
replayed, and a topic created after it started is picked up."""

from __future__ import annotations

import time

import pytest

from mesh import Output, Publisher
from services.asr.config import RolloutSettings
from services.asr.rollout import GateWatcher, RolloutState, Router
from tests.kafka_helpers import wait_for
from tests.unit.asr.test_rollout import decision

pytestmark = pytest.mark.integration

CANDIDATE = "large-v3"


def publish(settings, topic: str, *decisions: dict) -> None:
    pub = Publisher(settings, service="test-gates")
    for value in decisions:
        pub.send(Output(topic, "GateDecision", value, key=value["gate_id"]))
    pub.flush()
    pub.close()


def router() -> Router:
    return Router(RolloutSettings(candidate_model=CANDIDATE, candidate_share=1.0))


def test_a_running_watcher_picks_up_a_rollback_within_seconds(mesh_settings, make_topics, unique):
    [topic] = make_topics(f"gates-{unique}", partitions=2)
    publish(mesh_settings, topic, decision("pause", at=1), decision("continue", at=2))
    r = router()
    watcher = GateWatcher(r, mesh_settings, topic=topic).start()
    try:
        assert wait_for(lambda: r.synced, timeout_s=20), "the watcher never read the topic to its end"
        assert r.state is RolloutState.ACTIVE and r.arm_for("rec-a", "t") == "candidate"
        publish(mesh_settings, topic, decision("rollback", name="medium", at=3))
        published = time.monotonic()
        publish(mesh_settings, topic, decision("rollback", gate_id="gate-9", at=4))
        assert wait_for(lambda: r.state is RolloutState.ROLLED_BACK, timeout_s=5)
        assert time.monotonic() - published < 5
        assert r.arm_for("rec-a", "t") == "control" and r.verdict.gate_id == "gate-9"
    finally:
        watcher.stop()
    assert not watcher.running
    # a replica starting now replays the topic and starts rolled back
    late = router()
    watcher = GateWatcher(late, mesh_settings, topic=topic).start()
    try:
        assert wait_for(lambda: late.synced, timeout_s=20)
        assert late.state is RolloutState.ROLLED_BACK and late.arm_for("rec-b", "t") == "control"
    finally:
        watcher.stop()


def test_a_topic_that_does_not_exist_yet_holds_nothing_up_and_is_followed_once_created(
    mesh_settings, make_topics, unique
):
    topic = f"gates-late-{unique}"
    r = router()
    watcher = GateWatcher(r, mesh_settings, topic=topic, metadata_refresh_ms=1000).start()
    try:
        assert wait_for(lambda: r.synced, timeout_s=20)
        assert r.arm_for("rec-a", "t") == "candidate"
        make_topics(topic)
        publish(mesh_settings, topic, decision("pause", at=1))
        assert wait_for(lambda: r.state is RolloutState.PAUSED, timeout_s=30)
    finally:
        watcher.stop()

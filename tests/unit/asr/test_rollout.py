"""Rollout routing and gate decisions: the Router alone, and the GateWatcher on a fake consumer."""

from __future__ import annotations

import logging
import threading
import time

import fastavro.validation
import pytest
from confluent_kafka import KafkaError
from prometheus_client import CollectorRegistry

import schemas
from mesh import MeshSettings
from mesh.metrics import PrometheusSensor
from mesh.serde import AvroSerde
from services.asr.config import AsrSettings, RolloutSettings
from services.asr.rollout import GateWatcher, RolloutState, Router, bucket

CANDIDATE = "large-v3"


def rollout(**kw) -> RolloutSettings:
    return RolloutSettings(**{"candidate_model": CANDIDATE, "candidate_share": 0.1, **kw})


def decision(
    kind: str,
    name: str = CANDIDATE,
    *,
    gate_id: str = "gate-1",
    at: int = 1_000,
    reasons: tuple[str, ...] = ("wer +12% on snr<10",),
) -> dict:
    model = {"name": name, "version": "1", "sha256": "cd" * 32, "compute_type": "int8", "device": "cpu"}
    value = {
        "gate_id": gate_id,
        "canary": model,
        "control": {**model, "name": "base"},
        "decision": kind,
        "slice_deltas": {},
        "reason": reasons[0] if reasons else "",
        "produced_at_ms": at,
        "source": "live",
        "golden_run": None,
        "reasons": list(reasons),
        "slices": [],
        "window_start_ms": 0,
        "window_end_ms": 0,
    }
    fastavro.validation.validate(value, schemas.load("GateDecision"))
    return value


def ids(n: int = 10_000) -> list[str]:
    return [f"rec-{i:05d}" for i in range(n)]


def candidate_ids(router: Router, n: int = 10_000, tenant: str = "default") -> list[str]:
    return [r for r in ids(n) if router.arm_for(r, tenant) == "candidate"]


# -- routing -------------------------------------------------------------------------------
def test_the_hash_is_pinned_so_every_replica_and_every_release_agrees():
    # blake2b of salt and id: the same in any process, whatever PYTHONHASHSEED says
    assert bucket("stt-asr-rollout", "rec-1") == pytest.approx(0.7737564507175849, abs=1e-15)
    assert bucket("other", "rec-1") == pytest.approx(0.08846061383881558, abs=1e-15)


def test_hash_routing_is_stable_and_near_the_share_over_ten_thousand_recordings():
    first = candidate_ids(Router(rollout()))
    again = candidate_ids(Router(rollout()))  # a second replica
    assert first == again
    assert 850 <= len(first) <= 1150  # 0.1 of 10,000; sd 30, so 5 sd of headroom
    resalted = candidate_ids(Router(rollout(salt="round-2")))
    assert 850 <= len(resalted) <= 1150 and len(set(first) & set(resalted)) < 250


@pytest.mark.parametrize("share, expected", [(0.0, 0), (1.0, 10_000)])
def test_a_share_of_zero_or_one_routes_none_or_all(share, expected):
    assert len(candidate_ids(Router(rollout(candidate_share=share)))) == expected


def test_every_chunk_of_a_recording_takes_the_same_arm():
    router = Router(rollout(candidate_share=0.5))
    for rid in ids(200):
        arms = {router.arm_for(rid, "default") for _ in range(5)}
        assert len(arms) == 1


def test_listed_tenants_go_wholly_to_the_candidate():
    settings = rollout(candidate_share=0.0, candidate_tenants=["acme"])
    assert candidate_ids(Router(settings), 500, tenant="acme") == ids(500)
    assert candidate_ids(Router(settings), 500, tenant="other") == []


def test_without_a_candidate_everything_is_control():
    router = Router(RolloutSettings(candidate_share=1.0, candidate_tenants=["acme"]))
    assert not router.enabled
    assert candidate_ids(router, 100, tenant="acme") == []


def test_a_hint_forces_the_arm_either_way():
    router = Router(rollout(candidate_share=0.5))
    chosen = candidate_ids(router, 100)
    other = next(r for r in ids(100) if r not in chosen)
    assert router.arm_for(other, "default", "candidate") == "candidate"
    assert router.arm_for(chosen[0], "default", "control") == "control"
    assert router.arm_for(chosen[0], "default", "something-else") == "candidate"  # not a hint


def test_a_hint_for_a_candidate_that_is_missing_or_rolled_back_is_control_and_logged(caplog):
    caplog.set_level(logging.INFO, logger="services.asr.rollout")
    assert Router(RolloutSettings()).arm_for("golden-1", "t", "candidate") == "control"
    assert "no candidate is configured" in caplog.text
    router = Router(rollout())
    router.apply(decision("rollback"))
    assert router.arm_for("golden-2", "t", "candidate") == "control"
    assert f"{CANDIDATE} was rolled back" in caplog.text


# -- decisions -----------------------------------------------------------------------------
def test_a_rollback_stops_the_candidate_even_for_the_next_chunk_of_a_recording_in_flight(caplog):
    router = Router(rollout(candidate_share=0.5))
    [in_flight, *_] = candidate_ids(router, 100)
    assert router.arm_for(in_flight, "default") == "candidate"  # its first chunk
    with caplog.at_level(logging.WARNING, logger="services.asr.rollout"):
        assert router.apply(decision("rollback", gate_id="gate-7", reasons=("wer", "latency")))
    assert router.arm_for(in_flight, "default") == "control"
    assert candidate_ids(router, 1000) == []
    assert router.state is RolloutState.ROLLED_BACK and router.share() == 0.0
    [record] = [r for r in caplog.records if "rolled_back" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert "gate-7" in record.getMessage() and "wer; latency" in record.getMessage()


def test_a_rollback_is_final_a_later_continue_does_not_resume_the_candidate():
    router = Router(rollout())
    assert router.apply(decision("rollback", at=1_000))
    assert not router.apply(decision("continue", at=2_000))
    assert not router.apply(decision("pause", at=3_000))
    assert router.state is RolloutState.ROLLED_BACK and candidate_ids(router, 1000) == []


def test_a_new_candidate_name_is_a_new_rollout():
    [rolled_back] = [decision("rollback")]
    router = Router(rollout(candidate_model="large-v3-turbo"))
    assert not router.apply(rolled_back)  # the old candidate's rollback, replayed at start
    assert router.state is RolloutState.ACTIVE and len(candidate_ids(router, 1000)) > 50


def test_decisions_about_another_candidate_are_ignored():
    router = Router(rollout())
    assert not router.matches(decision("rollback", name="medium"))
    assert not router.apply(decision("rollback", name="medium"))
    assert not router.apply(decision("pause", name="medium"))
    assert router.state is RolloutState.ACTIVE


def test_the_name_the_loaded_candidate_reports_matches_too():
    router = Router(rollout(candidate_model="/models/large-v3-2026"), model_name="large-v3-2026")
    assert router.apply(decision("pause", name="large-v3-2026"))
    assert router.state is RolloutState.PAUSED


def test_pause_keeps_new_recordings_on_control_until_continue():
    router = Router(rollout(candidate_share=0.5))
    chosen = candidate_ids(Router(rollout(candidate_share=0.5)), 400)
    started, new, later = chosen[:50], chosen[50:100], chosen[100:]
    assert all(router.arm_for(r, "default") == "candidate" for r in started)
    assert router.apply(decision("pause", at=1_000))
    assert router.state is RolloutState.PAUSED and router.share() == 0.0
    # recordings already on the candidate finish there; new ones start on control
    assert all(router.arm_for(r, "default") == "candidate" for r in started)
    assert all(router.arm_for(r, "default") == "control" for r in new)
    assert not router.apply(decision("pause", at=1_500))  # no change
    assert router.apply(decision("continue", at=2_000))
    assert router.state is RolloutState.ACTIVE and router.share() == 0.5
    assert all(router.arm_for(r, "default") == "control" for r in new)  # they keep their arm
    assert all(router.arm_for(r, "default") == "candidate" for r in later)


def test_a_decision_older_than_the_one_in_force_is_ignored_but_a_rollback_never_is():
    router = Router(rollout())
    assert router.apply(decision("pause", at=2_000))
    assert not router.apply(decision("continue", at=1_000))  # from another partition, late
    assert router.state is RolloutState.PAUSED
    assert router.apply(decision("rollback", at=500))
    assert router.state is RolloutState.ROLLED_BACK


def test_an_unknown_decision_changes_nothing():
    router = Router(rollout())
    assert not router.apply(decision("promote"))
    assert router.state is RolloutState.ACTIVE


def test_until_the_decisions_are_replayed_new_recordings_stay_on_control():
    router = Router(rollout(candidate_share=1.0))
    router.await_decisions()
    assert router.arm_for("early", "default") == "control"
    assert router.arm_for("golden", "default", "candidate") == "candidate"  # forced: evaluation
    router.mark_synced()
    assert router.arm_for("early", "default") == "control"  # started on control, stays there
    assert router.arm_for("later", "default") == "candidate"


def test_candidate_overrides_are_checked_at_start():
    with pytest.raises(ValueError, match="not decode options: beam"):
        RolloutSettings(candidate_decode={"beam": 1})
    with pytest.raises(ValueError, match="not both"):
        RolloutSettings(candidate_decode={"vad_threshold": 0.6}, candidate_vad={"threshold": 0.7})
    with pytest.raises(ValueError):
        RolloutSettings(candidate_share=1.5)


def test_rollout_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("STT_ASR_ROLLOUT__CANDIDATE_MODEL", "/models/large-v3")
    monkeypatch.setenv("STT_ASR_ROLLOUT__CANDIDATE_SHARE", "0.05")
    monkeypatch.setenv("STT_ASR_ROLLOUT__CANDIDATE_TENANTS", '["acme", "globex"]')
    monkeypatch.setenv("STT_ASR_ROLLOUT__SALT", "wave-2")
    monkeypatch.setenv("STT_ASR_ROLLOUT__CANDIDATE_DECODE__BEAM_SIZE", "1")
    monkeypatch.setenv("STT_ASR_ROLLOUT__CANDIDATE_VAD__THRESHOLD", "0.35")
    s = AsrSettings()
    r = s.rollout
    assert (r.candidate_model, r.candidate_share, r.candidate_tenants, r.salt) == (
        "/models/large-v3",
        0.05,
        ["acme", "globex"],
        "wave-2",
    )
    options = s.candidate_options()
    assert (options.beam_size, options.vad_threshold) == (1, 0.35)
    assert (s.decode.beam_size, s.decode.vad_threshold) == (5, 0.5)  # control keeps its own


# -- the watcher ---------------------------------------------------------------------------
class FakeError:
    def __init__(self, code: int) -> None:
        self._code = code

    def code(self) -> int:
        return self._code


class FakeMsg:
    def __init__(
        self,
        topic: str,
        value: bytes | None = None,
        headers=None,
        error: FakeError | None = None,
        partition: int = 0,
    ) -> None:
        self._topic, self._value, self._headers = topic, value, headers
        self._error, self._partition = error, partition

    def error(self):
        return self._error

    def value(self):
        return self._value

    def headers(self):
        return self._headers

    def topic(self):
        return self._topic

    def partition(self):
        return self._partition

    def offset(self):
        return 0


class TP:
    def __init__(self, topic: str, partition: int) -> None:
        self.topic, self.partition = topic, partition


class FakeConsumer:
    """Assigns ``partitions`` on the first poll, then hands out ``feed`` one poll at a time."""

    def __init__(self, conf: dict, feed: list, partitions: int = 1) -> None:
        self.conf, self.feed, self.partitions = conf, list(feed), partitions
        self.closed = False
        self.lock = threading.Lock()

    def subscribe(self, topics, on_assign=None, on_revoke=None):
        self.topic, self.on_assign = topics[0], on_assign

    def poll(self, timeout):
        if self.on_assign is not None and self.partitions:
            assign, self.on_assign = self.on_assign, None
            assign(self, [TP(self.topic, p) for p in range(self.partitions)])
        with self.lock:
            if self.feed:
                return self.feed.pop(0)
        time.sleep(min(timeout, 0.01))
        return None

    def add(self, msg) -> None:
        with self.lock:
            self.feed.append(msg)

    def close(self):
        self.closed = True


def encoded(topic: str, value: dict, schema: str = "GateDecision", partition: int = 0) -> FakeMsg:
    data, headers = AvroSerde().encode(schema, value)
    return FakeMsg(topic, data, headers, partition=partition)


def eof(topic: str, partition: int = 0) -> FakeMsg:
    return FakeMsg(topic, error=FakeError(KafkaError._PARTITION_EOF), partition=partition)


def watcher_on(router: Router, feed: list, partitions: int = 1, sensor=None):
    consumers: list[FakeConsumer] = []

    def factory(conf):
        consumers.append(FakeConsumer(conf, feed, partitions))
        return consumers[-1]

    watcher = GateWatcher(
        router,
        MeshSettings(metrics_port=None),
        topic="gates-test",
        sensor=sensor,
        consumer_factory=factory,
        poll_s=0.01,
    )
    return watcher, consumers


def wait(predicate, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.01)
    return predicate()


def sample(sensor: PrometheusSensor, name: str, **labels: str) -> float | None:
    return sensor.registry.get_sample_value(name, {"service": "asr", **labels})


def test_the_watcher_replays_the_topic_then_follows_it_and_stops_cleanly():
    router = Router(rollout(candidate_share=1.0))
    sensor = PrometheusSensor("asr", CollectorRegistry())
    feed = [
        encoded("gates-test", decision("pause", at=1)),
        encoded("gates-test", decision("continue", at=2)),
        eof("gates-test", 0),
        eof("gates-test", 1),
        encoded("gates-test", decision("pause", at=3), partition=1),
    ]
    watcher, consumers = watcher_on(router, feed[:3], partitions=2, sensor=sensor)
    watcher.start()
    try:
        assert wait(lambda: not consumers[0].feed)
        assert not router.synced  # partition 1 not read to its end yet
        assert router.arm_for("early", "default") == "control"
        assert sample(sensor, "stt_asr_rollout_state", model=CANDIDATE) == 1.0
        consumers[0].add(feed[3])
        assert wait(lambda: router.synced)
        assert router.state is RolloutState.ACTIVE and router.arm_for("r", "default") == "candidate"
        assert sample(sensor, "stt_asr_rollout_share", model=CANDIDATE, arm="candidate") == 1.0
        assert sample(sensor, "stt_asr_rollout_state", model=CANDIDATE) == 0.0
        consumers[0].add(feed[4])
        assert wait(lambda: router.state is RolloutState.PAUSED)
        consumers[0].add(encoded("gates-test", decision("rollback", name="medium")))
        consumers[0].add(encoded("gates-test", decision("rollback", at=4)))
        assert wait(lambda: router.state is RolloutState.ROLLED_BACK)
    finally:
        watcher.stop()
    assert not watcher.running and consumers[0].closed
    assert sample(sensor, "stt_asr_rollout_share", model=CANDIDATE, arm="candidate") == 0.0
    assert sample(sensor, "stt_asr_rollout_share", model=CANDIDATE, arm="control") == 1.0
    assert sample(sensor, "stt_asr_rollout_state", model=CANDIDATE) == 2.0
    count = "stt_asr_gate_decisions_total"
    assert sample(sensor, count, decision="pause", outcome="applied") == 2.0
    assert sample(sensor, count, decision="continue", outcome="applied") == 1.0
    assert sample(sensor, count, decision="rollback", outcome="applied") == 1.0
    assert sample(sensor, count, decision="rollback", outcome="other_model") == 1.0
    conf = consumers[0].conf
    assert conf["group.id"].startswith("stt-asr-gates-") and conf["auto.offset.reset"] == "earliest"
    assert conf["enable.auto.commit"] is False
    other, _ = watcher_on(router, [])
    assert other.group_id != watcher.group_id  # one group per process: every replica replays


def test_a_gate_topic_that_does_not_exist_yet_means_no_decisions():
    router = Router(rollout(candidate_share=1.0))
    missing = FakeMsg("gates-test", error=FakeError(KafkaError.UNKNOWN_TOPIC_OR_PART))
    watcher, _ = watcher_on(router, [missing], partitions=0)
    watcher.start()
    try:
        assert wait(lambda: router.synced)
        assert router.arm_for("r", "default") == "candidate"
    finally:
        watcher.stop()


def test_a_record_that_is_not_a_gate_decision_or_not_avro_is_skipped():
    router = Router(rollout())
    llm = {
        "trace_id": "0" * 32,
        "recording_id": "r",
        "tenant": "t",
        "task": "summary",
        "accepted": True,
        "score": None,
        "latency_ms": 1.0,
        "cost_usd": 0.0,
        "model": None,
        "produced_at_ms": 1,
    }
    feed = [
        FakeMsg("gates-test", b"\x00junk", []),
        encoded("gates-test", llm, "LlmOutcome"),
        encoded("gates-test", decision("rollback")),
        eof("gates-test"),
    ]
    watcher, _ = watcher_on(router, feed)
    watcher.start()
    try:
        assert wait(lambda: router.synced)
        assert router.state is RolloutState.ROLLED_BACK
    finally:
        watcher.stop()


def test_the_watcher_does_not_hold_up_a_caller_while_the_broker_is_away():
    router = Router(rollout())
    watcher, _ = watcher_on(router, [])  # nothing ever arrives
    started = time.perf_counter()
    watcher.start()
    assert time.perf_counter() - started < 0.5
    watcher.stop()
    assert time.perf_counter() - started < 2.0 and not router.synced

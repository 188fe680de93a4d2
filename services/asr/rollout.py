"""Model rollout: which arm decodes a recording, and the gate decisions that change it.

A candidate model runs beside the main (control) model on a share of the traffic, so the
quality service can compare the two on the same kind of calls and publish a verdict on
``stt.gates.v1`` (GateDecision: ``continue``, ``pause`` or ``rollback``). This module is the
ASR side of that loop:

* ``Router`` (pure, no Kafka) picks the arm of each chunk. Routing is per recording, so every
  chunk of a call, on any replica, is decoded by the same model: a recording of one of
  ``candidate_tenants`` goes to the candidate, any other when a stable hash of salt and
  recording id (blake2b, not Python's per-process ``hash``) falls below ``candidate_share``.
  ``hints.arm`` forces an arm (golden runs, replays); a forced ``candidate`` with no
  candidate configured, or one rolled back, is decoded by control (logged).
* ``GateWatcher`` follows the gates topic in a background thread with a consumer group of
  its own, from the start of the topic, so every replica replays every decision when it
  starts and arrives at the current state; until it has read to the end, new recordings
  stay on control (a candidate rolled back yesterday must not take traffic again at a
  restart).

States, for the configured candidate (a decision applies when its ``canary.name`` is the
configured ``candidate_model`` or the name the loaded candidate reports on its events):

* ``active``: routing as configured.
* ``paused`` (``pause``): new recordings go to control; a recording already decoding on the
  candidate in this process finishes there, so no transcript mixes two models. A later
  ``continue`` resumes routing (recordings started on control during the pause stay there).
* ``rolled_back`` (``rollback``): nothing goes to the candidate any more, not even the next
  chunk of a recording in flight. This is final for the life of the configuration: a later
  ``continue`` for the same candidate name is ignored (a rollback is a human's call to undo,
  and the replay at every start must not resurrect it); configuring a different
  ``candidate_model`` starts a new rollout.

Decisions older (``produced_at_ms``) than the last applied pause or continue are ignored, so
decisions spread over several partitions cannot undo a newer one; a rollback always applies.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError

from mesh import MeshSettings, SerializationError, topics
from mesh.metrics import Sensor
from mesh.rebalance import close_within
from mesh.serde import AvroSerde
from services.asr.config import Arm, RolloutSettings

log = logging.getLogger(__name__)

CONTROL: Arm = "control"
CANDIDATE: Arm = "candidate"
_ARMS = (CONTROL, CANDIDATE)
GATE_DECISION = "stt.v1.GateDecision"


class RolloutState(enum.IntEnum):
    """The value of the ``asr_rollout_state`` gauge."""

    ACTIVE = 0
    PAUSED = 1
    ROLLED_BACK = 2


@dataclass(frozen=True, slots=True)
class Verdict:
    """The last gate decision that changed the state."""

    gate_id: str
    decision: str
    reasons: tuple[str, ...]
    produced_at_ms: int


def bucket(salt: str, recording_id: str) -> float:
    """The recording's place in [0, 1): the same on every replica and at every start."""
    digest = hashlib.blake2b(f"{salt}\x00{recording_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


class Router:
    """The arm of each chunk, and the rollout state gate decisions move it through.

    ``model_name`` is the name the loaded candidate puts on its events (a configured path
    resolves to its directory name); decisions naming either it or ``candidate_model`` apply.
    Thread-safe: the gate watcher applies decisions while the worker routes.
    """

    def __init__(
        self,
        settings: RolloutSettings,
        *,
        model_name: str | None = None,
        synced: bool = True,
        remember: int = 100_000,
    ) -> None:
        self.settings = settings
        self.candidate = settings.candidate_model
        names = (settings.candidate_model, model_name) if self.candidate else ()
        self.names = {n for n in names if n}  # a decision naming one of these applies
        self.model_name = model_name or self.candidate
        self._state = RolloutState.ACTIVE
        self._synced = synced
        self._decided_at_ms = -1
        self.verdict: Verdict | None = None
        self._arms: OrderedDict[str, Arm] = OrderedDict()  # recordings the rule sends to the candidate
        self._remember = remember
        self._noted: OrderedDict[str, None] = OrderedDict()  # recordings whose ignored hint was logged
        self._lock = threading.Lock()

    # -- state ------------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        """A candidate is configured (whatever its state)."""
        return self.candidate is not None

    @property
    def state(self) -> RolloutState:
        return self._state

    @property
    def synced(self) -> bool:
        """False from ``await_decisions`` until the gate topic has been read to its end."""
        return self._synced

    def await_decisions(self) -> None:
        """Hold new recordings on control until ``mark_synced`` (the watcher caught up)."""
        with self._lock:
            self._synced = False

    def mark_synced(self) -> None:
        with self._lock:
            was, self._synced = self._synced, True
        if not was and self.enabled:
            log.info(
                "rollout of %s: %s after replaying the gate decisions (share %.3f)",
                self.model_name,
                self._state.name.lower(),
                self.share(),
            )

    def share(self) -> float:
        """Share of recordings (by hash) the candidate takes now: 0 unless active."""
        if not self.enabled or not self._synced or self._state is not RolloutState.ACTIVE:
            return 0.0
        return self.settings.candidate_share

    # -- routing ----------------------------------------------------------------------------
    def arm_for(self, recording_id: str, tenant: str, hint: str | None = None) -> Arm:
        """``control`` or ``candidate`` for a chunk of ``recording_id``."""
        with self._lock:
            if hint in _ARMS:
                return self._forced(recording_id, hint)
            if not self.enabled or self._state is RolloutState.ROLLED_BACK:
                return CONTROL
            known = self._arms.get(recording_id)
            if known is not None:
                self._arms.move_to_end(recording_id)
                return known
            if not self._chosen(recording_id, tenant):
                return CONTROL
            # remembered either way, so the recording keeps its arm through pause and continue
            arm = CANDIDATE if self._state is RolloutState.ACTIVE and self._synced else CONTROL
            _remember(self._arms, recording_id, arm, self._remember)
            return arm

    def _chosen(self, recording_id: str, tenant: str) -> bool:
        s = self.settings
        return tenant in s.candidate_tenants or bucket(s.salt, recording_id) < s.candidate_share

    def _forced(self, recording_id: str, hint: Arm) -> Arm:
        if hint == CONTROL or (self.enabled and self._state is not RolloutState.ROLLED_BACK):
            return hint
        if recording_id not in self._noted:
            why = "no candidate is configured" if not self.enabled else f"{self.model_name} was rolled back"
            log.info(
                "recording %s asks for the candidate arm but %s: decoding it on control", recording_id, why
            )
            _remember(self._noted, recording_id, None, 10_000)
        return CONTROL

    # -- decisions --------------------------------------------------------------------------
    def matches(self, decision: Mapping[str, Any]) -> bool:
        """The decision is about this process's candidate."""
        return (decision.get("canary") or {}).get("name") in self.names

    def apply(self, decision: Mapping[str, Any]) -> bool:
        """Apply one GateDecision (a decoded dict); True when the state changed."""
        if not self.matches(decision):
            return False
        kind = str(decision.get("decision", ""))
        at = int(decision.get("produced_at_ms") or 0)
        verdict = Verdict(str(decision.get("gate_id", "")), kind, _reasons(decision), at)
        with self._lock:
            before = self._state
            if before is RolloutState.ROLLED_BACK:
                if kind != "rollback":
                    log.info(
                        "rollout of %s stays rolled back: ignoring %s from gate %s",
                        self.model_name,
                        kind,
                        verdict.gate_id,
                    )
                return False
            if kind == "rollback":
                self._state = RolloutState.ROLLED_BACK
            elif kind not in ("pause", "continue"):
                log.warning(
                    "gate %s: unknown decision %r for %s, ignored", verdict.gate_id, kind, self.model_name
                )
                return False
            elif at < self._decided_at_ms:
                log.info(
                    "gate %s: %s for %s is older than the decision in force, ignored",
                    verdict.gate_id,
                    kind,
                    self.model_name,
                )
                return False
            else:
                self._decided_at_ms = at
                self._state = RolloutState.PAUSED if kind == "pause" else RolloutState.ACTIVE
            if self._state is before:
                return False
            self.verdict = verdict
        level = logging.INFO if kind == "continue" else logging.WARNING
        log.log(
            level,
            "rollout of %s: %s -> %s by gate %s (%s)",
            self.model_name,
            before.name.lower(),
            self._state.name.lower(),
            verdict.gate_id,
            "; ".join(verdict.reasons) or "no reason given",
        )
        return True


def _reasons(decision: Mapping[str, Any]) -> tuple[str, ...]:
    reasons = [str(r) for r in decision.get("reasons") or ()]
    reason = str(decision.get("reason") or "")
    if reason and reason not in reasons:
        reasons.insert(0, reason)
    return tuple(reasons)


def _remember(memory: OrderedDict[str, Any], key: str, value: Any, limit: int) -> None:
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > limit:
        memory.popitem(last=False)


def report(router: Router, sensor: Sensor | None) -> None:
    """Set the rollout gauges: ``asr_rollout_share{model,arm}``, ``asr_rollout_state{model}``."""
    if sensor is None or not router.enabled:
        return
    model = router.model_name or ""
    share = router.share()
    sensor.gauge("asr_rollout_share", share, model=model, arm=CANDIDATE)
    sensor.gauge("asr_rollout_share", 1.0 - share, model=model, arm=CONTROL)
    state = router.state if router.synced else max(router.state, RolloutState.PAUSED)
    sensor.gauge("asr_rollout_state", float(state), model=model)


class GateWatcher:
    """Applies the GateDecisions of ``topic`` to a ``Router``, in a daemon thread.

    Its consumer has a group of its own per process (offsets never committed) and reads from
    the earliest offset, so each start replays the topic. ``start`` puts the router on hold
    (new recordings on control) until every assigned partition has been read to its end, or
    the topic turns out not to exist yet; a topic created later is picked up on the next
    metadata refresh. Counts ``asr_gate_decisions_total{decision,outcome}`` (outcome:
    ``applied``, ``unchanged`` or ``other_model``) and keeps the rollout gauges current.
    """

    def __init__(
        self,
        router: Router,
        settings: MeshSettings,
        *,
        topic: str = topics.GATES,
        sensor: Sensor | None = None,
        serde: AvroSerde | None = None,
        consumer_factory: Callable[[dict[str, Any]], Any] = Consumer,
        poll_s: float = 0.5,
        metadata_refresh_ms: int = 10_000,
    ) -> None:
        self.router, self.settings, self.topic = router, settings, topic
        self.sensor, self.poll_s = sensor, poll_s
        self.serde = serde or AvroSerde(settings.schema_registry_url)
        self.group_id = f"stt-asr-gates-{uuid.uuid4().hex}"
        conf = settings.consumer_config(self.group_id)
        conf.pop("statistics.interval.ms", None)
        self.conf = {
            **conf,
            "client.id": "asr-gates",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
            "topic.metadata.refresh.interval.ms": metadata_refresh_ms,
        }
        self._consumer_factory = consumer_factory
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unread: set[tuple[str, int]] | None = None  # assigned partitions not read to the end

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> GateWatcher:
        self.router.await_decisions()
        report(self.router, self.sensor)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="asr-gates", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("gate watcher did not stop within %.0f s", timeout_s)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- decisions --------------------------------------------------------------------------
    def handle(self, decision: Mapping[str, Any]) -> bool:
        """One decoded GateDecision: apply it, count it, update the gauges."""
        if self.router.matches(decision):
            changed = self.router.apply(decision)
            outcome = "applied" if changed else "unchanged"
        else:
            changed, outcome = False, "other_model"
        if self.sensor is not None:
            self.sensor.count(
                "asr_gate_decisions", decision=str(decision.get("decision", "")), outcome=outcome
            )
        if changed:
            report(self.router, self.sensor)
        return changed

    # -- consumer thread --------------------------------------------------------------------
    def _run(self) -> None:
        consumer = self._consumer_factory(self.conf)
        try:
            consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
            warned, started = False, time.monotonic()
            while not self._stop.is_set():
                try:
                    self._take(consumer.poll(self.poll_s))
                except Exception:  # a bad record or a client hiccup must not end the watch
                    log.exception("gate watcher: error handling a message of %s", self.topic)
                if not warned and not self.router.synced and time.monotonic() - started > 30:
                    warned = True
                    log.warning(
                        "gate decisions on %s not read to the end after 30 s: new "
                        "recordings stay on control until they are",
                        self.topic,
                    )
        finally:
            close_within(consumer, 5.0)

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        self._unread = {(tp.topic, tp.partition) for tp in partitions}
        self._check_synced()

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        if self._unread is not None:
            self._unread -= {(tp.topic, tp.partition) for tp in partitions}

    def _take(self, msg: Any) -> None:
        if msg is None:
            return
        err = msg.error()
        if err is not None:
            self._on_error(msg, err)
            return
        try:
            schema, value = self.serde.decode(msg.value(), msg.headers())
        except SerializationError as exc:
            log.warning(
                "gate watcher: unreadable record %s[%d]@%d skipped: %s",
                self.topic,
                msg.partition(),
                msg.offset(),
                exc,
            )
            return
        if schema != GATE_DECISION:
            log.warning("gate watcher: %s on %s is not a GateDecision, skipped", schema, self.topic)
            return
        self.handle(value)

    def _on_error(self, msg: Any, err: Any) -> None:
        code = err.code()
        if code == KafkaError._PARTITION_EOF:
            if self._unread is not None:
                self._unread.discard((msg.topic(), msg.partition()))
            self._check_synced()
        elif code in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
            if not self.router.synced:
                log.info("gate topic %s does not exist yet: no decisions to replay", self.topic)
                self._mark_synced()
        else:
            log.warning("gate watcher consumer error: %s", err)

    def _check_synced(self) -> None:
        if self._unread is not None and not self._unread and not self.router.synced:
            self._mark_synced()

    def _mark_synced(self) -> None:
        self.router.mark_synced()
        report(self.router, self.sensor)

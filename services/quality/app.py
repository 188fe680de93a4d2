"""Wiring of the quality service: a faust-streaming app with three stateful stages.

1. **join** (table ``recordings``, keyed by recording_id, changelog on the broker): the
   agent reads ``stt.recordings.v1``, ``stt.transcripts.v1``, ``stt.diarization.v1`` and
   ``stt.transcripts.redacted.v1`` (co-partitioned: all keyed by recording_id, same
   partition count), emits a chunk-scope QualityReport per ChunkTranscript at once, and a
   recording-scope QualityReport once the recording is complete (``join.py``). A timer finds
   joins without an event for their timeout and sends a tick to the recording's own partition of an
   internal topic, so the timeout is handled by the agent that owns the table partition (a
   Faust table can only be written while an event of its partition is processed).
2. **slices** (tumbling windowed table, keyed by the slice: model x language x codec x
   channels x tenant x SNR band x duration band x configured metadata keys): accepted rate,
   mean proxy, p95 latency and hallucination rate per window, on ``/metrics``.
3. **gates** (table keyed by gate id, one partition): candidate and control samples per
   golden run and for live traffic; a timer evaluates them (``gates.py``) and publishes a
   GateDecision on ``stt.gates.v1`` when the decision or the evidence changed.

Why Faust here and confluent-kafka elsewhere: the join and the aggregates are state that must
survive a crash without replaying hours of input, which is what Faust's changelog-backed
tables give; the other services are stateless per message (or hold their few in-flight
messages uncommitted, which a replay rebuilds) and use the plainer confluent-kafka loop.

At least once: Faust commits an input's offset only after the agent has processed it, and
messages sent while processing are attached to that offset and published before the commit.
Events are Avro with the writer schema's fingerprint in a header, as in the rest of the mesh;
an undecodable message goes to ``<topic>.dlq`` with the reason and the loop goes on.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import faust

from mesh import MeshSettings, topics
from mesh.dlq import dead_letter
from mesh.health import Health, HealthServer
from mesh.metrics import PrometheusSensor
from mesh.serde import AvroSerde
from mesh.trace import TraceContext, extract, inject
from services.quality import join
from services.quality.aggregate import SliceWindow, slice_key
from services.quality.config import QualitySettings
from services.quality.faust_fixes import App as _App
from services.quality.gates import Sample, evaluate
from services.quality.observe import Observer
from services.quality.proxy import WerProxy

log = logging.getLogger(__name__)

SERVICE = "quality"
JOINED = (topics.RECORDINGS, topics.TRANSCRIPTS, topics.DIARIZATION, topics.REDACTED)
TICK = "tick"


class _Raw:
    """A Faust message seen through the confluent-kafka accessors ``mesh.dlq`` reads."""

    def __init__(self, message: Any) -> None:
        self._m = message

    def topic(self) -> str:
        return self._m.topic

    def partition(self) -> int:
        return self._m.partition

    def offset(self) -> int:
        return self._m.offset

    def key(self) -> bytes | None:
        return self._m.key

    def value(self) -> bytes | None:
        return self._m.value

    def headers(self) -> list[tuple[str, bytes]]:
        return _headers(self._m.headers)


def _headers(headers: Any) -> list[tuple[str, bytes]]:
    if not headers:
        return []
    items = headers.items() if hasattr(headers, "items") else headers
    return [(k, v) for k, v in items]


class QualityApp:
    """The Faust app and its agents; ``build`` wires it, ``run`` starts a worker."""

    def __init__(
        self,
        settings: QualitySettings | None = None,
        mesh_settings: MeshSettings | None = None,
        proxy: WerProxy | None = None,
    ) -> None:
        self.settings = settings or QualitySettings()
        self.mesh = mesh_settings or MeshSettings()
        self.proxy = proxy or WerProxy.load(self.settings.proxy_path)
        self.serde = AvroSerde(self.mesh.schema_registry_url)
        self.sensor = PrometheusSensor(SERVICE)
        self.observer = Observer(self.sensor, self.settings)
        self.health = Health(rebalance_grace_s=self.mesh.rebalance_grace_s)
        self._last_decision: dict[str, tuple[Any, ...]] = {}
        self.app = self._build()

    # -- wiring -----------------------------------------------------------------------------
    def _build(self) -> faust.App:
        s = self.settings
        brokers = [f"kafka://{b.strip()}" for b in self.mesh.bootstrap_servers.split(",")]
        datadir = s.datadir / s.app_id
        datadir.mkdir(parents=True, exist_ok=True)
        app = _App(
            s.app_id,
            broker=brokers,
            store="memory://",
            datadir=str(datadir),
            web_enabled=False,
            topic_partitions=s.partitions,
            topic_replication_factor=s.replication_factor,
            table_standby_replicas=0,
            consumer_auto_offset_reset="earliest",
            processing_guarantee="at_least_once",
            broker_commit_every=50,
            key_serializer="raw",
            value_serializer="raw",
            producer_max_request_size=10_485_760,
            consumer_max_fetch_size=10_485_760,
        )
        raw: dict[str, Any] = {
            "key_type": bytes,
            "value_type": bytes,
            "key_serializer": "raw",
            "value_serializer": "raw",
        }
        self.ticks = app.topic(f"{s.app_id}-timeouts", partitions=s.partitions, internal=True, **raw)
        self.source = app.topic(*JOINED, self.ticks.get_topic_name(), **raw)
        self.slice_topic = app.topic(
            f"{s.app_id}-slice-reports", partitions=s.partitions, internal=True, **raw
        )
        self.gate_topic = app.topic(f"{s.app_id}-gate-samples", partitions=1, internal=True, **raw)
        self.out = {
            t: app.topic(t, **raw) for t in (topics.QUALITY, topics.GATES, *(topics.dlq(t) for t in JOINED))
        }
        retention = {"cleanup.policy": "compact,delete", "retention.ms": str(86_400_000)}
        self.recordings = app.Table(
            "recordings", default=None, partitions=s.partitions, key_type=str, extra_topic_configs=retention
        )
        self.slices = app.Table("slices", default=dict, partitions=s.partitions, key_type=str).tumbling(
            s.window_s, expires=s.window_expires_s, key_index=True
        )
        self.gates = app.Table("gates", default=None, partitions=1, key_type=str)
        app.agent(self.source, name="join")(self._join_agent)
        app.agent(self.slice_topic, name="slices")(self._slice_agent)
        app.agent(self.gate_topic, name="gates")(self._gate_agent)
        app.timer(s.sweep_interval_s)(_guarded(self._sweep))
        app.timer(s.gate_interval_s)(_guarded(self._evaluate_gates))
        app.timer(1.0)(_guarded(self._beat))
        # mode's SignalHandlerT alias matches no callable under mypy, even (sender, *args, **kwargs)
        app.on_partitions_assigned.connect(self._on_assigned)  # type: ignore[arg-type]
        app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]
        return app

    async def _on_assigned(self, sender: Any, assigned: Any, **_: Any) -> None:
        self.health.assigned()

    async def _on_revoked(self, sender: Any, revoked: Any, **_: Any) -> None:
        self.health.unassigned()

    async def _beat(self) -> None:
        self.health.beat()
        self.observer.publish_slo(time.time())

    # -- stage 1: the join ------------------------------------------------------------------
    async def _join_agent(self, stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            try:
                if message.topic == self.ticks.get_topic_name():
                    await self._on_tick(message.key.decode())
                    continue
                schema, value = self.serde.decode(message.value, _headers(message.headers))
                await self._on_event(schema.rsplit(".", 1)[-1], value, message)
            except Exception as exc:  # errors are data: the message goes to its dead-letter topic
                log.warning(
                    "dead-lettering %s[%d]@%d: %s", message.topic, message.partition, message.offset, exc
                )
                self.sensor.on_error(message.topic, type(exc).__name__)
                await self._send(dead_letter(_Raw(message), exc, SERVICE))
                self.sensor.on_dead_letter(message.topic, type(exc).__name__)

    async def _on_event(self, schema: str, value: dict[str, Any], message: Any) -> None:
        self.sensor.on_message_in(message.topic)
        rid = value["recording_id"]
        trace = extract(_headers(message.headers)) or TraceContext.new(value.get("trace_id"))
        chunk_feats = None
        if schema == "ChunkTranscript":
            report = join.chunk_report(value, self.proxy, self.settings)
            chunk_feats = report["features"]
            self.observer.on_chunk(report, value)
            await self._report(report, trace)
        known = self.recordings.get(rid)
        if known is not None and known.get("done_ms"):
            return  # a redelivered event of a recording already reported complete
        state = known or join.new_state(
            rid, value.get("trace_id", ""), value.get("tenant", "default"), message.partition, join.now_ms()
        )
        state = join.absorb(state, schema, value, chunk_feats)
        state["last_ms"] = join.now_ms()
        if join.complete(state, self.settings):
            await self._finish(state, partial=False, trace=trace)
        else:
            self.recordings[rid] = state

    async def _on_tick(self, rid: str) -> None:
        state = self.recordings.get(rid)
        now = join.now_ms()
        if state is None:
            return
        if join.timed_out(state, self.settings, now):
            log.info(
                "recording %s: no event for %.0f s, reporting it partial",
                rid,
                join.timeout_s(state, self.settings),
            )
            await self._finish(state, partial=True, trace=TraceContext.new(state["trace_id"] or None))
        elif join.expired(state, self.settings, now):
            del self.recordings[rid]

    async def _finish(self, state: dict[str, Any], partial: bool, trace: TraceContext) -> None:
        """Report the recording; a partial report keeps the join open for late events."""
        rid = state["rid"]
        if partial:
            state["partial_ms"] = join.now_ms()
            self.recordings[rid] = state
        else:
            self.recordings[rid] = join.done_marker(state, join.now_ms())
        if state["meta"] is None and not state["chunks"]:
            return  # only turns or a redaction of a recording already reported: nothing to add
        report = join.recording_report(state, self.proxy, self.settings, partial)
        self.observer.on_recording(report)
        await self._report(report, trace)
        sample = {
            "report": _sample(report),
            "at_ms": report["produced_at_ms"],
            "expected": join.golden_run_size(state),
        }
        await self.slice_topic.send(
            key=slice_key(report["slice"]).encode(), value=json.dumps(sample).encode()
        )
        gate_id = f"golden:{report['golden_run']}" if report["golden_run"] else "live"
        await self.gate_topic.send(key=gate_id.encode(), value=json.dumps(sample).encode())

    async def _sweep(self) -> None:
        """Timeouts: a tick to the partition that owns the join (see the module docstring)."""
        now = join.now_ms()
        for rid, state in list(self.recordings.items()):
            if state is not None and (
                join.timed_out(state, self.settings, now) or join.expired(state, self.settings, now)
            ):
                await self.ticks.send(key=rid.encode(), value=b"", partition=state["partition"])

    # -- stage 2: slice aggregates ----------------------------------------------------------
    async def _slice_agent(self, stream: Any) -> None:
        async for key, value in stream.items():
            sample = json.loads(value)
            current = SliceWindow.from_json(self.slices[key.decode()].current() or {})
            current.add(sample["report"])
            self.slices[key.decode()] = current.to_json()
            self.observer.on_slice(key.decode(), current)

    # -- stage 3: gates ---------------------------------------------------------------------
    async def _gate_agent(self, stream: Any) -> None:
        async for key, value in stream.items():
            gate_id, sample = key.decode(), json.loads(value)
            gate = self.gates.get(gate_id) or {"samples": []}
            if sample.get("expected"):
                gate["expected"] = max(gate.get("expected", 0), int(sample["expected"]))
            horizon = join.now_ms() - self.settings.gate_window_s * 1000
            kept = [x for x in gate["samples"] if gate_id != "live" or x["at_ms"] >= horizon]
            kept.append(sample)
            per_arm: dict[str, list[Any]] = {}
            for x in reversed(kept):  # the newest samples of each arm, at most gate_max_samples
                bucket = per_arm.setdefault(x["report"]["arm"], [])
                if len(bucket) < self.settings.gate_max_samples:
                    bucket.append(x)
            gate["samples"] = sorted((x for b in per_arm.values() for x in b), key=lambda x: x["at_ms"])
            self.gates[gate_id] = gate

    async def _evaluate_gates(self) -> None:
        for gate_id, gate in list(self.gates.items()):
            if not gate:
                continue
            if gate_id != "live" and len(gate["samples"]) < gate.get("expected", 0):
                continue  # a golden run is judged once all of it is scored, not while it runs
            reports = [x["report"] for x in gate["samples"]]
            # a recording without chunks (nothing to decode) is evidence about neither arm, and
            # golden gates compare true WER, which probes do not have
            reports = [
                r
                for r in reports
                if not r["model"].startswith("none@") and (gate_id == "live" or r["true_wer"] is not None)
            ]
            candidates = [r for r in reports if r["arm"] == "candidate"]
            controls = [r for r in reports if r["arm"] == "control"]
            if not candidates:
                continue
            decision = evaluate(
                [_gate_sample(r, golden=gate_id != "live") for r in reports], self.settings.gate
            )
            fingerprint = (decision.decision, len(candidates), len(controls))
            if self._last_decision.get(gate_id) == fingerprint:
                continue
            self._last_decision[gate_id] = fingerprint
            event = self._decision_event(gate_id, decision, candidates, controls, gate["samples"])
            log.warning("gate %s: %s (%s)", gate_id, decision.decision, "; ".join(decision.reasons))
            self.observer.on_gate(event)
            await self._send_event(topics.GATES, "GateDecision", event, key=gate_id)

    def _decision_event(
        self,
        gate_id: str,
        decision: Any,
        candidates: Sequence[dict[str, Any]],
        controls: Sequence[dict[str, Any]],
        samples: Sequence[dict[str, Any]],
    ) -> dict[str, Any]:
        def info(reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
            name, _, version = (reports[-1]["model"] if reports else "none@").partition("@")
            return {
                "name": name,
                "version": version,
                "sha256": "",
                "compute_type": "",
                "device": reports[-1]["device"] if reports else "",
            }

        times = [x["at_ms"] for x in samples]
        return {
            "gate_id": gate_id,
            "canary": info(candidates),
            "control": info(controls),
            "decision": decision.decision,
            "slice_deltas": decision.slice_deltas,
            "reason": "; ".join(decision.reasons)[:2000],
            "produced_at_ms": join.now_ms(),
            "source": "live" if gate_id == "live" else "golden",
            "golden_run": None if gate_id == "live" else gate_id.split(":", 1)[1],
            "reasons": list(decision.reasons),
            "slices": list(decision.comparisons),
            "window_start_ms": min(times, default=0),
            "window_end_ms": max(times, default=0),
        }

    # -- output -----------------------------------------------------------------------------
    async def _report(self, report: dict[str, Any], trace: TraceContext) -> None:
        await self._send_event(
            topics.QUALITY, "QualityReport", report, key=report["recording_id"], trace=trace.child()
        )

    async def _send_event(
        self, topic: str, schema: str, value: dict[str, Any], key: str, trace: TraceContext | None = None
    ) -> None:
        data, headers = self.serde.encode(schema, value)
        if trace is not None:
            headers = inject(headers, trace)
        await self.out[topic].send(key=key.encode(), value=data, headers=headers)
        self.sensor.on_message_out(topic)

    async def _send(self, output: Any) -> None:
        await self._send_event(
            output.topic, output.schema, output.value, key=(output.key or b"").decode(errors="replace")
        )

    # -- running ----------------------------------------------------------------------------
    def ensure_internal_topics(self, timeout_s: float = 30.0) -> None:
        """Create the app's internal topics before the worker subscribes: Faust declares the
        channel of an agent, but not a topic that is only one of several in a channel (the
        timeout ticks share the join agent with the contract's topics)."""
        from confluent_kafka.admin import AdminClient, NewTopic

        s = self.settings
        admin = AdminClient(self.mesh.kafka_common())
        wanted = [
            NewTopic(t.get_topic_name(), num_partitions=n, replication_factor=s.replication_factor)
            for t, n in ((self.ticks, s.partitions), (self.slice_topic, s.partitions), (self.gate_topic, 1))
        ]
        for name, future in admin.create_topics(wanted, request_timeout=timeout_s).items():
            try:
                future.result(timeout_s)
            except Exception as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc) and "already exists" not in str(exc):
                    raise
                log.debug("topic %s exists", name)

    def run(self) -> None:
        self.ensure_internal_topics()
        server = None
        if self.mesh.metrics_port is not None:
            server = HealthServer(
                self.health, self.sensor.registry, self.mesh.metrics_host, self.mesh.metrics_port
            ).start()
            log.info("quality metrics on port %d", server.port)
        try:
            worker = faust.Worker(self.app, loglevel=self.settings.faust_loglevel)
            worker.execute_from_commandline()
        finally:
            if server is not None:
                server.stop()


def _guarded(timer: Any) -> Any:
    """A timer that logs its error and runs again next time (an exception would stop the worker)."""

    @functools.wraps(timer)
    async def run() -> None:
        try:
            await timer()
        except Exception:
            log.exception("%s failed; it runs again at its next interval", timer.__name__)

    return run


def _sample(report: dict[str, Any]) -> dict[str, Any]:
    """What the aggregates and the gates keep of a report (no text, no identifiers)."""
    f = report["features"]
    return {
        "arm": report["arm"],
        "model": f"{report['model']['name']}@{report['model']['version']}",
        "device": report["model"]["device"],
        "slice": report["slice"],
        "wer_proxy": report["wer_proxy"],
        "true_wer": report["true_wer"],
        "accepted": report["verdict"] == "accepted",
        "latency_s": f.get("latency_s"),
        "processing_s": report["processing_s"],
        "hallucinated_words": report["hallucinated_words"],
        "privacy_errors": report["privacy_errors"],
        "cost_usd": report["cost_usd"],
        "rtf": report["rtf"],
        "retries": report["retries"],
        "fallback_share": f.get("fallback_share", 0.0),
    }


def _gate_sample(r: dict[str, Any], golden: bool) -> Sample:
    wer = r["true_wer"] if golden and r["true_wer"] is not None else r["wer_proxy"]
    # a golden run publishes its whole set at once, so its latencies are queue position:
    # only live traffic says anything about the candidate's latency
    return Sample(
        arm=r["arm"],
        model=r["model"],
        slice=r["slice"],
        wer=float(wer),
        latency_s=None if golden else r["latency_s"],
        privacy_errors=int(r["privacy_errors"]),
    )


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    QualityApp().run()

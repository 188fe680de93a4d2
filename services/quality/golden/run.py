"""``stt-mesh golden run``: the golden set through the running mesh, scored per slice.

Each golden recording is published like any producer's (RecordingParts on the raw topic),
with its reference transcript and its golden run, slice and split in the producer metadata,
and ``hints.arm`` naming the rollout arm to decode it with. The quality service then scores
it like live traffic (true WER because a reference is there), so the sink stores golden runs
beside live traffic, and the gate compares the arms on true WER per slice. This command
follows the recordings' QualityReports and SpeakerTurns and prints one row per slice and
model version: true WER (mean over recordings, and pooled over words), WER proxy, DER where
an RTTM exists, speech coverage, accepted share, hallucinated words on the probes (silence,
noise and hum: the target is 0), and RTF (ASR compute seconds, a chunk's share of its batched
call, over audio seconds; the diarizer's time is not in it). With both arms it also waits for the golden run's
GateDecision and prints it.

Run it on a schedule in production (a cron job or a Kubernetes CronJob against the live
brokers) to catch drift: the rows land in ``stt.quality.v1`` with ``golden_run`` set.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mesh import MeshSettings, Publisher, topics
from services.quality.golden.corpus import GoldenItem
from services.quality.join import (
    GOLDEN_RUN_KEY,
    GOLDEN_SIZE_KEY,
    GOLDEN_SLICE_KEY,
    GOLDEN_SPLIT_KEY,
    REFERENCE_CHANNELS_KEY,
    REFERENCE_KEY,
)
from stt_mesh import checklist
from stt_mesh.follow import Events

WATCHED = (topics.RECORDINGS, topics.DIARIZATION, topics.QUALITY, topics.GATES)
DER_COLLAR_S = 0.25


def metadata_for(item: GoldenItem, run_id: str, run_size: int = 0) -> dict[str, str]:
    meta = {
        GOLDEN_RUN_KEY: run_id,
        GOLDEN_SIZE_KEY: str(run_size),
        GOLDEN_SLICE_KEY: item.slice,
        GOLDEN_SPLIT_KEY: item.split,
        "golden_item": item.id,
        "golden_language": item.language,
        REFERENCE_KEY: item.reference,
    }
    if item.channels > 1 and item.channel_references:
        meta[REFERENCE_CHANNELS_KEY] = json.dumps(list(item.channel_references))
    # What a summary of the call must mention (examples/call_summary judges by it). Golden
    # items carry no PII values, so nothing is excluded; an item without terms gets none.
    terms = checklist.checklist_terms(item.reference, k=3)
    if terms:
        meta[checklist.METADATA_KEY] = checklist.format_checklist(terms)
    return meta


def batch_manifest(
    items: Sequence[GoldenItem], run_id: str, language_hints: bool = True
) -> list[dict[str, Any]]:
    """The golden set as a ``stt-mesh batch submit`` manifest (JSONL rows): each item's file
    and hints, and the same producer metadata ``publish`` gives it (reference, slice, checklist),
    so a backfill of the golden set is scored and judged like a golden run."""
    rows = []
    for item in items:
        split = item.channels > 1 and len(item.channel_roles) == item.channels
        row: dict[str, Any] = {
            "path": str(item.path),
            "split_channels": split,
            **metadata_for(item, run_id, len(items)),
        }
        if language_hints and item.language:
            row["language"] = item.language
        if split:
            row["channel_roles"] = list(item.channel_roles)
        elif item.num_speakers:
            row["num_speakers"] = item.num_speakers
        rows.append(row)
    return rows


def publish(
    items: Sequence[GoldenItem],
    publisher: Publisher,
    run_id: str,
    arms: Sequence[str],
    tenant: str = "golden",
    priority: str = "batch",
    language_hints: bool = True,
) -> dict[str, tuple[GoldenItem, str]]:
    """Publish every item once per arm; returns recording_id -> (item, arm). Each item carries
    its language as the producer's hint, as a call centre knows its line's language."""
    from services.ingest.cli import publish_files

    sent: dict[str, tuple[GoldenItem, str]] = {}
    for arm in arms:
        for item in items:
            split = item.channels > 1 and len(item.channel_roles) == item.channels
            ids = publish_files(
                [item.path],
                publisher,
                tenant=tenant,
                priority=priority,
                language=item.language if language_hints else None,
                num_speakers=item.num_speakers or None if not split else None,
                split_channels=split,
                channel_roles=item.channel_roles if split else (),
                metadata=metadata_for(item, run_id, len(items) * len(arms)),
                progress=False,
                arm=arm,
            )
            sent[ids[0][0]] = (item, arm)
    return sent


def recording_report(ev: Mapping[str, list[dict[str, Any]]]) -> dict[str, Any] | None:
    reports = [q for q in ev.get("QualityReport", ()) if q["scope"] == "recording"]
    return reports[-1] if reports else None


def wait(
    events: Events, ids: Iterable[str], timeout_s: float, run_id: str | None = None, expect_gate: int = 0
) -> bool:
    """Until every recording has its recording-scope report (and, with ``expect_gate`` > 0,
    a GateDecision of the run counting that many candidate samples)."""
    ids = list(ids)

    def done(ev: Events) -> bool:
        if not all(recording_report(ev.by_id[rid]) for rid in ids):
            return False
        return expect_gate <= 0 or gate_decision(ev, run_id, expect_gate) is not None

    return events.wait(done, timeout_s)


def gate_decision(events: Events, run_id: str | None, candidates: int) -> dict[str, Any] | None:
    """The newest GateDecision of the run whose overall comparison counts every candidate."""
    found = [
        d for ev in events.by_id.values() for d in ev.get("GateDecision", ()) if d.get("golden_run") == run_id
    ]
    for d in sorted(found, key=lambda d: d["produced_at_ms"], reverse=True):
        if d["decision"] == "rollback":  # final: later candidates of the run went to control
            return d
        overall = [c for c in d["slices"] if c["slice"] == "all" and c["metric"] != "latency_s"]
        if overall and overall[0]["candidate_n"] >= candidates:
            return d
    return None


def diarization_error(item: GoldenItem, turns: Mapping[str, Any] | None) -> float | None:
    if not item.rttm or turns is None:
        return None
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    ref, hyp = Annotation(), Annotation()
    for i, (start, end, speaker) in enumerate(item.rttm):
        ref[Segment(start, end), i] = speaker
    for i, t in enumerate(turns["turns"]):
        hyp[Segment(t["start_s"], t["end_s"]), i] = t["speaker"]
    return float(DiarizationErrorRate(collar=2 * DER_COLLAR_S)(ref, hyp))


def rows(sent: Mapping[str, tuple[GoldenItem, str]], events: Events) -> list[dict[str, Any]]:
    """One row per recording: the item, its arm and its QualityReport's figures."""
    out = []
    for rid, (item, arm) in sent.items():
        ev = events.by_id[rid]
        report = recording_report(ev)
        if report is None:
            out.append(
                {
                    "recording_id": rid,
                    "item": item.id,
                    "slice": item.slice,
                    "split": item.split,
                    "arm": arm,
                    "missing": True,
                }
            )
            continue
        turns = ev.get("SpeakerTurns", [None])[-1]
        out.append(
            {
                "recording_id": rid,
                "item": item.id,
                "slice": item.slice,
                "split": item.split,
                "kind": item.kind,
                "arm": report["arm"],
                "requested_arm": arm,
                "model": f"{report['model']['name']}@{report['model']['version']}",
                "true_wer": report["true_wer"],
                "wer_proxy": report["wer_proxy"],
                "proxy_version": report["proxy_version"],
                "reference_words": len(item.reference.split()),
                "speech_coverage": report["speech_coverage"],
                "verdict": report["verdict"],
                "reasons": report["reasons"],
                "hallucinated_words": report["hallucinated_words"],
                "rtf": report["features"].get("compute_rtf", report["rtf"]),
                "der": diarization_error(item, turns),
                "language": report["language"],
                "language_mix": report["language_mix"],
                "features": report["features"],
                "duration_s": item.duration_s,
                "missing": False,
            }
        )
    return out


def _mean(values: Sequence[float | None]) -> float | None:
    v = [x for x in values if x is not None]
    return float(np.mean(v)) if v else None


def table(rows_: Sequence[Mapping[str, Any]]) -> str:
    """Per slice and model version (and arm): the figures of the module docstring."""
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows_:
        if not r.get("missing"):
            groups[(r["slice"], r["model"], r["arm"])].append(r)
    head = (
        f"{'slice':<13} {'model':<34} {'arm':<9} {'n':>3} {'WER':>6} {'pooled':>6} {'proxy':>6} "
        f"{'DER':>6} {'cover':>6} {'accept':>6} {'halluc':>6} {'RTF':>6}"
    )
    lines = [head, "-" * len(head)]

    def fmt(x: float | None, spec: str = "6.3f") -> str:
        return f"{x:{spec}}" if x is not None else f"{'-':>6}"

    for (slice_, model, arm), rs in sorted(groups.items()):
        speech = [r for r in rs if r["true_wer"] is not None]
        words = sum(r["reference_words"] for r in speech)
        pooled = sum(r["true_wer"] * r["reference_words"] for r in speech) / words if words else None
        probes = [r for r in rs if r["kind"] == "probe"]
        halluc = f"{sum(r['hallucinated_words'] for r in probes):6d}" if probes else f"{'-':>6}"
        lines.append(
            f"{slice_:<13} {model[:34]:<34} {arm:<9} {len(rs):>3} "
            f"{fmt(_mean([r['true_wer'] for r in speech]))} "
            f"{fmt(pooled)} {fmt(_mean([r['wer_proxy'] for r in rs]))} {fmt(_mean([r['der'] for r in rs]))} "
            f"{fmt(_mean([r['speech_coverage'] for r in rs]))} "
            f"{fmt(sum(r['verdict'] == 'accepted' for r in rs) / len(rs))} {halluc} "
            f"{fmt(_mean([r['rtf'] for r in rs]))}"
        )
    missing = [r for r in rows_ if r.get("missing")]
    if missing:
        names = ", ".join(r["item"] for r in missing[:8])
        lines.append(f"{len(missing)} recording(s) without a report: {names}")
    return "\n".join(lines)


def gate_lines(decision: Mapping[str, Any]) -> list[str]:
    lines = [
        f"gate {decision['gate_id']}: {decision['decision'].upper()} "
        f"(candidate {decision['canary']['name']}@{decision['canary']['version']} vs "
        f"control {decision['control']['name']}@{decision['control']['version']})"
    ]
    lines += [f"  {reason}" for reason in decision["reasons"]]
    return lines


def run(
    items: Sequence[GoldenItem],
    settings: MeshSettings,
    arms: Sequence[str],
    timeout_s: float,
    run_id: str | None = None,
    out: Path | None = None,
    priority: str = "batch",
    progress: bool = True,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Publish, follow and score one golden run; returns its rows and its gate decision."""
    run_id = run_id or f"golden-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    publisher = Publisher(settings, service="golden")
    try:
        sent = publish(items, publisher, run_id, arms, priority=priority)
    finally:
        publisher.close()
    if progress:
        print(
            f"golden run {run_id}: published {len(sent)} recording(s) ({len(items)} items x "
            f"{len(arms)} arm(s)); waiting for the mesh ...",
            flush=True,
        )
    events = Events(settings, WATCHED, set(sent) | {f"golden:{run_id}"})
    try:
        candidates = sum(1 for item, arm in sent.values() if arm == "candidate" and item.kind == "speech")
        complete = wait(events, sent, timeout_s, run_id, expect_gate=candidates if len(arms) > 1 else 0)
        result = rows(sent, events)
        decision = gate_decision(events, run_id, candidates) if len(arms) > 1 else None
    finally:
        events.close()
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w") as fh:
            for r in result:
                fh.write(json.dumps({**r, "golden_run": run_id}) + "\n")
    if not complete and progress:
        print(f"timed out after {timeout_s:.0f} s", flush=True)
    return result, decision

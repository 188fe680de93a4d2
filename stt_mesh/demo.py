"""``make run``: a real call through the whole mesh on the embedded defaults.

Starts the local Kafka, runs each service as its own process (as a deployment would: ingest,
the two ASR pools, diarize, redact, quality, the ClickHouse sink, and the example downstream
app that summarizes calls), publishes the recording(s) the way a producer does
(RecordingParts on the raw topic), then follows the recording's events by trace and prints
the speaker-attributed, redacted transcript with the model, realtime factors and queue times,
and finally the call's row of the ``calls`` view from ClickHouse, LLM outcome included.
Service logs go to ``.stt-mesh/logs/``; the embedded ClickHouse lives in ``.stt-mesh/clickhouse``.
"""

from __future__ import annotations

import argparse
import importlib.resources
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from infra.local import LocalKafka, kafka_version
from mesh import MeshSettings, Publisher, topics
from stt_mesh.follow import Events
from stt_mesh.up import launch, service_name, stop_processes

SERVICES: list[list[str]] = [
    ["ingest"],
    ["asr", "--pool", "realtime"],
    ["asr", "--pool", "batch"],
    ["diarize", "--pool", "realtime"],
    ["diarize", "--pool", "batch"],
    ["redact"],
    ["quality"],
    ["sink"],
    ["examples.call_summary"],  # the downstream LLM app (an extractive stand-in): LlmOutcomes
]
# the local stack keeps the redacted transcript text, so `stt-mesh result ID` can show it
DEMO_ENV = {"STT_SINK_STORE_REDACTED_TEXT": "true"}
SAMPLE_PII = ["Diane", "Sheila", "New Jersey", "Texas", "Chicago"]  # what redaction masks in it
WATCHED = [topics.RECORDINGS, topics.TRANSCRIPTS, topics.DIARIZATION, topics.REDACTED, topics.QUALITY]


def sample_call() -> Path:
    return Path(str(importlib.resources.files("pyannote.audio") / "sample" / "sample.wav"))


def start_services(
    bootstrap: str, log_dir: Path, services: list[list[str]] | None = None, env: dict[str, str] | None = None
) -> list[subprocess.Popen[bytes]]:
    """Each service in its own process, logging to ``log_dir``."""
    env = {
        **os.environ,
        "STT_BOOTSTRAP_SERVERS": bootstrap,
        "STT_METRICS_PORT": "0",
        "PYANNOTE_METRICS_ENABLED": "false",
        "HF_HUB_OFFLINE": "1",
        **(env or {}),
    }
    return [launch(argv, env, log_dir / f"{service_name(argv)}.log") for argv in services or SERVICES]


def stop_services(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM, up to 30 s for all of them, then SIGKILL (``stt_mesh.up.stop_processes``)."""
    stop_processes(procs, grace_s=30.0)


def finished(ev: dict[str, list[dict[str, Any]]]) -> bool:
    """A recording is through once its recording-scope redacted transcript and quality report
    (or its failure) are out."""
    final = [r for r in ev["RedactedTranscript"] if r["scope"] == "recording"]
    return (bool(final) and bool(recording_quality(ev))) or bool(ev["RecordingFailed"])


def recording_quality(ev: dict[str, list[dict[str, Any]]]) -> dict[str, Any] | None:
    reports = [q for q in ev["QualityReport"] if q["scope"] == "recording"]
    return reports[-1] if reports else None


def quality_lines(q: dict[str, Any]) -> list[str]:
    mix = ", ".join(f"{lang} {share:.0%}" for lang, share in q["language_mix"].items()) or "no speech"
    why = f" ({', '.join(q['reasons'])})" if q["reasons"] else ""
    coverage = "n/a" if q["speech_coverage"] is None else f"{q['speech_coverage']:.0%}"
    wer = "" if q["true_wer"] is None else f", true WER {q['true_wer']:.3f}"
    return [
        f"  quality: {q['verdict'].upper()}{why}; WER proxy {q['wer_proxy']:.3f} "
        f"[{q['proxy_version']}]{wer}, coverage {coverage}, language mix {mix}, "
        f"speakers {q['speaker_count']}, cost ${q['cost_usd']:.5f}, arm {q['arm']}"
    ]


def fmt_time(seconds: float) -> str:
    return f"{int(seconds // 60):02d}:{seconds % 60:05.2f}"


def coverage(chunk: dict[str, Any]) -> str:
    if chunk["speech_coverage"] is None:
        return "no speech"
    flags = [f"{chunk['redecodes']} re-decoded"] if chunk["redecodes"] else []
    flags += ["LOW COVERAGE"] if chunk["low_coverage"] else []
    return f"speech {chunk['speech_s']:.1f} s covered {chunk['speech_coverage']:.0%}" + "".join(
        f", {f}" for f in flags
    )


def report(rid: str, ev: dict[str, list[dict[str, Any]]], elapsed_s: float) -> None:
    if ev["RecordingFailed"]:
        failed = ev["RecordingFailed"][0]
        print(f"recording {rid} failed: {failed['error_type']}: {failed['reason']}")
        return
    meta = ev["RecordingMetadata"][0]
    chunks = sorted({c["seq"]: c for c in ev["ChunkTranscript"]}.values(), key=lambda c: c["seq"])
    final = [r for r in ev["RedactedTranscript"] if r["scope"] == "recording"][-1]
    print(f"\nrecording {rid}  trace {meta['trace_id']}")
    print(
        f"  audio: {meta['duration_s']:.1f} s, {meta['codec']}, {meta['original_sample_rate']} Hz, "
        f"{meta['channels']} ch, SNR {meta['stats']['snr_db']:.1f} dB, {meta['chunk_count']} chunk(s)"
    )
    for c in chunks:
        m = c["model"]
        print(
            f"  asr chunk {c['seq']}: model {m['name']} {m['version']} sha256 {m['sha256'][:12]} "
            f"({m['device']}/{m['compute_type']}), RTF {c['rtf']:.3f}, queue {c['queue_ms']:.0f} ms, "
            f"language {c['language']} ({c['language_probability']:.2f}), {coverage(c)}"
            + (f", fallback: {c['fallback_reason']}" if c["fallback_used"] else "")
        )
    for d in ev["SpeakerTurns"][-1:]:
        print(
            f"  diarization: {d['num_speakers']} speakers ({d['mode']}, {d['pipeline']}), "
            f"RTF {d['rtf']:.3f}{', partial' if d['partial'] else ''}"
        )
    counts = ", ".join(f"{k}={v}" for k, v in sorted(final["entity_counts"].items())) or "none"
    print(f"  redaction: policy {final['policy_name']} v{final['policy_version']}, entities: {counts}")
    quality = recording_quality(ev)
    for line in quality_lines(quality) if quality else ["  quality: no report"]:
        print(line)
    print(f"  end to end: {elapsed_s:.1f} s wall\n")
    for seg in final["segments"]:
        speaker = seg.get("speaker") or "?"
        print(f"  [{fmt_time(seg['start_s'])} - {fmt_time(seg['end_s'])}] {speaker}: {seg['text']}")
    print()


def main(args: argparse.Namespace) -> int:
    files = [Path(f) for f in args.files] or [sample_call()]
    num_speakers = args.num_speakers  # None: the diarizer counts the speakers itself
    broker = LocalKafka(home=Path(args.home), port=args.port)
    print(f"starting Kafka {kafka_version()} on {broker.bootstrap} ...", flush=True)
    broker.up()
    procs = start_services(broker.bootstrap, Path(args.home).parent / "logs", env=DEMO_ENV)
    try:
        return run_flow(broker.bootstrap, files, procs, timeout_s=args.timeout, num_speakers=num_speakers)
    finally:
        stop_services(procs)
        if not args.keep_running:
            broker.stop()


def run_flow(
    bootstrap: str,
    files: list[Path],
    procs: list[subprocess.Popen[bytes]],
    timeout_s: float,
    num_speakers: int | None = None,
) -> int:
    from services.ingest.cli import publish_files

    settings = MeshSettings(bootstrap_servers=bootstrap, metrics_port=None)
    started = time.monotonic()
    published = publish_files(
        files,
        Publisher(settings, service="demo"),
        tenant="demo",
        priority="realtime",
        num_speakers=num_speakers,
        progress=False,
        metadata=sample_metadata() if files == [sample_call()] else None,
    )
    ids = {rid for rid, _ in published}
    print(f"published {len(files)} recording(s) to {topics.RAW}; waiting for the mesh ...", flush=True)
    follower = Events(settings, WATCHED, ids)
    try:
        while not all(finished(follower.by_id[rid]) for rid in ids):
            if time.monotonic() - started > timeout_s:
                print(
                    f"timed out after {timeout_s:.0f} s; events seen: "
                    f"{ {rid: {k: len(v) for k, v in ev.items()} for rid, ev in follower.by_id.items()} }"
                )
                return 1
            dead = [p.args for p in procs if p.poll() is not None]
            if dead:
                print(f"a service exited: {dead}; see .stt-mesh/logs/")
                return 1
            follower.poll(1.0)
        for rid, _ in published:
            report(rid, follower.by_id[rid], time.monotonic() - started)
    finally:
        follower.close()
    return print_calls(ids, procs, started + timeout_s)


def sample_metadata() -> dict[str, str]:
    """The sample call is labelled: its reference transcript (pyannote's STM) gives a true
    WER, and a checklist written from it (without the names and places redaction masks) is
    what the downstream summary app must find in its summary."""
    from stt_mesh.checklist import checklist_terms, format_checklist

    stm = sample_call().with_suffix(".stm")
    reference = " ".join(line.split(None, 5)[5] for line in stm.read_text().splitlines() if line.strip())
    return {
        "reference": reference,
        "summary_checklist": format_checklist(checklist_terms(reference, 3, exclude=SAMPLE_PII)),
    }


CALL_SQL = """
SELECT recording_id, trace_id, status, duration_s, codec, channels, snr_db, priority, tenant,
       model, verdict, reasons, wer_proxy, true_wer, speech_coverage, language_mix, speaker_count,
       pii_counts, redaction_policy, redaction_policy_version, queue_ms, processing_s, end_to_end_s,
       rtf, cost_usd, llm_tasks, llm_accepted, llm_scores, llm_latency_ms, llm_cost_usd
FROM stt.calls WHERE has({ids:Array(String)}, recording_id) ORDER BY recording_id
"""


def print_calls(ids: set[str], procs: list[subprocess.Popen[bytes]], deadline: float) -> int:
    """Wait for each call's row in ClickHouse to carry its LLM outcome, then print it."""
    from stt_mesh.analysis import Results, ResultStoreError

    results, rows = Results(), []
    while time.monotonic() < deadline:
        try:
            rows = results.dicts(CALL_SQL, {"ids": sorted(ids)})
        except ResultStoreError:
            rows = []
        if len(rows) == len(ids) and all(r["llm_tasks"] for r in rows):
            break
        if any(p.poll() is not None for p in procs):
            print("a service exited; see .stt-mesh/logs/")
            return 1
        time.sleep(1.0)
    else:
        print(f"the calls view did not show every call with its LLM outcome in time: {rows}")
        return 1
    for row in rows:
        print("\n".join(call_lines(row)))
    return 0


def call_lines(r: dict[str, Any]) -> list[str]:
    def num(value: Any, fmt: str) -> str:
        return "NULL" if value is None else format(value, fmt)

    outcomes = ", ".join(
        f"{task} {'ACCEPTED' if ok else 'REJECTED'} (score {num(score, '.2f')}, {num(ms, '.0f')} ms, "
        f"${num(cost, '.6f')})"
        for task, ok, score, ms, cost in zip(
            r["llm_tasks"],
            r["llm_accepted"],
            r["llm_scores"],
            r["llm_latency_ms"],
            r["llm_cost_usd"],
            strict=True,
        )
    )
    why = f" {r['reasons']}" if r["reasons"] else ""
    return [
        f"calls row from ClickHouse (stt.calls, trace_id {r['trace_id']}):",
        f"  recording {r['recording_id']}: {r['status']}, {r['duration_s']:.1f} s {r['codec']} "
        f"{r['channels']} ch, SNR {r['snr_db']:.1f} dB, {r['priority']}, tenant {r['tenant']}",
        f"  transcript: model {r['model']}, {r['verdict']}{why}, "
        f"WER proxy {num(r['wer_proxy'], '.3f')}, true WER {num(r['true_wer'], '.3f')}, "
        f"coverage {num(r['speech_coverage'], '.0%')}, language mix {r['language_mix']}",
        f"  speakers {r['speaker_count']}, PII {r['pii_counts']}, redaction policy "
        f"{r['redaction_policy']} v{r['redaction_policy_version']}",
        f"  latency: queue {num(r['queue_ms'], '.0f')} ms, processing {num(r['processing_s'], '.1f')} s, "
        f"end to end {num(r['end_to_end_s'], '.1f')} s, RTF {num(r['rtf'], '.3f')}, "
        f"cost ${num(r['cost_usd'], '.5f')}",
        f"  LLM outcome: {outcomes}",
        "",
    ]

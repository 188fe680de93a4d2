"""ASR through the mesh vs faster-whisper in one process, measured in one run.

The same real speech (pyannote's sample call and Debian's five LibriVox sentences, each
published ``--copies`` times) goes

* through the mesh: producer -> Kafka -> ingest (decode, VAD chunking) -> Kafka -> ASR batch
  pool (dynamic batching) -> Kafka, timed from the first publish to the last transcript, with
  the services already running and warmed up by one recording;
* through faster-whisper's ``BatchedInferencePipeline`` in one process (baseline for
  throughput, and for accuracy: it decodes each VAD window in one pass, like the mesh), and
  ``WhisperModel.transcribe`` on each whole file (baseline for accuracy),

with the same model and the ASR service's decode settings. The baselines run while the mesh
services are stopped, so neither side competes with the other for the CPU.

    python bench/asr_mesh.py [--model tiny.en|base] [--copies 3] [--bootstrap HOST:PORT]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asr_direct

from infra.local import broker_or_throwaway, create_topics, topic_specs
from mesh import MeshSettings, Publisher, topics
from mesh.textnorm import word_error_rate
from services.asr.config import AsrSettings
from services.asr.factory import build_engine
from services.ingest.cli import publish_files
from stt_mesh.demo import start_services, stop_services
from stt_mesh.follow import Events


def files_of(recs: list[asr_direct.Recording]) -> list[Path]:
    spec = importlib.util.find_spec("pyannote.audio")
    assert spec is not None and spec.submodule_search_locations
    by_name = {"sample_call": Path(spec.submodule_search_locations[0]) / "sample" / "sample.wav"}
    for path in asr_direct.LIBRIVOX.glob("*.wav"):
        by_name[path.stem.rsplit("-", 1)[1]] = path
    return [by_name[r.name] for r in recs]


def mesh_run(
    bootstrap: str, files: list[Path], copies: int, model: str
) -> tuple[float, list[str], list[dict]]:
    env = {"STT_ASR_MODEL": model, "STT_ASR_FALLBACK_MODEL": model}
    procs = start_services(
        bootstrap,
        Path(tempfile.mkdtemp(prefix="asr-mesh-logs-")),
        [["ingest"], ["asr", "--pool", "batch"]],
        env,
    )
    settings = MeshSettings(bootstrap_servers=bootstrap, metrics_port=None)
    publisher = Publisher(settings, service="bench")
    events = Events(settings, [topics.TRANSCRIPTS, topics.RECORDINGS])
    try:
        [(warm, _)] = publish_files(files[-1:], publisher, progress=False)
        assert events.wait(lambda ev: complete(ev, warm), 600), "warm-up recording never finished"
        start = time.perf_counter()
        ids = [
            rid
            for _ in range(copies)
            for rid, _ in publish_files(files, publisher, priority="batch", progress=False)
        ]
        assert events.wait(lambda ev: all(complete(ev, rid) for rid in ids), 1800), "mesh timed out"
        elapsed = time.perf_counter() - start
    finally:
        events.close()
        stop_services(procs)
    texts = [" ".join(s["text"] for c in chunks(events, rid) for s in c["segments"]) for rid in ids]
    return elapsed, texts[: len(files)], [c for rid in ids for c in chunks(events, rid)]


def chunks(ev: Events, rid: str) -> list[dict]:
    return sorted({c["seq"]: c for c in ev.by_id[rid]["ChunkTranscript"]}.values(), key=lambda c: c["seq"])


def complete(ev: Events, rid: str) -> bool:
    done = chunks(ev, rid)
    return bool(done) and len(done) == done[0]["chunk_count"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--bootstrap")
    args = parser.parse_args()
    recs = asr_direct.recordings()
    files = files_of(recs)
    audio_s = sum(r.seconds for r in recs) * args.copies
    settings = AsrSettings(model=args.model)
    model = build_engine(args.model, settings).model  # same weights and device policy as the service
    options = asr_direct.direct_options(settings, english=args.model.endswith(".en"))
    direct_texts = asr_direct.run_direct(model, recs, options)
    start = time.perf_counter()
    for _ in range(args.copies):
        pipeline_texts = asr_direct.run_pipeline(model, recs, options, args.batch)
    pipeline_s = time.perf_counter() - start
    del model

    with broker_or_throwaway(args.bootstrap) as bootstrap:
        create_topics(bootstrap, topic_specs())
        mesh_s, mesh_texts, events = mesh_run(bootstrap, files, args.copies, args.model)
    refs = [r.reference for r in recs]
    wer_direct, wer_mesh = word_error_rate(refs, direct_texts), word_error_rate(refs, mesh_texts)
    wer_pipeline = word_error_rate(refs, pipeline_texts)
    print(f"model {args.model}; {len(recs)} files x {args.copies} copies = {audio_s:.1f} s of speech")
    print(f"WER direct (WhisperModel.transcribe, whole files): {wer_direct:.4f}")
    print(f"WER mesh (ingest -> chunks -> ASR, via Kafka):      {wer_mesh:.4f}")
    print(f"WER BatchedInferencePipeline (batch {args.batch}):     {wer_pipeline:.4f}")
    print(
        f"WER mesh - direct: {100 * (wer_mesh - wer_direct):+.2f} points; "
        f"mesh - pipeline: {100 * (wer_mesh - wer_pipeline):+.2f} points"
    )
    print_coverage(events)
    print(
        f"throughput BatchedInferencePipeline (batch {args.batch}): "
        f"{audio_s / pipeline_s:.2f} audio s / wall s"
    )
    print(f"throughput mesh (ingest + ASR batch pool):           {audio_s / mesh_s:.2f} audio s / wall s")
    print(f"mesh / pipeline throughput ratio: {pipeline_s / mesh_s:.2f}")


def print_coverage(events: list[dict]) -> None:
    spoken = [e for e in events if e["speech_coverage"] is not None and e["speech_s"] >= 2.0]
    worst = min((e["speech_coverage"] for e in spoken), default=float("nan"))
    print(
        f"mesh chunks with >= 2 s of speech: {len(spoken)}; worst coverage {worst:.3f}; "
        f"re-decoded {sum(e['redecodes'] > 0 for e in events)}; "
        f"flagged low_coverage {sum(e['low_coverage'] for e in events)}; "
        f"repetition loops trimmed {sum(e['repetition_loops'] for e in events)}"
    )


if __name__ == "__main__":
    main()

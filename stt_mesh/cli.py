"""``stt-mesh``: one command for the local stack, producers and services.

    stt-mesh infra up|down|status      a real single-node Kafka on 127.0.0.1 + the v1 topics
    stt-mesh publish FILE...           publish recordings to the raw topic (progress bar)
    stt-mesh serve SERVICE [ARGS...]   run one service (ingest, asr, diarize, redact, ...)
    stt-mesh demo                      the main job on embedded defaults (see stt_mesh.demo)
    stt-mesh up [--only LIST] [-d]     the local stack as processes, with their health (stt_mesh.up)
    stt-mesh ps | down                 that stack's state from another terminal; stop it
    stt-mesh golden build|run|fit      the golden set, scored per slice through the running mesh
    stt-mesh golden manifest           the golden set as a batch manifest (stt-mesh batch submit)
    stt-mesh outcome TRACE_ID ...      report a downstream LLM app's outcome for a call
    stt-mesh batch submit MANIFEST     publish every file of a manifest once, as a resumable job
    stt-mesh batch status JOB          a job's progress and quality, from ClickHouse
    stt-mesh sink migrate              create/evolve the ClickHouse tables and views
    stt-mesh sql "SELECT ..."          a read-only query on the result store
    stt-mesh result RECORDING_ID       a recording's status, transcript and quality report
"""  # fmt: skip

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import uuid
from pathlib import Path

from mesh import MeshSettings

SERVICES = ("ingest", "asr", "diarize", "redact", "quality", "sink")


def local_kafka(args: argparse.Namespace):
    from infra.local import LocalKafka

    return LocalKafka(home=Path(args.home), port=args.port)


def cmd_infra(args: argparse.Namespace) -> int:
    broker = local_kafka(args)
    if args.action == "up":
        created = broker.up()
        print(f"{broker.status()}; {len(created)} topics created")
    elif args.action == "down":
        broker.stop()
        print(broker.status())
    elif args.action == "fetch":
        print(f"kafka jars in {broker.fetch()}")
    else:
        print(broker.status())
        return 0 if broker.running() else 3
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from mesh import Publisher
    from services.ingest.cli import publish_files

    missing = [f for f in args.files if not Path(f).is_file()]
    if missing:
        print(f"no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    publisher = Publisher(MeshSettings(), service="cli")
    results = publish_files(
        args.files,
        publisher,
        tenant=args.tenant,
        priority=args.priority,
        language=args.language,
        num_speakers=args.num_speakers,
        min_speakers=args.min_speakers,
        max_speakers=args.max_speakers,
        split_channels=args.split_channels,
        channel_roles=args.channel_roles.split(",") if args.channel_roles else (),
        arm=args.arm,
    )
    for recording_id, trace_id in results:
        print(f"{recording_id}\ttrace_id={trace_id}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    app = importlib.import_module(f"services.{args.service}.app")
    return int(app.main(args.args) or 0)


def cmd_golden(args: argparse.Namespace) -> int:
    from services.quality.golden import corpus

    if args.action == "fit":
        from services.quality.golden.fit import fit_rows, lines, load_rows

        proxy, figures = fit_rows(load_rows(Path(p) for p in args.rows), alpha=args.alpha)
        print("\n".join(lines(figures)))
        proxy.save(Path(args.proxy_out))
        print(f"wrote {args.proxy_out} ({proxy.version})")
        return 0
    items = corpus.build(Path(args.golden_dir), args.slices or None)
    items = [i for i in items if args.split == "all" or i.split == args.split]
    if args.action == "build":
        print(corpus.summary(items))
        return 0
    if args.action == "manifest":
        from services.quality.golden.run import batch_manifest

        out = Path(args.out or Path(args.golden_dir) / "batch.jsonl")
        rows = batch_manifest(items, f"golden-batch-{uuid.uuid4().hex[:8]}")
        out.write_text("".join(json.dumps(r) + "\n" for r in rows))
        print(f"wrote {out}: {len(rows)} rows (stt-mesh batch submit {out})")
        return 0
    from services.quality.golden.run import gate_lines, run, table

    result, decision = run(
        items,
        MeshSettings(),
        args.arms,
        args.timeout,
        out=Path(args.out) if args.out else None,
        priority=args.priority,
    )
    print(table(result))
    for line in gate_lines(decision) if decision else []:
        print(line)
    return 0 if all(not r.get("missing") for r in result) else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from stt_mesh.demo import main as demo

    return demo(args)


def cmd_outcome(args: argparse.Namespace) -> int:
    """Publish one LlmOutcome (see stt_mesh.outcome); bad input exits 2, a failed send 1."""
    from mesh import Publisher, topics
    from mesh.errors import DeliveryError
    from stt_mesh.outcome import llm_outcome, publish_outcome

    fields = dict(
        task=args.task,
        accepted=args.accepted == "yes",
        score=args.score,
        latency_ms=args.latency_ms,
        cost_usd=args.cost_usd,
        model=args.model,
        recording_id=args.recording_id,
        tenant=args.tenant,
    )
    try:
        llm_outcome(args.trace_id, **fields)
    except ValueError as exc:
        print(f"stt-mesh outcome: error: {exc}", file=sys.stderr)
        return 2
    publisher = Publisher(MeshSettings(), service="cli")
    try:
        value = publish_outcome(publisher, args.trace_id, **fields)
        publisher.close(args.timeout)
    except DeliveryError as exc:
        print(f"stt-mesh outcome: not delivered: {exc}", file=sys.stderr)
        return 1
    print(f"sent LlmOutcome to {topics.LLM_OUTCOMES} key={value['trace_id']} {json.dumps(value)}")
    return 0


def cmd_batch_submit(args: argparse.Namespace) -> int:
    """Submit (or resume) a backfill job; a bad manifest or job exits 2, a failed send 1."""
    from mesh.errors import DeliveryError
    from stt_mesh import batch

    try:
        result = batch.submit(
            args.manifest,
            MeshSettings(),
            tenant=args.tenant,
            priority=args.priority,
            job_id=args.job_id,
            rows_per_txn=args.rows_per_txn,
            max_rows_per_s=args.max_rows_per_s,
        )
    except batch.BatchError as exc:
        print(f"stt-mesh batch submit: error: {exc}", file=sys.stderr)
        return 2
    except DeliveryError as exc:
        print(f"stt-mesh batch submit: not published: {exc}", file=sys.stderr)
        return 1
    if result.published_now == 0 and result.state == "submitted":
        print(f"job {result.job_id} was submitted already: nothing published")
    print(
        f"job: {result.job_id}\npublished now: {result.published_now}\n"
        f"cursor: {result.cursor} (of {result.rows} rows)\n"
        f"resumed: {'yes' if result.resumed else 'no'}\nstate: {result.state}"
    )
    return 0


def cmd_sink(args: argparse.Namespace) -> int:
    """Apply the ClickHouse migrations, or print them (``--print``, e.g. the cluster variant)."""
    from services.sink.config import SinkSettings
    from services.sink.migrate import migrate, migrations, render
    from services.sink.store import Store, StoreError

    settings = SinkSettings(**({"cluster": args.cluster} if args.cluster else {}))
    if args.print:
        for m in migrations():
            print(f"-- {m.version:04d}_{m.name}")
            print(";\n\n".join(render(m.template, settings, settings.cluster)) + ";\n")
        return 0
    try:
        applied = migrate(Store(settings.resolved_dsn(), settings.database), settings)
    except (StoreError, ValueError) as exc:
        print(f"stt-mesh sink migrate: error: {exc}", file=sys.stderr)
        return 1
    print(f"applied: {', '.join(applied)}" if applied else "the schema is up to date")
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from stt_mesh.analysis import Results, ResultStoreError, render

    params = dict(p.split("=", 1) for p in args.param)
    try:
        columns, rows = Results(args.url).query(args.sql, params)
    except ResultStoreError as exc:
        print(f"stt-mesh sql: {exc}", file=sys.stderr)
        return 1
    print(render(columns, rows, args.format))
    return 0


def cmd_result(args: argparse.Namespace) -> int:
    from stt_mesh.analysis import Results, ResultStoreError

    try:
        result = Results(args.url).recording(args.recording_id)
    except ResultStoreError as exc:
        print(f"stt-mesh result: {exc}", file=sys.stderr)
        return 1
    if result is None:
        print(f"no recording {args.recording_id} is known to the result store (yet)", file=sys.stderr)
        return 3
    print(json.dumps(result, indent=2, default=str))
    return 0


def cmd_batch_status(args: argparse.Namespace) -> int:
    from stt_mesh.analysis import Results, ResultStoreError
    from stt_mesh.jobs import job_status, status_lines

    try:
        status = job_status(Results(args.url), args.job_id, MeshSettings())
    except ResultStoreError as exc:
        print(f"stt-mesh batch status: {exc}", file=sys.stderr)
        return 1
    if status is None:
        print(f"no job {args.job_id} is known", file=sys.stderr)
        return 3
    print("\n".join(status_lines(status)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stt-mesh", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    infra = sub.add_parser("infra", help="local Kafka broker")
    infra.add_argument("action", choices=["up", "down", "status", "fetch"])
    infra.add_argument("--home", default=".stt-mesh/kafka")
    infra.add_argument("--port", type=int, default=9092)
    infra.set_defaults(func=cmd_infra)

    pub = sub.add_parser("publish", help="publish recordings to the raw topic")
    pub.add_argument("files", nargs="+")
    pub.add_argument("--tenant", default="default")
    pub.add_argument("--priority", choices=["realtime", "batch"], default="batch")
    pub.add_argument("--language")
    pub.add_argument("--num-speakers", type=int)
    pub.add_argument("--min-speakers", type=int)
    pub.add_argument("--max-speakers", type=int)
    pub.add_argument("--split-channels", action="store_true")
    pub.add_argument("--channel-roles", help="comma separated, e.g. agent,customer")
    pub.add_argument("--arm", choices=["control", "candidate"], help="force the ASR rollout arm")
    pub.set_defaults(func=cmd_publish)

    serve = sub.add_parser("serve", help="run one service")
    serve.add_argument("service", choices=SERVICES)
    serve.add_argument("args", nargs=argparse.REMAINDER)
    serve.set_defaults(func=cmd_serve)

    golden = sub.add_parser("golden", help="golden set: build it, run it through the mesh, fit the proxy")
    golden.add_argument("action", choices=["build", "run", "fit", "manifest"])
    golden.add_argument("rows", nargs="*", help="fit: rows files written by `golden run --out`")
    golden.add_argument("--golden-dir", default=".stt-mesh/golden")
    golden.add_argument("--slices", nargs="*", help="default: every slice")
    golden.add_argument("--split", choices=["tune", "heldout", "all"], default="all")
    golden.add_argument(
        "--arms",
        nargs="+",
        choices=["control", "candidate"],
        default=["control"],
        help="rollout arms to decode each item with (both: the gate compares them)",
    )
    golden.add_argument("--priority", choices=["realtime", "batch"], default="batch")
    golden.add_argument("--timeout", type=float, default=1800.0)
    golden.add_argument(
        "--out",
        help="run: write one JSON row per recording here; manifest: the "
        "batch manifest's path (default GOLDEN_DIR/batch.jsonl)",
    )
    golden.add_argument("--alpha", type=float, default=1.0, help="fit: ridge penalty")
    golden.add_argument("--proxy-out", default="services/quality/proxy/wer_proxy.json")
    golden.set_defaults(func=cmd_golden)

    demo = sub.add_parser("demo", help="transcribe a real call end to end through Kafka")
    demo.add_argument("--home", default=".stt-mesh/kafka")
    demo.add_argument("--port", type=int, default=9092)
    demo.add_argument("--keep-running", action="store_true", help="leave Kafka up afterwards")
    demo.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the result")
    demo.add_argument("--num-speakers", type=int, help="speaker-count hint (default: counted automatically)")
    demo.add_argument("files", nargs="*", help="recordings (default: pyannote's sample call)")
    demo.set_defaults(func=cmd_demo)

    from stt_mesh.up import add_parsers as add_up_parsers

    add_up_parsers(sub)

    outcome = sub.add_parser("outcome", help="report what a downstream LLM app made of a call")
    outcome.add_argument("trace_id", help="the call's trace id (32 hex digits)")
    outcome.add_argument("--task", required=True, help="e.g. summary")
    outcome.add_argument("--accepted", required=True, choices=["yes", "no"])
    outcome.add_argument("--score", type=float, help="between 0 and 1")
    outcome.add_argument("--latency-ms", type=float, default=0.0)
    outcome.add_argument("--cost-usd", type=float, default=0.0)
    outcome.add_argument("--model")
    outcome.add_argument("--recording-id", default="")
    outcome.add_argument("--tenant", default="default")
    outcome.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the ack")
    outcome.set_defaults(func=cmd_outcome)

    batch_actions = sub.add_parser("batch", help="backfill jobs").add_subparsers(dest="action", required=True)
    submit = batch_actions.add_parser("submit", help="publish a manifest's files (resumes the same job)")
    submit.add_argument("manifest", help="CSV or JSONL, one row per file: path, recording_id, ...")
    submit.add_argument("--tenant", default="default")
    submit.add_argument("--priority", choices=["realtime", "batch"], default="batch")
    submit.add_argument("--job-id", help="default: derived from the manifest's sha256 and tenant")
    submit.add_argument("--rows-per-txn", type=int, default=8, help="rows per Kafka transaction")
    submit.add_argument("--max-rows-per-s", type=float, help="pace the backfill (default: no limit)")
    submit.set_defaults(func=cmd_batch_submit)
    status = batch_actions.add_parser("status", help="a job's progress and quality, from ClickHouse")
    status.add_argument("job_id")
    status.add_argument("--url", help="the sink's HTTP address (default STT_SINK_URL or :8090)")
    status.set_defaults(func=cmd_batch_status)

    sink = sub.add_parser("sink", help="the ClickHouse store")
    sink.add_argument("action", choices=["migrate"])
    sink.add_argument("--cluster", help="ON CLUSTER name: Replicated* engines")
    sink.add_argument("--print", action="store_true", help="print the statements instead of applying them")
    sink.set_defaults(func=cmd_sink)

    sql = sub.add_parser("sql", help="a read-only query on the result store")
    sql.add_argument("sql")
    sql.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="a {NAME:Type} query parameter"
    )
    sql.add_argument("--format", choices=["table", "json", "csv"], default="table")
    sql.add_argument("--url", help="the sink's HTTP address (default STT_SINK_URL or :8090)")
    sql.set_defaults(func=cmd_sql)

    result = sub.add_parser("result", help="a recording's status, transcript and quality report")
    result.add_argument("recording_id")
    result.add_argument("--url", help="the sink's HTTP address (default STT_SINK_URL or :8090)")
    result.set_defaults(func=cmd_result)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

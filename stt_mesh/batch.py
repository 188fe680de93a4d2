"""Backfills: every file of a manifest published once as a job (``stt-mesh batch submit``).

Why transactions: a backfill of thousands of files takes long enough to be interrupted, and
a rerun must neither publish a recording twice nor leave one half-published (ingest would
wait for parts that never come). Each Kafka transaction carries every RecordingPart of a few
manifest rows *and* the job's BatchJob record with the advanced cursor, so the cursor on
``stt.jobs.v1`` is exactly what read_committed consumers (ingest, by librdkafka's default)
see. A restarted submitter uses the same ``transactional.id``: initialising it fences the
old process and aborts whatever it left open, and the cursor says where to go on.

The versions in force when the job is created (ASR models and decode options, redaction
policy, output schemas) are recorded once, so a backfill can be told apart from later runs.
The job record holds names, digests and counts only: no audio, no text, no metadata values.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import schemas
from mesh import Output, Publisher, topics
from mesh.errors import DeliveryError
from mesh.settings import MeshSettings

log = logging.getLogger(__name__)

ROWS_PER_TXN = 8
BYTES_PER_TXN = 32 * 1024 * 1024
PART_SIZE = 1_000_000
TXN_TIMEOUT_MS = 30_000  # a killed submitter holds back read_committed readers at most this long
HINT_COLUMNS = ("language", "num_speakers", "min_speakers", "max_speakers", "channel_roles")
INT_COLUMNS = ("num_speakers", "min_speakers", "max_speakers")
COLUMNS = ("path", "recording_id", "split_channels", "priority", *HINT_COLUMNS)
META_JOB, META_ROW = "batch_job", "batch_row"  # metadata keys every recording of a job carries
_JOB_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_TRUE, _FALSE = {"true", "1", "yes", "y"}, {"false", "0", "no", "n", ""}


class BatchError(ValueError):
    """A manifest or a job that cannot be submitted; the message says which row or why."""


@dataclass(frozen=True, slots=True)
class Row:
    index: int  # 0-based data row: the cursor's unit and ``batch_row``
    line: int
    path: Path
    size: int
    recording_id: str | None
    priority: str | None
    split_channels: bool
    hints: dict[str, Any]
    metadata: dict[str, str]


# -- manifest --------------------------------------------------------------------------------
def read_manifest(manifest: str | Path) -> list[Row]:
    """Every row of a CSV or JSONL manifest, checked before anything is published."""
    path = Path(manifest)
    try:
        records = list(_records(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchError(f"cannot read manifest {path}: {exc}") from exc
    if not records:
        raise BatchError(f"manifest {path} has no rows")
    rows = [_row(i, line, rec, path.parent) for i, (line, rec) in enumerate(records)]
    seen: dict[str, int] = {}
    for row in rows:
        if row.recording_id in seen:
            raise BatchError(
                f"row {row.index} (line {row.line}): recording_id "
                f"{row.recording_id!r} repeats row {seen[row.recording_id]}"
            )
        if row.recording_id:
            seen[row.recording_id] = row.index
    return rows


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in (".jsonl", ".ndjson") or text.lstrip().startswith("{"):
        for line, raw in enumerate(text.splitlines(), 1):
            if raw.strip():
                try:
                    record = json.loads(raw)
                except ValueError as exc:
                    raise BatchError(f"line {line} of {path}: not JSON ({exc})") from exc
                if not isinstance(record, dict):
                    raise BatchError(f"line {line} of {path}: not a JSON object")
                yield line, record
        return
    reader = csv.DictReader(text.splitlines())
    if "path" not in (reader.fieldnames or []):
        raise BatchError(
            f"manifest {path} has no path column (columns: {', '.join(reader.fieldnames or []) or 'none'})"
        )
    for record in reader:
        if None in record:
            raise BatchError(f"line {reader.line_num} of {path}: more cells than columns")
        yield reader.line_num, record


def _row(index: int, line: int, record: Mapping[str, Any], base: Path) -> Row:
    from services.ingest import events

    where = f"row {index} (line {line})"
    values = {k: v for k, v in record.items() if v is not None and v != ""}
    if "path" not in values:
        raise BatchError(f"{where}: no path")
    path = Path(str(values["path"])).expanduser()
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise BatchError(f"{where}: no such file {path}")
    try:
        ints: dict[str, Any] = {k: _int(values[k]) for k in INT_COLUMNS if k in values}
        split = _bool(values.get("split_channels", False))
    except ValueError as exc:
        raise BatchError(f"{where}: {exc}") from exc
    roles = values.get("channel_roles", ())
    roles = roles.split(",") if isinstance(roles, str) else roles
    language = str(values["language"]) if "language" in values else None
    roles = [str(r).strip() for r in roles if str(r).strip()]
    hints = events.make_hints(language, channel_roles=roles, **ints)
    request = events.IngestRequest(
        recording_id=str(values.get("recording_id", "row")),
        source="cli",
        hints=hints,
        priority=str(values.get("priority", "batch")),
    )
    problem = events.request_problem(request)
    if problem:
        raise BatchError(f"{where}: {problem}")
    metadata = {
        str(k): v if isinstance(v, str) else json.dumps(v) for k, v in values.items() if k not in COLUMNS
    }
    reserved = sorted({META_JOB, META_ROW} & set(metadata))
    if reserved:
        raise BatchError(f"{where}: {', '.join(reserved)} is set by the submitter")
    rid = values.get("recording_id")
    return Row(
        index,
        line,
        path,
        path.stat().st_size,
        str(rid) if rid else None,
        values.get("priority"),
        split,
        hints,
        metadata,
    )


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"not an integer: {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"not an integer: {value!r}") from None


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(f"split_channels must be true or false, not {value!r}")


def manifest_sha256(manifest: str | Path) -> str:
    return hashlib.sha256(Path(manifest).read_bytes()).hexdigest()


def job_id_for(manifest_sha: str, tenant: str) -> str:
    """The same manifest submitted for the same tenant is the same job (so a rerun resumes)."""
    return "job-" + hashlib.sha256(f"{tenant}\x1f{manifest_sha}".encode()).hexdigest()[:16]


def recording_id_for(job_id: str, row: Row) -> str:
    return row.recording_id or f"{job_id}-{row.index:06d}"


def row_metadata(job_id: str, row: Row) -> dict[str, str]:
    return {**row.metadata, META_JOB: job_id, META_ROW: str(row.index)}


def transactional_id(job_id: str) -> str:
    return f"stt-batch-{job_id}"


# -- the versions in force -------------------------------------------------------------------
def version_snapshot(tenant: str, priority: str = "batch") -> dict[str, Any]:
    """Models, decode options, redaction policy and output schemas a job is created under."""
    models, roles, decode = _asr_snapshot(priority)
    outputs = {
        schemas.full_name(n): schemas.fingerprint(schemas.load(n))
        for n in ("RedactedTranscript", "QualityReport")
    }
    return {
        "models": models,
        "model_roles": roles,
        "decode_settings": decode,
        "redaction_policy": _redaction_policy(tenant),
        "output_schema": {"namespace": schemas.NAMESPACE, **outputs},
    }


def _asr_snapshot(priority: str) -> tuple[list[dict[str, str]], dict[str, str], dict[str, str]]:
    try:
        from services.asr.config import AsrSettings
    except ImportError as exc:  # a submitter host without the asr extra
        log.warning("ASR settings unavailable (%s): the job records no models", exc)
        return [], {}, {}
    s = AsrSettings()
    configured = {
        "main": s.main_model("realtime" if priority == "realtime" else "batch"),
        "fallback": s.fallback_model,
        "low_snr": s.low_snr_model if s.low_snr_db is not None else None,
        "candidate": s.rollout.candidate_model,
    }
    roles = {role: name for role, name in configured.items() if name}
    models = {name: _model_info(name, s) for name in dict.fromkeys(roles.values())}
    decode = s.decode.as_settings()
    if s.rollout.candidate_model:
        candidate = s.candidate_options().as_settings()
        decode |= {f"candidate.{k}": v for k, v in candidate.items() if decode.get(k) != v}
    return list(models.values()), roles, decode


def _model_info(name: str, s: Any) -> dict[str, str]:
    """Name, version and weights digest; digests are cached, so no model is loaded or read
    twice, and nothing is downloaded at submit time."""
    from services.asr.models import ModelNotFoundError, resolve

    info = {"name": name, "compute_type": s.compute_type, "device": s.device}
    try:
        found = resolve(name, s.model_cache_dir, s.model_paths, allow_download=False)
    except (ModelNotFoundError, ImportError, OSError) as exc:
        log.warning("model %s not resolved here (%s): recorded unresolved", name, exc)
        return {**info, "version": "unresolved", "sha256": ""}
    return {**info, "version": found.version, "sha256": found.sha256}


def _redaction_policy(tenant: str) -> str:
    """``name@version`` as the redact service will choose it (the policy book's tenant entry,
    else its default); read from the book itself, since salts are not the submitter's."""
    from services.redact.config import RedactSettings
    from services.redact.policy import Policy

    path = RedactSettings().policies_file
    book = json.loads(path.read_text()) if path else {}
    spec = (book.get("tenants") or {}).get(tenant, book.get("default") or {})
    return f"{spec.get('name', Policy.name)}@{spec.get('version', Policy.version)}"


# -- Kafka -----------------------------------------------------------------------------------
class TransactionalPublisher(Publisher):
    """``mesh.Publisher`` (writer schema header, traceparent) inside Kafka transactions: what
    one transaction sends becomes visible all at once or never."""

    def __init__(
        self, settings: MeshSettings, txn_id: str, *, serde: Any = None, producer: Any = None
    ) -> None:
        from confluent_kafka import Producer

        conf = {
            **settings.producer_config(),
            "transactional.id": txn_id,
            "transaction.timeout.ms": TXN_TIMEOUT_MS,
            "client.id": "stt-batch-producer",
        }
        super().__init__(settings, "batch", serde=serde, producer=producer or Producer(conf))

    def publish(self, topic: str, schema: str, value: dict[str, Any], key: str, trace: Any = None) -> None:
        self.send(Output(topic, schema, value, key=key), trace)

    def init(self, timeout_s: float = 60.0) -> None:
        """Fence any older producer of this transactional.id and abort what it left open."""
        self._call(self._producer.init_transactions, timeout_s)

    def begin(self) -> None:
        self._call(self._producer.begin_transaction)

    def commit(self, timeout_s: float = 60.0) -> None:
        from confluent_kafka import KafkaException

        for attempt in range(3):
            try:
                self._producer.commit_transaction(timeout_s)
                return
            except KafkaException as exc:
                if not exc.args[0].retriable() or attempt == 2:
                    raise DeliveryError(f"transaction not committed: {exc.args[0].str()}") from exc

    def abort(self, timeout_s: float = 60.0) -> None:
        """Best effort: a fenced or dead producer cannot abort, and its broker-side
        transaction is aborted by the next submitter (or the transaction timeout)."""
        try:
            self._producer.abort_transaction(timeout_s)
        except Exception as exc:  # the error that made us abort is the one to report
            log.warning("abort failed: %s", exc)

    def _call(self, method: Callable[..., Any], *args: Any) -> None:
        from confluent_kafka import KafkaException

        try:
            method(*args)
        except KafkaException as exc:
            raise DeliveryError(exc.args[0].str()) from exc


def read_job(
    settings: MeshSettings, job_id: str, *, serde: Any = None, timeout_s: float = 30.0
) -> dict[str, Any] | None:
    """The latest committed BatchJob of ``job_id`` on ``stt.jobs.v1`` (None: no such job).

    Reads the small compacted topic from its start to its end (read_committed: a killed
    submitter's open transaction is never taken for progress)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    from mesh.serde import AvroSerde

    serde = serde or AvroSerde(settings.schema_registry_url)
    consumer = Consumer(
        {
            **settings.kafka_common(),
            "group.id": f"stt-batch-read-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
            "fetch.max.bytes": max(settings.message_max_bytes, 52428800),
        }
    )
    try:
        meta = consumer.list_topics(topics.JOBS, timeout=timeout_s).topics[topics.JOBS]
        if meta.error is not None and meta.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            return None
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topics.JOBS, p), timeout_s, cached=False)[1]
            for p in meta.partitions
        }
        consumer.assign([TopicPartition(topics.JOBS, p, OFFSET_BEGINNING) for p in ends])
        latest, key, deadline = None, job_id.encode(), time.monotonic() + timeout_s
        while _behind(consumer, ends):
            if time.monotonic() > deadline:
                raise DeliveryError(f"{topics.JOBS} not read to its end in {timeout_s}s")
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    raise DeliveryError(f"reading {topics.JOBS}: {err.str()}")
                ends[msg.partition()] = -1
            elif msg.key() == key:
                latest = serde.decode(msg.value(), msg.headers())[1] if msg.value() else None
        return latest
    finally:
        consumer.close()


def _behind(consumer: Any, ends: dict[int, int]) -> bool:
    """Whether a partition is not yet read up to the end offset it had when reading began
    (-1: its end was reported)."""
    from confluent_kafka import TopicPartition

    open_ = [TopicPartition(topics.JOBS, p) for p, end in ends.items() if end > 0]
    return (
        any(0 <= tp.offset < ends[tp.partition] or tp.offset < 0 for tp in consumer.position(open_))
        if open_
        else False
    )


# -- submitting ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SubmitResult:
    job_id: str
    rows: int
    published_now: int
    cursor: int
    resumed: bool
    state: str


def submit(
    manifest: str | Path,
    settings: MeshSettings | None = None,
    *,
    tenant: str = "default",
    priority: str = "batch",
    job_id: str | None = None,
    rows_per_txn: int = ROWS_PER_TXN,
    max_txn_bytes: int = BYTES_PER_TXN,
    max_rows_per_s: float | None = None,
    progress: bool = True,
    clock: Callable[[], float] = time.time,
) -> SubmitResult:
    """Publish every row after the job's cursor, a few rows per transaction."""
    if rows_per_txn < 1 or max_txn_bytes < 1 or (max_rows_per_s is not None and max_rows_per_s <= 0):
        raise BatchError("rows per transaction, bytes per transaction and rows/s must be positive")
    if job_id is not None and not _JOB_ID.match(job_id):
        raise BatchError("job id must be 1-128 letters, digits or . _ : -")
    settings = settings or MeshSettings()
    rows = read_manifest(manifest)
    sha = manifest_sha256(manifest)
    job_id = job_id or job_id_for(sha, tenant)
    publisher = TransactionalPublisher(settings, transactional_id(job_id))
    publisher.init()
    job = read_job(settings, job_id, serde=publisher.serde)
    resumed = job is not None
    if job is None:
        job = _new_job(job_id, tenant, priority, str(manifest), sha, len(rows), clock)
        _commit(publisher, [], job, job, clock)
    else:
        _check_resumable(job, sha, tenant, priority)
        if job["state"] == "submitted":
            return SubmitResult(job_id, len(rows), 0, job["cursor"], False, job["state"])
        job = {**job, "resumes": job["resumes"] + 1}
    start, done = time.monotonic(), 0
    todo = rows[job["cursor"] + 1 :]
    with _progress(len(rows), job["cursor"] + 1, job_id, progress) as bar:
        for batch in _batches(todo, rows_per_txn, max_txn_bytes):
            job = _commit(publisher, batch, job, {**job, "cursor": batch[-1].index}, clock)
            done += len(batch)
            bar.update(len(batch))
            if max_rows_per_s and done < len(todo):
                time.sleep(max(0.0, start + done / max_rows_per_s - time.monotonic()))
    return SubmitResult(job_id, len(rows), done, job["cursor"], resumed, job["state"])


def _new_job(
    job_id: str, tenant: str, priority: str, manifest: str, sha: str, rows: int, clock: Callable[[], float]
) -> dict[str, Any]:
    now = int(clock() * 1000)
    return {
        "job_id": job_id,
        "tenant": tenant,
        "priority": priority,
        "manifest": manifest,
        "manifest_sha256": sha,
        "manifest_rows": rows,
        "cursor": -1,
        "published": 0,
        "state": "submitting",
        "resumes": 0,
        **version_snapshot(tenant, priority),
        "created_at_ms": now,
        "updated_at_ms": now,
    }


def _check_resumable(job: Mapping[str, Any], sha: str, tenant: str, priority: str) -> None:
    if job["manifest_sha256"] != sha:
        raise BatchError(
            f"job {job['job_id']} was submitted from another manifest "
            f"({job['manifest']}, sha256 {job['manifest_sha256'][:12]}..., this one "
            f"{sha[:12]}...); give a new --job-id to submit this one as a new job"
        )
    for name, given in (("tenant", tenant), ("priority", priority)):
        if job[name] != given:
            raise BatchError(f"job {job['job_id']} was submitted with {name} {job[name]!r}, not {given!r}")


def _commit(
    publisher: TransactionalPublisher,
    batch: list[Row],
    job: dict[str, Any],
    updated: dict[str, Any],
    clock: Callable[[], float],
) -> dict[str, Any]:
    """One transaction: every part of ``batch`` and the job record that counts them."""
    state = "submitted" if updated["cursor"] == job["manifest_rows"] - 1 else "submitting"
    updated = {
        **updated,
        "published": job["published"] + len(batch),
        "state": state,
        "updated_at_ms": int(clock() * 1000),
    }
    publisher.begin()
    try:
        for row in batch:
            _send_row(publisher, row, job, clock)
        publisher.publish(topics.JOBS, "BatchJob", updated, key=job["job_id"])
        publisher.commit()
    except BaseException:
        publisher.abort()
        raise
    return updated


def _send_row(
    publisher: TransactionalPublisher, row: Row, job: Mapping[str, Any], clock: Callable[[], float]
) -> None:
    from mesh.trace import TraceContext
    from services.ingest.cli import iter_parts

    rid, trace = recording_id_for(job["job_id"], row), TraceContext.new()
    common = {
        "tenant": job["tenant"],
        "source": "cli",
        "priority": row.priority or job["priority"],
        "split_channels": row.split_channels,
        "hints": row.hints,
        "metadata": row_metadata(job["job_id"], row),
    }
    with row.path.open("rb") as stream:
        size = row.path.stat().st_size
        for part in iter_parts(stream, size, (rid, trace.trace_id), row.path.name, PART_SIZE, common, clock):
            publisher.publish(topics.RAW, "RecordingPart", part, key=rid, trace=trace.child())


def _batches(rows: list[Row], per_txn: int, max_bytes: int) -> Iterator[list[Row]]:
    """Rows in order, at most ``per_txn`` and ``max_bytes`` a batch (a bigger file goes alone)."""
    batch: list[Row] = []
    size = 0
    for row in rows:
        if batch and (len(batch) >= per_txn or size + row.size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(row)
        size += row.size
    if batch:
        yield batch


def _progress(total: int, initial: int, job_id: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="row", desc=job_id, file=sys.stderr, disable=not enabled)

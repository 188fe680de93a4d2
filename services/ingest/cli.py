"""Publish audio files to the raw topic as RecordingParts (``stt-mesh publish FILE...``).

Why parts: Kafka brokers cap a message at about 1 MB by default, and call recordings are often
larger, so a file travels as numbered parts keyed by its recording_id (one partition, in
order) that ingest puts back together. Files are read part by part, never whole.
"""

from __future__ import annotations

import mimetypes
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from tqdm import tqdm

from mesh import Output, topics
from mesh.trace import new_trace_id
from services.ingest import events

MAX_PART_SIZE = 1024 * 1024
_TELEPHONY_TYPES = {
    ".ul": "audio/basic",
    ".ulaw": "audio/basic",
    ".mulaw": "audio/basic",
    ".mu": "audio/basic",
    ".al": "audio/x-alaw",
    ".alaw": "audio/x-alaw",
}


def publish_files(
    paths: Iterable[str | os.PathLike[str]],
    publisher: Any,
    *,
    tenant: str = "default",
    priority: str = "batch",
    language: str | None = None,
    num_speakers: int | None = None,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
    split_channels: bool = False,
    channel_roles: Iterable[str] = (),
    metadata: Mapping[str, str] | None = None,
    arm: str | None = None,
    part_size: int = 1_000_000,
    progress: bool = True,
    clock: Callable[[], float] = time.time,
) -> list[tuple[str, str]]:
    """Send each file as RecordingParts through ``publisher.send``; returns (recording_id,
    trace_id) per file, in order. ``publisher`` is a ``mesh.Publisher`` or anything alike."""
    if not 0 < part_size <= MAX_PART_SIZE:
        raise ValueError(f"part_size must be between 1 and {MAX_PART_SIZE} bytes")
    if priority not in events.PRIORITIES:
        raise ValueError(f"priority must be one of {events.PRIORITIES}")
    files = [Path(p) for p in paths]
    hints = events.make_hints(language, num_speakers, min_speakers, max_speakers, channel_roles, arm)
    problem = events.hints_problem(hints)
    if problem:
        raise ValueError(problem)
    common = {
        "tenant": tenant,
        "source": "cli",
        "priority": priority,
        "split_channels": split_channels,
        "hints": hints,
        "metadata": dict(metadata or {}),
    }
    sent = []
    with tqdm(
        total=sum(f.stat().st_size for f in files),
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=not progress,
        desc="publishing",
    ) as bar:
        for path in files:
            ids = (events.new_recording_id(), new_trace_id())
            with path.open("rb") as stream:
                for part in iter_parts(stream, path.stat().st_size, ids, path.name, part_size, common, clock):
                    publisher.send(Output(topic=topics.RAW, schema="RecordingPart", value=part))
                    bar.update(len(part["data"]))
            sent.append(ids)
    publisher.flush()
    return sent


def iter_parts(
    stream: BinaryIO,
    size: int,
    ids: tuple[str, str],
    filename: str,
    part_size: int,
    common: Mapping[str, Any],
    clock: Callable[[], float] = time.time,
) -> Iterator[dict[str, Any]]:
    """RecordingPart dicts for ``size`` bytes read from ``stream``; an empty file is one part."""
    count = max(1, -(-size // part_size))
    for index in range(count):
        yield {
            "recording_id": ids[0],
            "trace_id": ids[1],
            "part": index,
            "part_count": count,
            "filename": filename,
            "content_type": content_type_for(filename),
            "data": stream.read(part_size),
            "produced_at_ms": int(clock() * 1000),
            **common,
        }


def content_type_for(filename: str) -> str | None:
    suffix = Path(filename).suffix.lower()
    return _TELEPHONY_TYPES.get(suffix) or mimetypes.guess_type(filename)[0]

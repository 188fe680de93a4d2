"""Per-recording assembly of AudioChunk events into int16 spill files on disk.

Why on disk: a multi-hour call held as float32 in memory costs ~230 MB per hour per channel,
for every call in flight. Each channel of a recording is one raw s16le file in
``<state_dir>/<sha1(recording_id)>/``; a chunk's *keep window* ``[keep_from_s, keep_until_s)``
is written at its absolute sample offset with ``pwrite``, so overlapping chunk payloads never
duplicate audio and gaps between VAD-cut chunks read back as silence.

Durability and recovery (the at-least-once contract): a chunk's samples are written and
fsync'ed, then one JSON line is appended (and fsync'ed) to ``chunks.log``; only then does
``add`` return, and only then may the caller let the message's offset be stored. On start the
assembler reloads every recording folder: a recording whose spill files exist continues where
it stopped, and a redelivered chunk (same ``seq``) is ignored. A recording closes on its
``is_last`` chunk or after ``timeout_s`` without a new chunk (``partial``), and its SpeakerTurns
value is stored as ``result.json``: a redelivered ``is_last`` re-emits that stored result (the
first emission may not have reached the broker). A new chunk for a recording closed by timeout
reopens it (a later, complete result supersedes the partial one). Finished folders are deleted
``done_retention_s`` after closing. Timeouts restart from process start for reloaded recordings.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mesh.audio import ENCODING, SAMPLE_RATE


@dataclass
class ChannelAudio:
    """One channel's spill file: int16 samples at absolute offsets."""

    path: Path
    num_samples: int
    role: str | None = None

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop) as float32 in [-1, 1); past the end reads as silence."""
        out = np.zeros(max(0, stop - start), dtype=np.float32)
        stop_in = min(stop, self.file_samples())
        if stop_in > start:
            data = np.fromfile(self.path, dtype="<i2", count=stop_in - start, offset=2 * start)
            out[: len(data)] = data.astype(np.float32) / 32768.0
        return out

    def file_samples(self) -> int:
        return self.path.stat().st_size // 2 if self.path.exists() else 0


@dataclass
class ClosedRecording:
    """A recording ready to diarize."""

    recording_id: str
    trace_id: str
    tenant: str
    hints: dict[str, Any]
    channels: dict[int, ChannelAudio]
    partial: bool
    reason: str  # "last" | "timeout"
    chunk_count: int
    chunks_received: int

    @property
    def num_samples(self) -> int:
        return max((c.num_samples for c in self.channels.values()), default=0)


@dataclass
class _State:
    folder: Path
    meta: dict[str, Any]
    seqs: set[int] = field(default_factory=set)
    channels: dict[int, ChannelAudio] = field(default_factory=dict)
    last_seen: bool = False
    closed_reason: str | None = None
    closed_at: float | None = None
    last_activity: float = 0.0


@dataclass
class AddResult:
    ready: ClosedRecording | None = None  # diarize this now
    replay: dict[str, Any] | None = None  # re-emit this stored result


class Assembler:
    def __init__(
        self,
        state_dir: Path,
        timeout_s: float = 600.0,
        done_retention_s: float = 3600.0,
        clock: Callable[[], float] = time.time,
        fsync: bool = True,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.timeout_s = timeout_s
        self.done_retention_s = done_retention_s
        self.clock = clock
        self.fsync = fsync
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._states: dict[str, _State] = {}
        self._reload()

    # -- public -------------------------------------------------------------------------------
    def add(self, chunk: dict[str, Any]) -> AddResult:
        rid = chunk["recording_id"]
        state = self._states.get(rid) or self._open(chunk)
        state.last_activity = self.clock()
        seq = int(chunk["seq"])
        if seq in state.seqs:
            if state.closed_reason is not None:
                stored = self.stored_result(rid)
                return AddResult(replay=stored if chunk.get("is_last") else None)
            return AddResult(ready=self._ready(state, "last") if state.last_seen else None)
        if state.closed_reason is not None:
            if state.closed_reason != "timeout":
                return AddResult()  # a new seq after is_last: nothing to add to
            self._reopen(state)
        self._write(state, chunk)
        if chunk.get("is_last"):
            return AddResult(ready=self._ready(state, "last"))
        return AddResult()

    def expired(self) -> list[ClosedRecording]:
        """Open recordings with no chunk for timeout_s: closed as partial."""
        now = self.clock()
        return [
            self._ready(s, "last" if s.last_seen else "timeout")
            for s in list(self._states.values())
            if s.closed_reason is None and now - s.last_activity >= self.timeout_s
        ]

    def complete(self, recording_id: str, result: dict[str, Any], reason: str) -> None:
        """Store the emitted result; the recording is closed from now on."""
        state = self._states[recording_id]
        _atomic_write(
            state.folder / "result.json",
            json.dumps({"reason": reason, "closed_at": self.clock(), "result": result}),
            self.fsync,
        )
        state.closed_reason, state.closed_at = reason, self.clock()

    def abandon(self, recording_id: str, error: str) -> None:
        """Close a recording whose diarization failed, so sweeps stop retrying it."""
        state = self._states[recording_id]
        _atomic_write(
            state.folder / "result.json",
            json.dumps({"reason": "failed", "closed_at": self.clock(), "error": error, "result": None}),
            self.fsync,
        )
        state.closed_reason, state.closed_at = "failed", self.clock()

    def stored_result(self, recording_id: str) -> dict[str, Any] | None:
        state = self._states.get(recording_id)
        path = state.folder / "result.json" if state else None
        if path is None or not path.exists():
            return None
        stored = json.loads(path.read_text()).get("result")
        return dict(stored) if stored else None

    def collect_garbage(self) -> list[str]:
        """Delete closed recordings older than done_retention_s; returns their ids."""
        now, gone = self.clock(), []
        for rid, state in list(self._states.items()):
            if state.closed_at is not None and now - state.closed_at >= self.done_retention_s:
                shutil.rmtree(state.folder, ignore_errors=True)
                del self._states[rid]
                gone.append(rid)
        return gone

    def open_recordings(self) -> list[str]:
        return [rid for rid, s in self._states.items() if s.closed_reason is None]

    # -- internals ----------------------------------------------------------------------------
    def _open(self, chunk: dict[str, Any]) -> _State:
        rid = chunk["recording_id"]
        folder = self.state_dir / hashlib.sha1(rid.encode()).hexdigest()
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "recording_id": rid,
            "trace_id": chunk.get("trace_id", ""),
            "tenant": chunk.get("tenant", "default"),
            "chunk_count": int(chunk.get("chunk_count", 0)),
            "hints": chunk.get("hints") or {},
        }
        _atomic_write(folder / "meta.json", json.dumps(meta), self.fsync)
        state = _State(folder=folder, meta=meta, last_activity=self.clock())
        self._states[rid] = state
        return state

    def _write(self, state: _State, chunk: dict[str, Any]) -> None:
        rate = int(chunk.get("sample_rate", SAMPLE_RATE))
        if rate != SAMPLE_RATE or chunk.get("encoding", ENCODING) != ENCODING:
            raise ValueError(f"expected 16 kHz s16le audio, got {rate} Hz {chunk.get('encoding')}")
        channel = int(chunk.get("channel", 0))
        pcm = np.frombuffer(chunk["pcm"], dtype="<i2")
        first = round(float(chunk["start_s"]) * rate)
        keep_from = max(first, round(float(chunk.get("keep_from_s", chunk["start_s"])) * rate))
        keep_until = len(pcm) + first
        if chunk.get("keep_until_s") is not None:
            keep_until = min(keep_until, round(float(chunk["keep_until_s"]) * rate))
        path = state.folder / f"ch{channel}.s16"
        if keep_until > keep_from:
            data = pcm[keep_from - first : keep_until - first].tobytes()
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                os.pwrite(fd, data, 2 * keep_from)
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
        entry = {
            "seq": int(chunk["seq"]),
            "channel": channel,
            "role": chunk.get("channel_role"),
            "end": keep_until if keep_until > keep_from else 0,
            "is_last": bool(chunk.get("is_last")),
        }
        with open(state.folder / "chunks.log", "a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")
            log.flush()
            if self.fsync:
                os.fsync(log.fileno())
        self._apply(state, entry)

    def _apply(self, state: _State, entry: dict[str, Any]) -> None:
        state.seqs.add(entry["seq"])
        channel = entry["channel"]
        audio = state.channels.get(channel)
        if audio is None:
            audio = state.channels[channel] = ChannelAudio(state.folder / f"ch{channel}.s16", 0)
        audio.num_samples = max(audio.num_samples, entry["end"])
        audio.role = audio.role or entry.get("role")
        state.last_seen = state.last_seen or entry["is_last"]

    def _ready(self, state: _State, reason: str) -> ClosedRecording:
        meta = state.meta
        roles = list((meta.get("hints") or {}).get("channel_roles") or [])
        channels = {}
        for ch, audio in sorted(state.channels.items()):
            role = audio.role or (roles[ch] if ch < len(roles) else None)
            channels[ch] = ChannelAudio(audio.path, audio.num_samples, role)
        received = len(state.seqs)
        count = int(meta.get("chunk_count") or 0)
        return ClosedRecording(
            recording_id=meta["recording_id"],
            trace_id=meta["trace_id"],
            tenant=meta["tenant"],
            hints=dict(meta.get("hints") or {}),
            channels=channels,
            partial=reason == "timeout" or (count > 0 and received < count),
            reason=reason,
            chunk_count=count,
            chunks_received=received,
        )

    def _reopen(self, state: _State) -> None:
        (state.folder / "result.json").unlink(missing_ok=True)
        state.closed_reason = state.closed_at = None

    def _reload(self) -> None:
        for folder in sorted(p for p in self.state_dir.iterdir() if p.is_dir()):
            try:
                meta = json.loads((folder / "meta.json").read_text())
            except (OSError, ValueError):
                continue  # no meta: the first chunk never completed; it will be redelivered
            state = _State(folder=folder, meta=meta, last_activity=self.clock())
            log = folder / "chunks.log"
            lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
            for line in lines:
                try:
                    self._apply(state, json.loads(line))
                except (ValueError, KeyError):
                    continue  # a torn last line: that chunk will be redelivered
            result = folder / "result.json"
            if result.exists():
                stored = json.loads(result.read_text())
                state.closed_reason = stored.get("reason", "last")
                state.closed_at = float(stored.get("closed_at", self.clock()))
            self._states[meta["recording_id"]] = state


def _atomic_write(path: Path, text: str, fsync: bool) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        if fsync:
            os.fsync(fh.fileno())
    os.replace(tmp, path)

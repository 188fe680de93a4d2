"""Per-recording join of ChunkTranscripts and SpeakerTurns for the recording-scope redaction.

Why the join lives in the redaction service: the recording-scope output must be redacted over
the whole call (a name said in one chunk and spelled in the next, a card number read across
a segment boundary) and must be speaker-attributed. Both need the raw words of every chunk
plus the speaker turns in one place *before* redaction. The raw transcript topic is the only
place raw text may live; the sink and the LLM apps read redacted text only, and diarization
never sees text. So the one service already trusted with raw text collects a recording's
chunks and turns, attributes words to speakers, redacts once and emits once.

Completion rules: transcripts are complete when seqs 0..chunk_count-1 have all been seen
(duplicates from at-least-once delivery are ignored). With diarization enabled the output
waits for the recording's SpeakerTurns, at most ``turns_timeout_s`` after the transcripts
completed, then goes out without speakers. Without diarization it goes out as soon as the
transcripts are complete. A recording whose transcripts never complete is forgotten after
``max_age_s`` (counted in ``dropped``).

State is in memory and rebuilt after a restart: the handler holds every message that joins a
pending recording (``msg.hold()``), so the mesh loop commits offsets only up to the first held
one, and the held messages are redelivered after a crash; they are released once the
recording is emitted or given up (see app.py).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Attribute = Callable[[list[dict], list[dict]], list[dict]]


def default_attribute() -> Attribute:
    """Word-to-speaker attribution by turn overlap (``services.redact.attribution``)."""
    from services.redact.attribution import attribute_words

    return attribute_words


@dataclass(frozen=True)
class AssembledRecording:
    recording_id: str
    trace_id: str
    tenant: str
    language: str | None
    words: list[dict[str, Any]]
    speakers: str  # "turns" (diarization), "words" (speaker already on words) or "none"
    chunk_count: int


@dataclass
class _Pending:
    recording_id: str
    first_seen: float
    trace_id: str = ""
    tenant: str = "default"
    language: str | None = None
    chunk_count: int | None = None
    chunks: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    seqs: set[int] = field(default_factory=set)
    turns: dict[str, Any] | None = None
    complete_at: float | None = None

    @property
    def complete(self) -> bool:
        return self.chunk_count is not None and self.seqs.issuperset(range(self.chunk_count))


class RecordingAssembler:
    def __init__(
        self,
        *,
        diarization_enabled: bool = True,
        turns_timeout_s: float = 120.0,
        max_age_s: float = 3600.0,
        max_pending: int = 10_000,
        attribute: Attribute | None = None,
        remember_done: int = 50_000,
        expect_turns: Callable[[], bool] | None = None,
    ):
        """``expect_turns`` (when given) says, each time it matters, whether speaker turns are
        coming at all (a diarizer is deployed); ``diarization_enabled`` is the fixed answer."""
        self.diarization_enabled = diarization_enabled
        self.expect_turns = expect_turns or (lambda: self.diarization_enabled)
        self.turns_timeout_s, self.max_age_s = turns_timeout_s, max_age_s
        self.max_pending, self.remember_done = max_pending, remember_done
        self.attribute = (
            attribute if attribute is not None else (default_attribute() if diarization_enabled else None)
        )
        self._pending: dict[str, _Pending] = {}
        self._done: OrderedDict[str, None] = OrderedDict()
        self.dropped = 0  # recordings forgotten before their transcripts completed
        self.late = 0  # events for recordings already emitted
        self.duplicates = 0

    def __len__(self) -> int:
        return len(self._pending)

    def add_transcript(self, chunk: dict[str, Any], now: float | None = None) -> list[AssembledRecording]:
        now = time.monotonic() if now is None else now
        p = self._get(chunk["recording_id"], chunk, now)
        if p is None:
            return []
        key = (int(chunk.get("channel", 0)), int(chunk["seq"]))
        if key in p.chunks:
            self.duplicates += 1
            return []
        p.chunks[key] = chunk
        p.seqs.add(key[1])
        p.chunk_count = max(p.chunk_count or 0, int(chunk["chunk_count"]))
        p.language = p.language or chunk.get("language")
        return self._maybe_emit(p, now)

    def add_turns(self, turns: dict[str, Any], now: float | None = None) -> list[AssembledRecording]:
        now = time.monotonic() if now is None else now
        p = self._get(turns["recording_id"], turns, now)
        if p is None:
            return []
        p.turns = turns
        return self._maybe_emit(p, now)

    def pending_ids(self) -> set[str]:
        """Recordings still being assembled (their messages stay uncommitted)."""
        return set(self._pending)

    def expire(self, now: float | None = None) -> list[AssembledRecording]:
        """Emit recordings whose turns did not come in time; forget stale incomplete ones.
        The worker calls this once per batch and on the loop's tick."""
        now = time.monotonic() if now is None else now
        out = []
        for p in list(self._pending.values()):
            if p.complete_at is not None and (
                now - p.complete_at >= self.turns_timeout_s or not self.expect_turns()
            ):
                out.append(self._emit(p))
            elif p.complete_at is None and now - p.first_seen >= self.max_age_s:
                self._forget(p)
        return out

    # -- internals ------------------------------------------------------------------------
    def _get(self, rid: str, event: dict[str, Any], now: float) -> _Pending | None:
        if rid in self._done:
            self.late += 1
            return None
        p = self._pending.get(rid)
        if p is None:
            if len(self._pending) >= self.max_pending:
                self._forget(min(self._pending.values(), key=lambda q: q.first_seen))
            p = self._pending[rid] = _Pending(rid, now)
        p.trace_id = p.trace_id or event.get("trace_id", "")
        p.tenant = event.get("tenant", p.tenant) or p.tenant
        return p

    def _maybe_emit(self, p: _Pending, now: float) -> list[AssembledRecording]:
        if not p.complete:
            return []
        p.complete_at = p.complete_at if p.complete_at is not None else now
        if p.turns is None and self.expect_turns():
            return []
        return [self._emit(p)]

    def _forget(self, p: _Pending) -> None:
        self.dropped += 1
        del self._pending[p.recording_id]

    def _emit(self, p: _Pending) -> AssembledRecording:
        del self._pending[p.recording_id]
        self._done[p.recording_id] = None
        while len(self._done) > self.remember_done:
            self._done.popitem(last=False)
        words = recording_words(p.chunks)
        speakers = "words" if any(w.get("speaker") for w in words) else "none"
        turns = (p.turns or {}).get("turns") or []
        if turns and self.attribute is not None:
            words = self.attribute(words, turns)
            speakers = "turns"
        return AssembledRecording(
            p.recording_id, p.trace_id, p.tenant, p.language, words, speakers, p.chunk_count or 0
        )


def recording_words(chunks: dict[tuple[int, int], dict[str, Any]]) -> list[dict[str, Any]]:
    """Every word of a recording in time order, each tagged with its channel. A segment
    without word timestamps becomes one pseudo-word spanning the segment."""
    words: list[dict[str, Any]] = []
    for (channel, _seq), chunk in sorted(chunks.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        words.extend(segment_words(chunk.get("segments") or [], channel))
    words.sort(key=lambda w: (w["start_s"], w["end_s"]))
    return words


def segment_words(segments: list[dict[str, Any]], channel: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for seg in segments:
        if seg.get("words"):
            out.extend({**w, "channel": channel} for w in seg["words"])
        elif seg.get("text", "").strip():
            out.append(
                {
                    "word": seg["text"],
                    "start_s": seg["start_s"],
                    "end_s": seg["end_s"],
                    "probability": 1.0,
                    "speaker": None,
                    "channel": channel,
                }
            )
    return out

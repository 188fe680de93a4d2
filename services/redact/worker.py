"""PII redaction of transcripts, with no Kafka in sight (``app.py`` wires it to topics).

Two scopes:
* ``segment``: one RedactedTranscript per ChunkTranscript, redacted as soon as it arrives
  (realtime consumers; context is the chunk's own segments).
* ``recording``: one RedactedTranscript per recording once its chunks (and speaker turns)
  are in (see ``assembly.py``), redacted over the whole speaker-attributed call so names and
  numbers that cross segment boundaries are caught. Its segments are runs of one speaker.

The text that is analysed is rebuilt from the ASR words (joined by spaces, groups by
newlines), so every character maps back to a word and every entity gets the audio times of
the words it covers. Only redacted text is put on the outputs.
"""

from __future__ import annotations

import bisect
import time
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from services.redact import assembly, catch_all, policy
from services.redact.analyzer import Detector
from services.redact.config import RedactSettings

TAIL_WORDS = 12  # words of the previous chunk kept as cue context for the next one
_NO_SPACE_BEFORE = (",", ".", "?", "!", ";", ":", "'s", "n't", "'re", "'ll", "'ve", "'d", "%")


@dataclass(frozen=True)
class Group:
    """A run of words that becomes one RedactedSegment."""

    start: int
    end: int
    speaker: str | None
    channel: int
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Layout:
    """The analysed text, where each word sits in it, and the output segment groups."""

    text: str
    word_starts: list[int]
    word_ends: list[int]
    word_times: list[tuple[float, float]]
    groups: list[Group]

    def audio_span(self, start: int, end: int) -> tuple[float | None, float | None]:
        """Audio times of the words overlapping characters [start, end)."""
        i = bisect.bisect_right(self.word_ends, start)
        j = bisect.bisect_left(self.word_starts, end)
        times = self.word_times[i:j]
        if not times:
            return None, None
        return min(t[0] for t in times), max(t[1] for t in times)


def build_layout(groups: Sequence[Sequence[dict[str, Any]]]) -> Layout:
    """Lay groups of ASR words out as text: words joined by spaces, groups by newlines."""
    parts: list[str] = []
    starts, ends, times, out_groups = [], [], [], []
    pos = 0
    for words in groups:
        words = [w for w in words if str(w.get("word", "")).strip()]
        if not words:
            continue
        if parts:
            parts.append("\n")
            pos += 1
        g_start = pos
        for k, w in enumerate(words):
            token = str(w["word"]).strip()
            if k and not token.startswith(_NO_SPACE_BEFORE):
                parts.append(" ")
                pos += 1
            parts.append(token)
            starts.append(pos)
            ends.append(pos + len(token))
            times.append((float(w["start_s"]), float(w["end_s"])))
            pos += len(token)
        first, last = words[0], words[-1]
        out_groups.append(
            Group(
                g_start,
                pos,
                first.get("speaker"),
                int(first.get("channel", 0)),
                float(first["start_s"]),
                float(last["end_s"]),
            )
        )
    return Layout("".join(parts), starts, ends, times, out_groups)


def speaker_runs(words: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Consecutive words of one speaker (and channel)."""
    runs: list[list[dict[str, Any]]] = []
    for w in words:
        key = (w.get("speaker"), w.get("channel", 0))
        if runs and (runs[-1][-1].get("speaker"), runs[-1][-1].get("channel", 0)) == key:
            runs[-1].append(w)
        else:
            runs.append([w])
    return runs


def chunk_layout(chunk: dict[str, Any]) -> Layout:
    """Segment scope: one group per ASR segment (split further where the speaker changes)."""
    channel = int(chunk.get("channel", 0))
    groups: list[list[dict[str, Any]]] = []
    for seg in chunk.get("segments") or []:
        groups.extend(speaker_runs(assembly.segment_words([seg], channel)))
    return build_layout(groups)


def recording_layout(words: Sequence[dict[str, Any]]) -> Layout:
    return build_layout(speaker_runs(words))


@dataclass(frozen=True)
class Redaction:
    """One output event plus what the app feeds to metrics."""

    event: dict[str, Any]
    entity_counts: dict[str, int]
    scope: str


@dataclass(frozen=True)
class _Job:
    index: int  # which input message it answers
    scope: str
    layout: Layout
    policy: policy.Policy
    meta: dict[str, Any]  # recording_id, trace_id, tenant, seq, language
    context: tuple[str, ...] = ()  # last words of the previous chunk (segment scope)


def redacted_event(job: _Job, applied: policy.Applied, now_ms: int) -> dict[str, Any]:
    layout, text = job.layout, applied.text
    segments = []
    for g in layout.groups:
        seg_text = text[applied.map_offset(g.start) : applied.map_offset(g.end)].strip()
        if seg_text:
            segments.append(
                {
                    "speaker": g.speaker,
                    "start_s": g.start_s,
                    "end_s": g.end_s,
                    "text": seg_text,
                    "channel": g.channel,
                }
            )
    entities = []
    for r in applied.replaced:
        start_s, end_s = layout.audio_span(r.start, r.end)
        entities.append(
            {
                "entity_type": r.entity_type,
                "score": round(r.score, 4),
                "start_char": r.new_start,
                "end_char": r.new_end,
                "start_s": start_s,
                "end_s": end_s,
                "operator": r.operator,
            }
        )
    counts = dict(Counter(r.entity_type for r in applied.replaced))
    return {
        **job.meta,
        "scope": job.scope,
        "text": text,
        "segments": segments,
        "entities": entities,
        "entity_counts": counts,
        "policy_name": job.policy.name,
        "policy_version": job.policy.version,
        "produced_at_ms": now_ms,
    }


class RedactWorker:
    """Turns ChunkTranscript / SpeakerTurns values into RedactedTranscript values.

    Dependencies are injected; ``None`` builds the real ones from ``settings``.
    """

    def __init__(
        self,
        settings: RedactSettings | None = None,
        *,
        detector: Detector | None = None,
        policies: policy.PolicyBook | None = None,
        assembler: assembly.RecordingAssembler | None = None,
        clock: Callable[[], float] = time.time,
        expect_turns: Callable[[], bool] | None = None,
    ):
        self.settings = settings or RedactSettings()
        s = self.settings
        self.detector = detector or Detector(model=s.model, ner_gate=s.ner_gate)
        self.policies = policies or policy.PolicyBook.from_file(
            s.policies_file,
            key=s.hash_key.get_secret_value().encode() if s.hash_key else None,
            salts={t: v.get_secret_value().encode() for t, v in s.hash_salts.items()},
        )
        if s.diarization_enabled is not None:  # a fixed answer overrides what is deployed
            expect_turns = None
        self.assembler = assembler or assembly.RecordingAssembler(
            diarization_enabled=s.diarization_enabled is not False,
            turns_timeout_s=s.turns_timeout_s,
            max_age_s=s.max_recording_age_s,
            max_pending=s.max_pending_recordings,
            expect_turns=expect_turns,
        )
        self.clock = clock
        self._tails: OrderedDict[str, tuple[int, tuple[str, ...]]] = OrderedDict()

    # -- entry points ---------------------------------------------------------------------
    def on_transcript(self, chunk: dict[str, Any]) -> list[Redaction]:
        return self._one("stt.v1.ChunkTranscript", chunk)

    def on_turns(self, turns: dict[str, Any]) -> list[Redaction]:
        return self._one("stt.v1.SpeakerTurns", turns)

    def tick(self) -> list[Redaction]:
        """Recordings whose speaker turns timed out (call when idle)."""
        jobs = self._recording_jobs(0, self.assembler.expire(self.clock()))
        return [r for _, r in self._run(jobs)]

    def handle(self, items: Sequence[tuple[str, dict[str, Any]]]) -> list[list[Redaction] | Exception]:
        """Redact a batch of (schema, value) events; one result (or exception) per event.
        All texts of the batch go through the NER model together."""
        now = self.clock()
        results: list[list[Redaction] | Exception] = [[] for _ in items]
        jobs: list[_Job] = []
        for i, (schema, value) in enumerate(items):
            try:
                jobs += self._jobs_for(i, schema, value, now)
            except (KeyError, TypeError, ValueError) as exc:
                results[i] = exc
        ok = [i for i, r in enumerate(results) if not isinstance(r, Exception)]
        if ok:
            jobs += self._recording_jobs(ok[-1], self.assembler.expire(now))
        for index, redaction in self._run(jobs):
            out = results[index]
            assert isinstance(out, list)
            out.append(redaction)
        return results

    # -- internals ------------------------------------------------------------------------
    def _one(self, schema: str, value: dict[str, Any]) -> list[Redaction]:
        result = self.handle([(schema, value)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def _jobs_for(self, i: int, schema: str, value: dict[str, Any], now: float) -> list[_Job]:
        jobs = []
        if schema.endswith("ChunkTranscript"):
            if self._wants_segment_scope(value):
                meta = {**_meta(value), "seq": int(value["seq"])}
                layout = chunk_layout(value)
                context = self._previous_tail(meta["recording_id"], meta["seq"], layout.text)
                jobs.append(_Job(i, "segment", layout, self._policy(value), meta, context))
            ready = self.assembler.add_transcript(value, now) if self.settings.recording_scope else []
        elif schema.endswith("SpeakerTurns"):
            ready = self.assembler.add_turns(value, now) if self.settings.recording_scope else []
        else:
            raise ValueError(f"redact does not handle {schema}")
        return jobs + self._recording_jobs(i, ready)

    def _recording_jobs(self, i: int, ready: list[assembly.AssembledRecording]) -> list[_Job]:
        return [
            _Job(
                i,
                "recording",
                recording_layout(rec.words),
                self.policies.for_tenant(rec.tenant),
                {
                    "recording_id": rec.recording_id,
                    "trace_id": rec.trace_id,
                    "tenant": rec.tenant,
                    "seq": None,
                    "language": rec.language,
                },
            )
            for rec in ready
        ]

    def _previous_tail(self, rid: str, seq: int, text: str) -> tuple[str, ...]:
        """Remember this chunk's last words; return the previous chunk's, if it was seq-1."""
        prev = self._tails.pop(rid, None)
        self._tails[rid] = (seq, tuple(text.split()[-TAIL_WORDS:]))
        while len(self._tails) > self.settings.max_pending_recordings:
            self._tails.popitem(last=False)
        return prev[1] if prev is not None and prev[0] == seq - 1 else ()

    def _wants_segment_scope(self, chunk: dict[str, Any]) -> bool:
        mode = self.settings.segment_scope
        return mode == "all" or (mode == "realtime" and chunk.get("priority") == "realtime")

    def _policy(self, value: dict[str, Any]) -> policy.Policy:
        return self.policies.for_tenant(value.get("tenant") or "default")

    def _run(self, jobs: list[_Job]) -> list[tuple[int, Redaction]]:
        by_policy: dict[tuple, list[_Job]] = defaultdict(list)
        for job in jobs:
            by_policy[(job.policy.entities, job.policy.score_threshold)].append(job)
        now_ms = int(self.clock() * 1000)
        done: dict[int, tuple[int, Redaction]] = {}
        for (entities, threshold), group in by_policy.items():
            found = self.detector.detect_many([j.layout.text for j in group], entities, threshold)
            for job, detections in zip(group, found, strict=True):
                spans = [(d.entity_type, d.start, d.end, d.score) for d in detections]
                if job.scope == "segment":
                    spans += self._fragments(job, spans)
                applied = policy.apply(job.policy, job.layout.text, sorted(spans, key=lambda x: x[1]))
                event = redacted_event(job, applied, now_ms)
                done[id(job)] = (job.index, Redaction(event, event["entity_counts"], job.scope))
        return [done[id(job)] for job in jobs]

    @staticmethod
    def _fragments(job: _Job, spans: list[tuple[str, int, int, float]]) -> list:
        wanted = set(job.policy.entities)
        found = catch_all.edge_fragments(job.layout.text, [(s, e) for _, s, e, _ in spans], job.context)
        extra = [(m.entity, m.start, m.end, m.score) for m in found if m.entity in wanted]
        return sorted(extra, key=lambda x: x[1]) if extra else []


def _meta(value: dict[str, Any]) -> dict[str, Any]:
    return {
        "recording_id": value["recording_id"],
        "trace_id": value.get("trace_id", ""),
        "tenant": value.get("tenant") or "default",
        "language": value.get("language"),
    }

"""Wiring of the call-summary example: RecordingMetadata and recording-scope
RedactedTranscripts in, one LlmOutcome (task "summary") per call out, keyed by trace_id.

The app joins two topics per recording (both keyed by recording_id): the metadata carries
the summary checklist, the transcript the text. Whichever arrives first waits in memory and
its message is *held* (left uncommitted, see ``mesh.loop``); the one that completes the pair
releases both, in the round whose outcome the loop flushes before storing offsets. A crash
therefore replays the half-joined pairs, and an outcome is never lost, though it may be sent
twice (at least once: the sink keeps the latest per trace and task).

A transcript whose metadata does not come within ``metadata_wait_s`` is judged without a
checklist; metadata whose transcript does not come within ``max_wait_s`` is forgotten.
Segment-scope transcripts and RecordingFailed events end nothing but their own message.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from examples.call_summary.config import SummarySettings
from examples.call_summary.summary import MODEL, checklist_of, cost_usd, judge, summarize
from mesh import MeshSettings, Message, Output, Processor, topics
from mesh.trace import is_trace_id
from stt_mesh.outcome import llm_outcome, outcome_output

log = logging.getLogger(__name__)

SERVICE = "call-summary"
TASK = "summary"

Pending = OrderedDict[str, tuple[float, dict[str, Any]]]


class Handler:
    """One message in, the outcomes it completes out; ``tick`` handles the timeouts."""

    def __init__(self, settings: SummarySettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings, self.clock = settings, clock
        self.release: Callable[[str], None] = lambda rid: None  # set to Processor.release
        self.metadata: Pending = OrderedDict()  # recording_id -> (arrived, RecordingMetadata)
        self.transcripts: Pending = OrderedDict()  # recording_id -> (arrived, RedactedTranscript)
        self.done: OrderedDict[str, dict[str, Any] | None] = OrderedDict()  # for redeliveries

    def __call__(self, msg: Message) -> list[Output]:
        kind, rid = msg.schema.rsplit(".", 1)[-1], msg.value.get("recording_id", "")
        if kind == "RecordingMetadata":
            return self._on_metadata(msg, rid)
        if kind == "RedactedTranscript" and msg.value.get("scope") == "recording":
            return self._on_transcript(msg, rid)
        if kind == "RecordingFailed" and self.metadata.pop(rid, None) is not None:
            msg.release_key()
        return []

    def _on_metadata(self, msg: Message, rid: str) -> list[Output]:
        if rid in self.transcripts:
            msg.release_key()
            return [self._finish(rid, self.transcripts.pop(rid)[1], msg.value)]
        if rid not in self.done:  # a replayed metadata of a finished call holds nothing
            self._wait(self.metadata, rid, msg)
        return []

    def _on_transcript(self, msg: Message, rid: str) -> list[Output]:
        transcript = msg.value
        if not is_trace_id(transcript.get("trace_id")):
            transcript = {**transcript, "trace_id": msg.trace_id}
        if rid in self.metadata:
            msg.release_key()
            return [self._finish(rid, transcript, self.metadata.pop(rid)[1])]
        if rid in self.done:  # a redelivered transcript is judged as it was the first time
            return [self._finish(rid, transcript, self.done[rid])]
        self._wait(self.transcripts, rid, msg, transcript)
        return []

    def _wait(self, pending: Pending, rid: str, msg: Message, value: dict[str, Any] | None = None) -> None:
        msg.hold()
        pending[rid] = (self.clock(), value if value is not None else msg.value)
        while len(pending) > self.settings.max_pending:
            oldest, _ = pending.popitem(last=False)
            log.warning("too many recordings waiting; %s dropped from the join", oldest)
            self.release(oldest)

    def tick(self, proc: Processor | None = None) -> list[Output]:
        """Judge transcripts whose metadata is late; forget metadata whose transcript is."""
        now, outputs = self.clock(), []
        for rid, (arrived, transcript) in list(self.transcripts.items()):
            if now - arrived >= self.settings.metadata_wait_s:
                del self.transcripts[rid]
                log.info(
                    "%s: no RecordingMetadata after %.0f s; judged without a checklist",
                    rid,
                    self.settings.metadata_wait_s,
                )
                outputs.append(self._finish(rid, transcript, None))
                self.release(rid)
        for rid, (arrived, _) in list(self.metadata.items()):
            if now - arrived >= self.settings.max_wait_s:
                del self.metadata[rid]
                self.release(rid)
        return outputs

    def _finish(self, rid: str, transcript: Mapping[str, Any], metadata: dict[str, Any] | None) -> Output:
        self.done[rid] = metadata
        while len(self.done) > self.settings.max_pending:
            self.done.popitem(last=False)
        return outcome_output(self.outcome(transcript, metadata))

    def outcome(self, transcript: Mapping[str, Any], metadata: Mapping[str, Any] | None) -> dict[str, Any]:
        """Summarise and judge one call; latency is the wall time of exactly that."""
        s = self.settings
        started = time.perf_counter()
        summary = summarize(transcript, s.max_units)
        verdict = judge(
            summary, checklist_of(metadata), threshold=s.threshold, min_content_words=s.min_content_words
        )
        latency_ms = (time.perf_counter() - started) * 1000
        log.info(
            "%s: accepted=%s score=%.3f (%s)\n%s",
            transcript["recording_id"],
            verdict.accepted,
            verdict.score,
            verdict.reason,
            summary.render(),
        )
        return llm_outcome(
            transcript["trace_id"],
            task=TASK,
            accepted=verdict.accepted,
            score=verdict.score,
            recording_id=transcript["recording_id"],
            tenant=transcript.get("tenant") or "default",
            latency_ms=latency_ms,
            model=MODEL,
            cost_usd=cost_usd(transcript.get("text", ""), summary.text, s.price_per_1k_tokens_usd),
        )


def build_processor(
    settings: SummarySettings | None = None,
    mesh_settings: MeshSettings | None = None,
    **processor_kwargs: Any,
) -> Processor:
    settings = settings or SummarySettings()
    handler = Handler(settings)
    proc = Processor(
        mesh_settings or MeshSettings(),
        service=SERVICE,
        topics=[topics.RECORDINGS, topics.REDACTED],
        group_id=settings.group_id,
        handler=handler,
        tick=handler.tick,
        **processor_kwargs,
    )
    handler.release = proc.release
    return proc


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    build_processor().run()

"""The ASR worker: a batch of AudioChunk dicts in, one ChunkTranscript dict (or error) each.

No Kafka here (``app.py`` wires it), so the whole path is testable with a fake engine. Per
batch:

1. decode the PCM, look up the tenant's prompt/hotwords, skip digitally silent chunks, pick
   the rollout arm of the chunk's recording (``rollout.Router``: a candidate arm's chunks go
   to the candidate model), and route control chunks whose SNR is below ``low_snr_db`` to the
   low-SNR model when one is set;
2. decode each route's chunks together (one batched call per model, so a batch mixing arms
   makes one call per arm), main and candidate models under the pool's time budget;
3. on a batch error, retry the chunks one by one (a single bad chunk must not take the batch
   down); a chunk that still fails, or a batch over budget, goes to the fallback model and the
   event says so (``fallback_used``, ``fallback_reason``, and the fallback's ``model``);
4. apply hallucination guards (repetition loops included) to what came back;
5. measure speech coverage on the keep window; decode every uncovered stretch of speech again
   (``recover.py``), batched across chunks, up to ``coverage.redecode_passes`` rounds with the
   chunk's model and one with the fallback; a chunk still under ``coverage.min_coverage`` is
   flagged ``low_coverage``;
6. move words onto the recording timeline, keep only the words the chunk's keep window owns,
   and build the event with its arm, the chunk's audio stats, coverage, queue time,
   processing time, RTF.

A candidate chunk that fails or times out goes to the same fallback as a control chunk and
keeps its arm (``arm`` says who was meant to decode it, ``model`` who did).

A main-model call that overran its budget keeps running in its thread (CTranslate2 cannot be
interrupted); until it returns, further batches for that model go straight to the fallback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mesh.audio import SAMPLE_RATE
from mesh.settings import MeshSettings
from services.asr import events, guards, heap, recover, timeline
from services.asr.audio import pcm_to_float
from services.asr.config import Arm, AsrSettings, Pool
from services.asr.coverage import Span
from services.asr.engine import MAX_WINDOW_S, Engine
from services.asr.results import Decoded, DecodeRequest
from services.asr.rollout import CANDIDATE, CONTROL, Router

log = logging.getLogger(__name__)


class DecodeTimeout(TimeoutError):
    """The main model did not finish a batch within the pool's budget."""


class DecodeFailed(RuntimeError):
    """Neither the main nor the fallback model could decode a chunk."""


@dataclass(frozen=True, slots=True)
class ChunkJob:
    chunk: dict[str, Any]
    trace_id: str | None = None
    produced_at_ms: int | None = None
    retries: int = 0


@dataclass(slots=True)
class _Item:
    """A chunk in flight through one ``transcribe`` call."""

    index: int
    job: ChunkJob
    audio: np.ndarray
    request: DecodeRequest
    engine: Engine
    arm: Arm = CONTROL
    notes: dict[str, str] = field(default_factory=dict)
    decoded: Decoded | None = None
    fallback_reason: str | None = None
    attempts: int = 0
    done_at: float = 0.0
    error: Exception | None = None
    redecodes: int = 0  # gap decodes that added words
    tried: set[tuple[int, Span]] = field(default_factory=set)  # (engine, gap) decoded already


class AsrWorker:
    """``AsrWorker()`` builds the configured models; tests inject engines instead.

    When ``engine`` is given, only the engines passed in are used (no fallback unless
    ``fallback`` is given too, no candidate arm unless ``candidate`` is), so a test never
    loads weights by accident. ``router`` defaults to one built from ``settings.rollout``.
    """

    def __init__(
        self,
        engine: Engine | None = None,
        fallback: Engine | None = None,
        *,
        low_snr: Engine | None = None,
        candidate: Engine | None = None,
        settings: AsrSettings | None = None,
        pool: Pool | None = None,
        router: Router | None = None,
        clock: Callable[[], float] = time.time,
        work_budget_s: float | None = None,
    ) -> None:
        self.settings = settings or AsrSettings()
        self.pool: Pool = pool or self.settings.pool
        if engine is None:
            from services.asr.factory import build_engines

            built = build_engines(self.settings, self.pool)
            engine, fallback, low_snr = built.main, built.fallback, built.low_snr
            candidate = built.candidate
        if fallback is engine:
            fallback = None  # the same weights would fail the same way
        if low_snr is engine:
            low_snr = None  # routing to the main model is no routing
        if candidate is engine:
            candidate = None  # nothing to compare
        self.engine, self.fallback, self.low_snr, self.candidate = engine, fallback, low_snr, candidate
        self.router = router or self._router(candidate)
        self._overrides = ",".join(
            f"{k}={getattr(self.settings.candidate_options(), k)}"
            for k in sorted(self.settings.rollout.decode_overrides())
        )
        budget = self.settings.pool_settings(self.pool).timeout_s
        if budget is None:  # derived from the poll interval (MeshSettings.work_budget_s)
            budget = work_budget_s or MeshSettings.model_construct().work_budget_s()
        self.timeout_s = budget if fallback is not None else None
        self._clock = clock
        self._executors: dict[int, ThreadPoolExecutor] = {}
        self._stuck: dict[int, Future[list[Decoded]]] = {}

    # -- public -----------------------------------------------------------------------------
    def transcribe(self, jobs: Sequence[ChunkJob]) -> list[dict[str, Any] | Exception]:
        """One ChunkTranscript dict per job, same order; an Exception where a job failed."""
        started_ms, t0 = self._clock() * 1000.0, time.perf_counter()
        out: list[dict[str, Any] | Exception] = []
        items: list[_Item] = []
        for index, job in enumerate(jobs):
            try:
                items.append(self._prepare(index, job))
                out.append({})
            except Exception as exc:  # bad payload: that chunk alone goes to the DLQ
                out.append(exc)
        for engine, pending in _routes([it for it in items if "skipped" not in it.notes]):
            self._decode(engine, pending)
        self._recover([it for it in items if it.decoded is not None and it.error is None])
        for it in items:
            try:
                out[it.index] = self._finish(it, started_ms, t0, len(jobs))
            except Exception as exc:  # e.g. a chunk without keep window fields
                out[it.index] = exc
        if self.settings.trim_heap:
            heap.trim()  # what decoding freed goes back to the system (services/asr/heap.py)
        return out

    def close(self) -> None:
        for executor in self._executors.values():
            executor.shutdown(wait=False, cancel_futures=True)

    def _router(self, candidate: Engine | None) -> Router:
        rollout = self.settings.rollout
        if candidate is None:  # configured but not loaded (a test's engines): control only
            return Router(rollout.model_copy(update={"candidate_model": None}))
        return Router(rollout, model_name=candidate.info.name)

    # -- preparing --------------------------------------------------------------------------
    def _prepare(self, index: int, job: ChunkJob) -> _Item:
        chunk = job.chunk
        audio = pcm_to_float(
            chunk["pcm"], chunk.get("encoding", "s16le"), chunk.get("sample_rate", SAMPLE_RATE)
        )
        if len(audio) / SAMPLE_RATE > MAX_WINDOW_S + 0.01:
            raise ValueError(f"chunk of {len(audio) / SAMPLE_RATE:.2f} s exceeds {MAX_WINDOW_S:.0f} s")
        hints = chunk.get("hints") or {}
        prompt = self.settings.prompt_for(chunk.get("tenant", "default"))
        request = DecodeRequest(audio, hints.get("language"), prompt.initial_prompt, prompt.hotwords)
        item = _Item(index, job, audio, request, self.engine)
        self._route(item, hints.get("arm"))
        if guards.is_silent(audio, self.settings.guards):
            item.notes["skipped"] = "silent_chunk"
        return item

    def _route(self, item: _Item, arm_hint: str | None) -> None:
        """The candidate arm takes the whole recording; control chunks may go to low-SNR."""
        chunk = item.job.chunk
        if arm_hint is not None:
            item.notes["arm_hint"] = str(arm_hint)
        item.arm = self.router.arm_for(chunk["recording_id"], chunk.get("tenant", "default"), arm_hint)
        if item.arm == CANDIDATE:
            if self.candidate is not None:
                item.engine = self.candidate
                return
            item.arm = CONTROL  # an injected router that knows a candidate this worker lacks
        snr = (chunk.get("stats") or {}).get("snr_db")
        limit = self.settings.low_snr_db
        if self.low_snr is not None and limit is not None and snr is not None and snr < limit:
            item.engine = self.low_snr
            item.notes["routed"] = f"low_snr: snr_db {snr:.1f} < {limit:.1f}"

    # -- decoding ---------------------------------------------------------------------------
    def _decode(self, engine: Engine, items: list[_Item]) -> None:
        failed = self._try_main(engine, items)
        if failed:
            self._fall_back(failed)  # all of them at once: the fallback batches too

    def _try_main(self, engine: Engine, items: list[_Item]) -> list[_Item]:
        """Decode with the main model; return the items it failed on, each with its reason."""
        try:
            results = self._run_main(engine, [it.request for it in items])
        except DecodeTimeout as exc:
            return _failed(items, f"timeout: {exc}")
        except Exception as exc:
            log.warning("%s failed on %d chunk(s): %r", engine.info.name, len(items), exc)
            if len(items) == 1:
                return _failed(items, f"error: {type(exc).__name__}: {exc}")
            return [bad for it in items for bad in self._try_main(engine, [it])]  # the culprits
        self._store(items, results, engine)
        return []

    def _run_main(self, engine: Engine, requests: list[DecodeRequest]) -> list[Decoded]:
        if self.timeout_s is None:
            return engine.transcribe_batch(requests)
        stuck = self._stuck.get(id(engine))
        if stuck is not None and not stuck.done():
            raise DecodeTimeout(f"{engine.info.name} still busy with a batch over budget")
        executor = self._executors.setdefault(
            id(engine), ThreadPoolExecutor(1, thread_name_prefix=f"asr-{engine.info.name}")
        )
        future = executor.submit(engine.transcribe_batch, requests)
        try:
            return future.result(timeout=self.timeout_s)
        except FutureTimeout:
            self._stuck[id(engine)] = future
            raise DecodeTimeout(f"{engine.info.name} exceeded {self.timeout_s:g} s") from None

    def _fall_back(self, items: list[_Item]) -> None:
        for it in items:
            it.attempts += 1
        fallback = self.fallback
        if fallback is None:
            for it in items:
                self._fail([it], _failure(it, "main model failed, no fallback model: "))
            return
        usable = [it for it in items if self._fallback_speaks(fallback, it)]
        for it in items:
            if it not in usable:
                self._fail([it], _failure(it, "", f"; fallback {fallback.info.name} is English-only"))
        self._decode_fallback(fallback, usable)

    def _decode_fallback(self, fallback: Engine, items: list[_Item]) -> None:
        if not items:
            return
        try:
            results = fallback.transcribe_batch([it.request for it in items])
        except Exception as exc:
            if len(items) == 1:
                self._fail(items, DecodeFailed(f"{items[0].fallback_reason}; fallback failed too: {exc!r}"))
                return
            for it in items:
                self._decode_fallback(fallback, [it])
            return
        self._store(items, results, fallback)

    @staticmethod
    def _fallback_speaks(fallback: Engine, item: _Item) -> bool:
        language = item.request.language
        return getattr(fallback, "multilingual", True) or language in (None, "", "en")

    def _store(self, items: list[_Item], results: list[Decoded], engine: Engine) -> None:
        if len(results) != len(items):
            raise RuntimeError(f"engine returned {len(results)} results for {len(items)} chunks")
        now = time.perf_counter()
        for it, decoded in zip(items, results, strict=True):
            it.decoded, it.engine, it.done_at = decoded, engine, now

    @staticmethod
    def _fail(items: list[_Item], error: Exception) -> None:
        for it in items:
            it.error = error

    # -- coverage ---------------------------------------------------------------------------
    def _recover(self, items: list[_Item]) -> None:
        """Guard what was decoded, then decode again the speech it left uncovered."""
        for it in items:
            assert it.decoded is not None
            it.decoded = guards.apply(it.decoded, it.audio, self.settings.guards)
        for _ in range(self.settings.coverage.redecode_passes):
            if not self._redecode(items, lambda it: it.engine):
                break
        fallback = self.fallback
        if fallback is not None:
            self._redecode(
                [it for it in items if it.engine is not fallback and self._fallback_speaks(fallback, it)],
                lambda it: fallback,
            )

    def _redecode(self, items: list[_Item], engine_of: Callable[[_Item], Engine]) -> bool:
        """One round over every chunk's gaps, one batch per model; True if any was tried."""
        work: dict[int, list[tuple[_Item, Span]]] = {}
        engines: dict[int, Engine] = {}
        for it in items:
            engine = engine_of(it)
            try:
                spans = self._gaps(it)
            except (KeyError, TypeError, ValueError) as exc:  # a chunk without a keep window
                it.error = exc
                continue
            for span in spans:
                if (id(engine), span) not in it.tried:
                    it.tried.add((id(engine), span))
                    work.setdefault(id(engine), []).append((it, span))
                    engines[id(engine)] = engine
        for key, jobs in work.items():
            self._decode_gaps(engines[key], jobs)
        return bool(work)

    def _gaps(self, it: _Item) -> list[Span]:
        assert it.decoded is not None
        return recover.gaps(
            it.decoded, recover.Owned.of(it.job.chunk), len(it.audio) / SAMPLE_RATE, self.settings.coverage
        )

    def _decode_gaps(self, engine: Engine, jobs: list[tuple[_Item, Span]]) -> None:
        requests = [recover.request_for(it.audio, span, it.request, _language(it)) for it, span in jobs]
        try:
            results = (
                self._run_main(engine, requests)
                if engine is not self.fallback
                else engine.transcribe_batch(requests)
            )
        except Exception as exc:  # the first pass stands; the chunk may end up flagged
            log.warning("%s failed re-decoding %d gap(s): %r", engine.info.name, len(jobs), exc)
            return
        for (it, span), request, sub in zip(jobs, requests, results, strict=True):
            assert it.decoded is not None
            sub = guards.apply(sub, request.audio, self.settings.guards)
            it.decoded, added = recover.merge(it.decoded, span, sub)
            if added:
                it.redecodes += 1
                if engine is not it.engine:
                    it.notes["redecode_model"] = engine.info.name

    # -- events -----------------------------------------------------------------------------
    def _finish(self, it: _Item, started_ms: float, t0: float, batch_size: int) -> dict[str, Any] | Exception:
        if it.error is not None:
            return it.error
        chunk = it.job.chunk
        decoded = it.decoded or self._silent(it)
        covered = recover.measure(decoded, recover.Owned.of(chunk), self.settings.coverage)
        segments = timeline.place(
            decoded.segments,
            chunk["start_s"],
            chunk["duration_s"],
            chunk["keep_from_s"],
            chunk["keep_until_s"],
        )
        done = it.done_at or time.perf_counter()
        produced = it.job.produced_at_ms or chunk.get("produced_at_ms") or started_ms
        timing = events.Timing(
            queue_ms=max(0.0, started_ms - produced),
            processing_ms=(done - t0) * 1000.0,
            batch_size=batch_size,
            produced_at_ms=int(self._clock() * 1000),
        )
        return events.chunk_transcript(
            chunk,
            it.job.trace_id or chunk["trace_id"],
            segments,
            decoded.language or it.request.language or "",
            decoded.language_probability,
            it.engine.info,
            self._settings_map(it, decoded),
            timing,
            fallback_reason=it.fallback_reason,
            retries=it.job.retries + it.attempts,
            quality=events.Quality(
                covered.speech_s,
                covered.coverage,
                covered.low,
                it.redecodes,
                decoded.dropped.get("repetition_loop", 0),
            ),
            arm=it.arm,
        )

    def _silent(self, it: _Item) -> Decoded:
        english_only = not getattr(it.engine, "multilingual", True)
        return Decoded("en" if english_only else (it.request.language or ""), 0.0)

    def _settings_map(self, it: _Item, decoded: Decoded) -> dict[str, str]:
        out = dict(it.engine.decode_settings())
        out.update({f"guard_{k}": str(v) for k, v in _fields(self.settings.guards).items()})
        out["pool"] = self.pool
        out["speech_s"] = f"{decoded.speech_s:.2f}"
        if decoded.dropped:
            out["guard_dropped"] = ",".join(f"{k}={v}" for k, v in sorted(decoded.dropped.items()))
        if it.request.initial_prompt:
            out["initial_prompt"] = it.request.initial_prompt
        if it.request.hotwords:
            out["hotwords"] = it.request.hotwords
        if it.arm == CANDIDATE and it.engine is self.candidate and self._overrides:
            out["rollout_overrides"] = self._overrides
        out.update(it.notes)
        return out


def _routes(items: list[_Item]) -> list[tuple[Engine, list[_Item]]]:
    """Items by the engine routed to, taken before any decode (a fallback moves items)."""
    groups: dict[int, tuple[Engine, list[_Item]]] = {}
    for it in items:
        groups.setdefault(id(it.engine), (it.engine, []))[1].append(it)
    return list(groups.values())


def _language(it: _Item) -> str:
    return it.decoded.language if it.decoded is not None else ""


def _failed(items: list[_Item], reason: str) -> list[_Item]:
    for it in items:
        it.fallback_reason = reason
    return items


def _failure(it: _Item, prefix: str, suffix: str = "") -> Exception:
    """A timeout is worth another try later; an error of the main model is not."""
    reason = it.fallback_reason or ""
    kind = DecodeTimeout if reason.startswith("timeout") else DecodeFailed
    return kind(f"{prefix}{reason}{suffix}")


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}

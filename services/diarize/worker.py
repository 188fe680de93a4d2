"""Diarization domain logic: AudioChunk dicts in, SpeakerTurns dicts out. No Kafka here.

``DiarizeWorker.handle_chunk`` spills the chunk (assembly.py) and, when a recording is complete
(its ``is_last`` chunk) diarizes it and returns its SpeakerTurns value. ``sweep``, run by the
loop's tick, closes recordings whose chunks stopped arriving (``partial=true``) and forgets old
finished ones: never inside another recording's chunk, which may be a realtime one.
Recordings with chunks on two or more channels are diarized by channel (channels.py); the rest
by the pyannote pipeline (pipeline.py), in windows for long calls (windows.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .assembly import SAMPLE_RATE as SR
from .assembly import Assembler, ClosedRecording
from .channels import ChannelParams, channel_turns
from .config import DiarizeSettings
from .pipeline import DiarizationEngine, PipelineInfo, build_engine
from .windows import Downmix, SpeakerHints, diarize_windows, plan_windows

log = logging.getLogger(__name__)


class DiarizeWorker:
    def __init__(
        self,
        settings: DiarizeSettings | None = None,
        engine: DiarizationEngine | None = None,
        assembler: Assembler | None = None,
        clock: Callable[[], float] = time.time,
        engine_factory: Callable[[DiarizeSettings], DiarizationEngine] = build_engine,
    ) -> None:
        self.settings = settings or DiarizeSettings()
        self.clock = clock
        self._engine = engine
        self._engine_factory = engine_factory
        self.assembler = assembler or Assembler(
            self.settings.state_dir,
            timeout_s=self.settings.recording_timeout_s,
            done_retention_s=self.settings.done_retention_s,
            clock=clock,
            fsync=self.settings.fsync,
        )

    @property
    def engine(self) -> DiarizationEngine:
        if self._engine is None:
            self._engine = self._engine_factory(self.settings)
        return self._engine

    def warm_up(self, seconds: float = 12.0) -> float:
        """Load the pipeline and run it once on noise, so the first call is not slower than the rest.

        Returns the seconds it took (model loading, ONNX export, first-call initialisation).
        """
        started = time.perf_counter()
        noise = np.random.default_rng(0).standard_normal(int(seconds * SR)).astype(np.float32)
        self.engine(0.01 * noise)
        return time.perf_counter() - started

    # -- entry points -------------------------------------------------------------------------
    def handle_chunk(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        """Spill one AudioChunk; return the SpeakerTurns values that are now due."""
        added = self.assembler.add(chunk)
        outputs = []
        if added.replay is not None:
            outputs.append(added.replay)
        if added.ready is not None:
            outputs.append(self._finish(added.ready))
        return outputs

    def sweep(self) -> list[dict[str, Any]]:
        """Close timed-out recordings (partial results) and drop old finished state."""
        outputs = []
        for closed in self.assembler.expired():
            try:
                outputs.append(self._finish(closed))
            except Exception as exc:  # one broken recording must not block the others
                log.exception("diarization of %s failed after timeout", closed.recording_id)
                self.assembler.abandon(closed.recording_id, repr(exc))
        self.assembler.collect_garbage()
        return outputs

    # -- diarization --------------------------------------------------------------------------
    def _finish(self, closed: ClosedRecording) -> dict[str, Any]:
        result = self.diarize(closed)
        self.assembler.complete(closed.recording_id, result, closed.reason)
        return result

    def diarize(self, closed: ClosedRecording) -> dict[str, Any]:
        started = time.perf_counter()
        use_channels = self.settings.channel_mode == "auto" and len(closed.channels) > 1
        if use_channels:
            turns, channel_of, info = self._by_channel(closed)
            mode = "channel"
        else:
            turns, info, params = self._by_model(closed)
            channel_of = {}
            mode = "model"
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        duration = closed.num_samples / SR
        return {
            "recording_id": closed.recording_id,
            "trace_id": closed.trace_id,
            "tenant": closed.tenant,
            "turns": _with_overlap(turns, channel_of),
            "num_speakers": len({t[2] for t in turns}),
            "partial": closed.partial,
            "mode": mode,
            "pipeline": info.name,
            "pipeline_params": info.params if use_channels else {**info.params, **params},
            "model_hashes": info.model_hashes,
            "device": info.device,
            "audio_duration_s": duration,
            "processing_ms": elapsed_ms,
            "rtf": elapsed_ms / 1000.0 / duration if duration > 0 else 0.0,
            "produced_at_ms": int(self.clock() * 1000),
        }

    def _by_model(
        self, closed: ClosedRecording
    ) -> tuple[list[tuple[float, float, str]], PipelineInfo, dict[str, str]]:
        s = self.settings
        readers = [closed.channels[ch] for ch in sorted(closed.channels)]
        reader = readers[0] if len(readers) == 1 else Downmix(list(readers))
        hints = SpeakerHints.from_avro(closed.hints)
        windows = plan_windows(reader, closed.num_samples, s.window_s, s.window_search_s)
        engine = self.engine
        turns = diarize_windows(engine, reader, windows, hints, s.link_threshold)
        params = {
            "window_s": str(s.window_s),
            "windows": str(len(windows)),
            "link_threshold": str(s.link_threshold),
            **hints.as_params(),
        }
        return turns, engine.info, params

    def _by_channel(
        self, closed: ClosedRecording
    ) -> tuple[list[tuple[float, float, str]], dict[int, int], PipelineInfo]:
        params = ChannelParams(margin_db=self.settings.channel_margin_db)
        found = channel_turns(closed.channels, params)
        turns = [(round(t.start_s, 3), round(t.end_s, 3), t.speaker) for t in found]
        channel_of = {i: t.channel for i, t in enumerate(found)}
        info = PipelineInfo(
            name="channel:webrtcvad+energy",
            params={k: str(v) for k, v in params.__dict__.items()},
            model_hashes={},
            device="cpu",
        )
        return turns, channel_of, info


def _with_overlap(turns: list[tuple[float, float, str]], channel_of: dict[int, int]) -> list[dict[str, Any]]:
    """SpeakerTurn dicts; ``overlap`` when another speaker talks during part of the turn."""
    order = sorted(range(len(turns)), key=lambda i: turns[i][0])
    overlap = [False] * len(turns)
    active: list[int] = []  # turns that may still overlap later ones
    for i in order:
        start, _, speaker = turns[i]
        active = [j for j in active if turns[j][1] > start]
        for j in active:
            if turns[j][2] != speaker:
                overlap[i] = overlap[j] = True
        active.append(i)
    return [
        {
            "speaker": spk,
            "start_s": float(s),
            "end_s": float(e),
            "overlap": overlap[i],
            "channel": channel_of.get(i),
        }
        for i, (s, e, spk) in sorted(enumerate(turns), key=lambda it: (it[1][0], it[1][1]))
    ]

"""The Kafka wiring without a broker: handler outputs and the idle sweeper."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from fastavro.validation import validate

import schemas
from mesh import Message, Output, topics
from mesh.metrics import PrometheusSensor
from mesh.trace import TraceContext
from services.diarize.app import Handler, sweep
from services.diarize.config import DiarizeSettings
from services.diarize.pipeline import PipelineInfo, WindowDiarization
from services.diarize.worker import DiarizeWorker

TRACE = "abcdefabcdefabcdefabcdefabcdef12"


class OneSpeaker:
    info = PipelineInfo(name="fake", params={}, model_hashes={}, device="cpu")

    def __call__(self, waveform, **hints) -> WindowDiarization:
        end = len(waveform) / 16000
        return WindowDiarization([(0.0, end, "SPEAKER_00")], {"SPEAKER_00": np.ones(4)})


def message(value: dict) -> Message:
    return Message(topics.CHUNKS_BATCH, 0, 0, b"rec-1", "AudioChunk", value, [], TraceContext.new(TRACE), 0)


def worker(tmp_path, clock) -> DiarizeWorker:
    settings = DiarizeSettings(state_dir=tmp_path, fsync=False, recording_timeout_s=5)
    return DiarizeWorker(settings, engine=OneSpeaker(), clock=clock)


def test_intermediate_chunks_give_nothing_and_the_last_one_speaker_turns(tmp_path, clock, chunk_factory):
    handle = Handler(worker(tmp_path, clock))
    first = chunk_factory(seq=0, chunk_count=2)
    first["trace_id"] = ""  # missing in the payload: taken from the message's trace context
    assert handle(message(first)) == []
    (out,) = handle(message(chunk_factory(seq=1, start_s=1.0, is_last=True, chunk_count=2)))
    assert isinstance(out, Output)
    assert (out.topic, out.schema, out.key) == (topics.DIARIZATION, "SpeakerTurns", "rec-1")
    assert out.value["trace_id"] == TRACE
    assert validate(out.value, schemas.load("SpeakerTurns"))


def test_the_loop_tick_closes_timed_out_recordings_while_topics_are_idle(tmp_path, clock, chunk_factory):
    w = worker(tmp_path, clock)
    chunk = chunk_factory(seq=0, chunk_count=3)
    Handler(w)(message(chunk))
    tick = sweep(w)
    proc = SimpleNamespace(sensor=PrometheusSensor("diarize"))
    assert tick(proc) == []
    clock.advance(6)
    (out,) = tick(proc)
    assert out.value["partial"] and out.topic == topics.DIARIZATION
    assert out.value["trace_id"] == chunk["trace_id"]
    assert recordings(proc.sensor, partial="true") == 1


def recordings(sensor: PrometheusSensor, partial: str) -> float | None:
    labels = {"service": "diarize", "mode": "model", "device": "cpu", "partial": partial}
    return sensor.registry.get_sample_value("stt_diarize_recordings_total", labels)


def test_every_speaker_turns_event_is_measured(tmp_path, clock, chunk_factory):
    sensor = PrometheusSensor("diarize")
    handle = Handler(worker(tmp_path, clock), sensor=sensor)
    (out,) = handle(message(chunk_factory(seq=0, is_last=True, chunk_count=1)))
    labels = {"service": "diarize", "mode": "model", "device": "cpu"}
    assert sensor.registry.get_sample_value("stt_diarize_rtf_count", labels) == 1
    assert sensor.registry.get_sample_value("stt_diarize_rtf_sum", labels) == out.value["rtf"]
    processing = sensor.registry.get_sample_value("stt_diarize_processing_seconds_sum", labels)
    assert processing == out.value["processing_ms"] / 1000
    assert recordings(sensor, partial="false") == 1


def test_each_pool_reads_its_own_topic_in_its_own_group_and_state_folder(tmp_path) -> None:
    from mesh import topics
    from services.diarize.app import group_id, pool_settings
    from services.diarize.config import DiarizeSettings

    base = DiarizeSettings(state_dir=tmp_path)
    realtime, batch = pool_settings(base, "realtime"), pool_settings(base, "batch")
    assert (topics.chunks_topic(realtime.pool), topics.chunks_topic(batch.pool)) == (
        topics.CHUNKS_REALTIME,
        topics.CHUNKS_BATCH,
    )
    assert group_id(realtime.pool) != group_id(batch.pool)
    assert realtime.state_dir != batch.state_dir and realtime.state_dir.parent == tmp_path
    assert pool_settings(base, None).pool == "realtime"  # STT_DIARIZE_POOL's default

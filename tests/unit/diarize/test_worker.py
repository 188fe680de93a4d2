"""The worker end to end with a fake diarization engine: events, windows, timeouts, stereo."""

from __future__ import annotations

import numpy as np
import pytest
from fastavro.validation import validate

import schemas
from services.diarize.config import DiarizeSettings
from services.diarize.pipeline import PipelineInfo, WindowDiarization
from services.diarize.worker import DiarizeWorker

SR = 16000
LEVELS = {0.1: "alice", 0.3: "bob", 0.5: "carol"}  # block amplitude -> who "speaks"
rng = np.random.default_rng(1)
VOICES = {name: rng.random(32).astype(np.float32) for name in LEVELS.values()}


class FakeEngine:
    """Finds 1 s blocks by amplitude; labels speakers per call in order of appearance."""

    info = PipelineInfo(name="fake", params={"p": "1"}, model_hashes={"m": "0" * 64}, device="cpu")

    def __init__(self) -> None:
        self.calls: list[tuple[float, dict]] = []

    def __call__(self, waveform, **hints) -> WindowDiarization:
        self.calls.append((len(waveform) / SR, hints))
        turns, local, centroids = [], {}, {}
        for i in range(len(waveform) // SR):
            level = round(float(np.max(np.abs(waveform[i * SR : (i + 1) * SR]))), 1)
            if level not in LEVELS:
                continue
            label = local.setdefault(level, f"SPEAKER_{len(local):02d}")
            noisy = VOICES[LEVELS[level]] + 0.01 * rng.standard_normal(32).astype(np.float32)
            centroids[label] = noisy
            turns.append((float(i), float(i + 1), label))
        return WindowDiarization(turns=turns, centroids=centroids)


def script(pattern: str) -> tuple[np.ndarray, list[str]]:
    """One character per second: a/b/c speak at their level, '.' is silence."""
    level = {"a": 0.1, "b": 0.3, "c": 0.5, ".": 0.0}
    audio = np.concatenate([np.full(SR, level[ch], np.float32) for ch in pattern])
    return audio, [{"a": "alice", "b": "bob", "c": "carol"}.get(ch) for ch in pattern]


def feed(worker, chunk_factory, audio, chunk_s=10, **kw):
    step = chunk_s * SR
    n = -(-len(audio) // step)
    out = []
    for i in range(n):
        out += worker.handle_chunk(
            chunk_factory(
                seq=i,
                start_s=i * chunk_s,
                samples=audio[i * step : (i + 1) * step],
                is_last=i == n - 1,
                chunk_count=n,
                **kw,
            )
        )
    return out


def make_worker(tmp_path, clock, **overrides):
    settings = DiarizeSettings(state_dir=tmp_path, fsync=False, **overrides)
    return DiarizeWorker(settings, engine=FakeEngine(), clock=clock)


def who_at(event, second: float) -> str | None:
    for turn in event["turns"]:
        if turn["start_s"] <= second < turn["end_s"]:
            return turn["speaker"]
    return None


def test_a_finished_recording_gives_one_valid_speaker_turns_event(tmp_path, clock, chunk_factory):
    audio, _ = script("aaabbb.aa")
    (event,) = feed(make_worker(tmp_path, clock), chunk_factory, audio, chunk_s=3)  # 3 chunks, 1 event
    assert validate(event, schemas.load("SpeakerTurns"))
    assert event["mode"] == "model" and event["num_speakers"] == 2 and not event["partial"]
    assert event["pipeline"] == "fake" and event["model_hashes"] == {"m": "0" * 64}
    assert event["pipeline_params"]["windows"] == "1"
    assert event["audio_duration_s"] == 9.0 and event["rtf"] >= 0
    assert [(t["speaker"], t["start_s"], t["end_s"]) for t in event["turns"]] == [
        ("SPEAKER_00", 0.0, 1.0),
        ("SPEAKER_00", 1.0, 2.0),
        ("SPEAKER_00", 2.0, 3.0),
        ("SPEAKER_01", 3.0, 4.0),
        ("SPEAKER_01", 4.0, 5.0),
        ("SPEAKER_01", 5.0, 6.0),
        ("SPEAKER_00", 7.0, 8.0),
        ("SPEAKER_00", 8.0, 9.0),
    ]


def test_speaker_hints_reach_the_pipeline(tmp_path, clock, chunk_factory):
    worker = make_worker(tmp_path, clock)
    feed(worker, chunk_factory, script("ab")[0], num_speakers=2)
    assert worker.engine.calls[0][1] == {"num_speakers": 2, "min_speakers": None, "max_speakers": None}


def test_a_long_recording_is_diarized_in_windows_with_linked_speakers(tmp_path, clock, chunk_factory):
    pattern = ("aab.bba" * 6)[:40] + ("bbc.cab" * 6)[:40] + ("caab.ba" * 8)[:50]
    audio, truth = script(pattern)
    worker = make_worker(tmp_path, clock, window_s=40, window_search_s=0, link_threshold=0.3)
    (event,) = feed(worker, chunk_factory, audio)
    assert len(worker.engine.calls) == 3  # 130 s in windows of 40, 40, 50 s
    assert event["pipeline_params"]["windows"] == "3"
    assert event["num_speakers"] == 3
    names = {}
    for second, person in enumerate(truth):
        label = who_at(event, second + 0.5)
        if person is None:
            assert label is None
        else:
            assert names.setdefault(person, label) == label  # one label per person throughout
    assert len(set(names.values())) == 3


def test_a_speaker_turn_cut_by_a_window_boundary_is_joined(tmp_path, clock, chunk_factory):
    audio, _ = script("a" * 70)
    worker = make_worker(tmp_path, clock, window_s=35, window_search_s=0)
    (event,) = feed(worker, chunk_factory, audio)
    assert event["num_speakers"] == 1
    assert not any(
        t["end_s"] == 35.0 and n["start_s"] == 35.0
        for t, n in zip(event["turns"], event["turns"][1:], strict=False)
    )


def test_when_chunks_stop_arriving_the_recording_is_diarized_as_partial(tmp_path, clock, chunk_factory):
    worker = make_worker(tmp_path, clock, recording_timeout_s=120)
    audio, _ = script("aabb")
    assert worker.handle_chunk(chunk_factory(seq=0, samples=audio, chunk_count=3)) == []
    clock.advance(100)
    assert worker.sweep() == []
    clock.advance(30)
    (event,) = worker.sweep()
    assert event["partial"] and event["num_speakers"] == 2
    assert validate(event, schemas.load("SpeakerTurns"))
    assert worker.sweep() == []  # closed once


def test_a_timed_out_recording_is_left_to_the_sweep_not_to_another_recordings_chunk(
    tmp_path, clock, chunk_factory
):
    worker = make_worker(tmp_path, clock, recording_timeout_s=60)
    worker.handle_chunk(chunk_factory(recording_id="stalled", seq=0, samples=script("a")[0], chunk_count=2))
    clock.advance(61)
    assert worker.handle_chunk(chunk_factory(recording_id="other", seq=0, chunk_count=2)) == []
    events = worker.sweep()
    assert [(e["recording_id"], e["partial"]) for e in events] == [("stalled", True)]


def test_a_redelivered_last_chunk_re_emits_the_same_result(tmp_path, clock, chunk_factory):
    worker = make_worker(tmp_path, clock)
    last = chunk_factory(seq=0, samples=script("ab")[0], is_last=True)
    (first,) = worker.handle_chunk(last)
    restarted = make_worker(tmp_path, clock)
    assert restarted.handle_chunk(last) == [first]
    assert restarted.engine.calls == []  # not diarized again


def test_a_failing_timed_out_recording_does_not_block_others(tmp_path, clock, chunk_factory):
    worker = make_worker(tmp_path, clock, recording_timeout_s=10)
    worker._engine = None
    worker._engine_factory = lambda settings: (_ for _ in ()).throw(RuntimeError("no model"))
    worker.handle_chunk(chunk_factory(recording_id="bad", seq=0, chunk_count=2))
    clock.advance(11)
    assert worker.sweep() == []
    assert worker.assembler.open_recordings() == []


def test_a_stereo_call_is_diarized_by_channel(tmp_path, clock, chunk_factory, voice_factory):
    worker = make_worker(tmp_path, clock)
    left = np.concatenate([voice_factory(2.0, 120), np.zeros(3 * SR, np.float32)])
    right = np.concatenate(
        [np.zeros(int(2.5 * SR), np.float32), voice_factory(2.0, 200), np.zeros(int(0.5 * SR), np.float32)]
    )
    roles = ["agent", "customer"]
    worker.handle_chunk(chunk_factory(seq=0, channel=0, samples=left, chunk_count=2, channel_roles=roles))
    (event,) = worker.handle_chunk(
        chunk_factory(seq=1, channel=1, samples=right, is_last=True, chunk_count=2, channel_roles=roles)
    )
    assert validate(event, schemas.load("SpeakerTurns"))
    assert event["mode"] == "channel" and event["model_hashes"] == {}
    assert [(t["speaker"], t["channel"]) for t in event["turns"]] == [("agent", 0), ("customer", 1)]
    assert worker.engine.calls == []


def test_overlapping_turns_of_different_speakers_are_flagged(tmp_path, clock, chunk_factory, voice_factory):
    worker = make_worker(tmp_path, clock)
    both = np.concatenate([voice_factory(3.0, 120), np.zeros(SR, np.float32)])
    late = np.concatenate([np.zeros(2 * SR, np.float32), voice_factory(2.0, 200)])
    worker.handle_chunk(chunk_factory(seq=0, channel=0, samples=both, chunk_count=2))
    (event,) = worker.handle_chunk(chunk_factory(seq=1, channel=1, samples=late, is_last=True, chunk_count=2))
    assert [t["overlap"] for t in event["turns"]] == [True, True]


@pytest.mark.parametrize(
    "hints,expected",
    [
        ({"num_speakers": 3, "min_speakers": 1, "max_speakers": 9}, (3, None, None)),
        ({"num_speakers": None, "min_speakers": 2, "max_speakers": 4}, (None, 2, 4)),
        ({"num_speakers": 0, "min_speakers": 5, "max_speakers": 2}, (None, None, None)),
    ],
)
def test_speaker_hints_are_sanitised(hints, expected):
    from services.diarize.windows import SpeakerHints

    h = SpeakerHints.from_avro(hints)
    assert (h.num_speakers, h.min_speakers, h.max_speakers) == expected


def test_a_recording_without_audio_gives_an_empty_result(tmp_path, clock, chunk_factory):
    worker = make_worker(tmp_path, clock)
    (event,) = worker.handle_chunk(chunk_factory(seq=0, samples=np.zeros(0, np.float32), is_last=True))
    assert event["turns"] == [] and event["num_speakers"] == 0 and event["rtf"] == 0.0
    assert validate(event, schemas.load("SpeakerTurns"))


def test_with_channel_mode_off_a_stereo_call_is_downmixed_for_the_model(tmp_path, clock, chunk_factory):
    worker = make_worker(tmp_path, clock, channel_mode="never")
    audio, _ = script("aab")
    worker.handle_chunk(chunk_factory(seq=0, channel=0, samples=audio, chunk_count=2))
    (event,) = worker.handle_chunk(
        chunk_factory(seq=1, channel=1, samples=audio, is_last=True, chunk_count=2)
    )
    assert event["mode"] == "model" and len(worker.engine.calls) == 1
    assert event["num_speakers"] == 2


def test_warm_up_loads_the_pipeline_once_before_any_recording(tmp_path, clock, chunk_factory):
    built: list[FakeEngine] = []

    def factory(settings):
        built.append(FakeEngine())
        return built[-1]

    settings = DiarizeSettings(state_dir=tmp_path, fsync=False)
    worker = DiarizeWorker(settings, clock=clock, engine_factory=factory)
    worker.warm_up(seconds=12.0)
    assert len(built) == 1 and [seconds for seconds, _ in built[0].calls] == [12.0]
    (event,) = feed(worker, chunk_factory, script("aabb")[0])
    assert len(built) == 1 and len(built[0].calls) == 2 and event["num_speakers"] == 2

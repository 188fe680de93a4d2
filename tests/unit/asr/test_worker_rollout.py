"""The worker with a rollout candidate: arms per recording, one call per arm, fallback,
decode overrides, gate decisions taking effect between batches, stats on the event."""

from __future__ import annotations

from types import SimpleNamespace

import fastavro.validation

import schemas
from services.asr import factory
from services.asr.config import AsrSettings, PoolSettings, RolloutSettings
from services.asr.engine import WhisperEngine
from services.asr.results import Decoded, ModelInfo
from services.asr.rollout import Router, bucket
from services.asr.worker import AsrWorker, ChunkJob
from tests.unit.asr.fakes import FakeEngine, make_chunk
from tests.unit.asr.test_coverage import every_second, stops_early
from tests.unit.asr.test_rollout import decision

CHUNK_SCHEMA = schemas.load("ChunkTranscript")
SALT = "stt-asr-rollout"


def settings(fallback: str | None = None, **rollout) -> AsrSettings:
    return AsrSettings(
        fallback_model=fallback,
        rollout=RolloutSettings(**{"candidate_model": "cand", "candidate_share": 0.5, **rollout}),
    )


def recordings(arm: str, n: int = 2, share: float = 0.5) -> list[str]:
    """Recording ids the hash sends to ``arm`` at ``share``."""
    ids = (f"rec-{i}" for i in range(1000))
    return [r for r in ids if (bucket(SALT, r) < share) == (arm == "candidate")][:n]


def jobs(*rids: str, seq: int = 0, **kw) -> list[ChunkJob]:
    return [ChunkJob(make_chunk(recording_id=r, seq=seq, **kw)) for r in rids]


def test_a_batch_mixing_arms_makes_one_call_per_arm_and_each_event_names_its_arm_and_model():
    main, cand = FakeEngine("main"), FakeEngine("cand")
    c1, c2 = recordings("candidate")
    k1, k2 = recordings("control")
    events = AsrWorker(main, candidate=cand, settings=settings()).transcribe(jobs(c1, k1, c2, k2))
    assert [e["arm"] for e in events] == ["candidate", "control", "candidate", "control"]
    assert [e["model"]["name"] for e in events] == ["cand", "main", "cand", "main"]
    assert [len(c) for c in main.calls] == [2] and [len(c) for c in cand.calls] == [2]
    for event in events:
        fastavro.validation.validate(event, CHUNK_SCHEMA)


def test_the_chunks_audio_stats_are_copied_onto_the_event():
    chunk = make_chunk(snr_db=7.5)
    chunk["stats"]["clipping_ratio"] = 0.02
    [event] = AsrWorker(FakeEngine(), settings=AsrSettings(fallback_model=None)).transcribe([ChunkJob(chunk)])
    assert event["stats"] == {
        "duration_s": 2.0,
        "rms_dbfs": -20.0,
        "peak_dbfs": -3.0,
        "clipping_ratio": 0.02,
        "snr_db": 7.5,
        "silence_ratio": 0.1,
    }
    assert event["arm"] == "control"  # no candidate configured
    fastavro.validation.validate(event, CHUNK_SCHEMA)


def test_decode_overrides_are_named_only_on_candidate_chunks():
    cfg = settings(candidate_decode={"beam_size": "1"}, candidate_vad={"threshold": 0.65})
    [c] = recordings("candidate", 1)
    [k] = recordings("control", 1)
    cand, ctrl = AsrWorker(FakeEngine("main"), candidate=FakeEngine("cand"), settings=cfg).transcribe(
        jobs(c, k)
    )
    assert cand["decode_settings"]["rollout_overrides"] == "beam_size=1,vad_threshold=0.65"
    assert "rollout_overrides" not in ctrl["decode_settings"]


def test_the_factory_builds_the_candidate_with_the_overrides_and_control_without():
    def build(name, cfg):
        model = SimpleNamespace(model=SimpleNamespace(is_multilingual=False))
        return WhisperEngine(model, ModelInfo(name, "1", "ab" * 32), cfg.decode)

    cfg = AsrSettings(
        model="base",
        fallback_model="tiny.en",
        rollout=RolloutSettings(
            candidate_model="base",
            candidate_decode={"beam_size": 1},
            candidate_vad={"threshold": 0.3, "min_silence_ms": 300},
        ),
    )
    built = factory.build_engines(cfg, "realtime", build=build)
    assert built.candidate is not None and built.candidate is not built.main
    assert (
        built.candidate.options.beam_size,
        built.candidate.options.vad_threshold,
        built.candidate.options.vad_min_silence_ms,
    ) == (1, 0.3, 300)
    assert (built.main.options.beam_size, built.main.options.vad_threshold) == (5, 0.5)
    assert built.fallback.options.beam_size == 5
    assert built.candidate.model is built.main.model  # same weights, loaded once
    assert built.candidate.decode_settings()["beam_size"] == "1"
    same = AsrSettings(model="base", rollout=RolloutSettings(candidate_model="base"))
    assert factory.build_engines(same, "realtime", build=build).candidate is None
    other = AsrSettings(model="base", rollout=RolloutSettings(candidate_model="large"))
    assert factory.build_engines(other, "realtime", build=build).candidate.info.name == "large"


def test_a_candidate_chunk_the_candidate_fails_on_goes_to_the_same_fallback_and_keeps_its_arm():
    main, fallback = FakeEngine("main"), FakeEngine("fallback")
    cand = FakeEngine("cand", fail_when=lambda reqs: any(r.duration_s > 2.5 for r in reqs))
    [c1, c2] = recordings("candidate")
    worker = AsrWorker(main, fallback, candidate=cand, settings=settings("fallback"))
    bad, good = worker.transcribe(
        [ChunkJob(make_chunk(recording_id=c1, duration_s=3.0)), ChunkJob(make_chunk(recording_id=c2))]
    )
    assert (bad["arm"], bad["model"]["name"], bad["fallback_used"]) == ("candidate", "fallback", True)
    assert bad["fallback_reason"].startswith("error: RuntimeError: cand exploded")
    assert (good["arm"], good["model"]["name"]) == ("candidate", "cand")
    assert "rollout_overrides" not in bad["decode_settings"]


def test_a_candidate_over_budget_falls_back_like_the_main_model():
    main, fallback, cand = FakeEngine("main"), FakeEngine("fallback"), FakeEngine("cand", delay_s=0.5)
    cfg = settings("fallback").model_copy(update={"realtime": PoolSettings(timeout_s=0.05)})
    [c] = recordings("candidate", 1)
    worker = AsrWorker(main, fallback, candidate=cand, settings=cfg, pool="realtime")
    [event] = worker.transcribe(jobs(c))
    assert event["arm"] == "candidate" and event["model"]["name"] == "fallback"
    assert event["fallback_reason"] == "timeout: cand exceeded 0.05 s"
    worker.close()


def test_gaps_of_candidate_chunks_are_decoded_again_by_the_candidate_then_the_fallback():
    main, fallback = FakeEngine("main"), FakeEngine("fallback", respond=every_second)
    cand = FakeEngine("cand", respond=stops_early(after_s=4.0))
    [c] = recordings("candidate", 1)
    [event] = AsrWorker(main, candidate=cand, settings=settings()).transcribe(jobs(c, duration_s=10.0))
    assert len(cand.calls) >= 2 and main.calls == []  # the first pass, then its gaps
    assert event["arm"] == "candidate" and event["redecodes"] >= 1
    assert event["speech_coverage"] >= 0.9
    deaf = FakeEngine(
        "cand",
        respond=lambda r: (
            stops_early(after_s=2.0)(r)
            if r.duration_s > 4
            else Decoded("en", 0.99, (), r.duration_s, ((0.0, r.duration_s),))
        ),
    )
    [rescued] = AsrWorker(main, fallback, candidate=deaf, settings=settings("fallback")).transcribe(
        jobs(c, duration_s=10.0)
    )
    assert rescued["decode_settings"]["redecode_model"] == "fallback"
    assert (rescued["arm"], rescued["model"]["name"]) == ("candidate", "cand")
    assert main.calls == []


def test_a_rollback_between_batches_moves_the_rest_of_a_recording_in_flight_to_control():
    main, cand = FakeEngine("main"), FakeEngine("cand")
    [c] = recordings("candidate", 1)
    worker = AsrWorker(main, candidate=cand, settings=settings())
    [first] = worker.transcribe(jobs(c, seq=0))
    assert worker.router.apply(decision("rollback", name="cand"))
    [second] = worker.transcribe(jobs(c, seq=1))
    assert (first["arm"], first["model"]["name"]) == ("candidate", "cand")
    assert (second["arm"], second["model"]["name"]) == ("control", "main")


def test_a_pause_keeps_recordings_in_flight_on_the_candidate_and_new_ones_on_control():
    main, cand = FakeEngine("main"), FakeEngine("cand")
    [in_flight, new] = recordings("candidate")
    worker = AsrWorker(main, candidate=cand, settings=settings())
    worker.transcribe(jobs(in_flight, seq=0))
    worker.router.apply(decision("pause", name="cand"))
    events = worker.transcribe(jobs(in_flight, new, seq=1))
    assert [e["arm"] for e in events] == ["candidate", "control"]


def test_the_arm_hint_forces_the_arm_and_is_noted():
    main, cand = FakeEngine("main"), FakeEngine("cand")
    [k] = recordings("control", 1)
    worker = AsrWorker(main, candidate=cand, settings=settings())
    [forced] = worker.transcribe(jobs(k, arm="candidate"))
    assert (forced["arm"], forced["model"]["name"]) == ("candidate", "cand")
    assert forced["decode_settings"]["arm_hint"] == "candidate"
    worker.router.apply(decision("rollback", name="cand"))
    [after] = worker.transcribe(jobs(k, arm="candidate", seq=1))
    assert (after["arm"], after["model"]["name"]) == ("control", "main")


def test_candidate_chunks_skip_the_low_snr_route_control_chunks_keep_it():
    main, cand, noisy = FakeEngine("main"), FakeEngine("cand"), FakeEngine("robust")
    [c] = recordings("candidate", 1)
    [k] = recordings("control", 1)
    cfg = settings().model_copy(update={"low_snr_db": 10.0})
    events = AsrWorker(main, low_snr=noisy, candidate=cand, settings=cfg).transcribe(jobs(c, k, snr_db=3.0))
    assert [(e["arm"], e["model"]["name"]) for e in events] == [("candidate", "cand"), ("control", "robust")]


def test_a_configured_candidate_without_its_engine_routes_everything_to_control():
    main = FakeEngine("main")
    events = AsrWorker(main, settings=settings(candidate_share=1.0)).transcribe(jobs("a", "b"))
    assert [e["arm"] for e in events] == ["control", "control"]
    assert not AsrWorker(main, settings=settings()).router.enabled


def test_an_injected_router_is_used():
    main, cand = FakeEngine("main"), FakeEngine("cand")
    router = Router(RolloutSettings(candidate_model="cand", candidate_tenants=["acme"]))
    worker = AsrWorker(main, candidate=cand, settings=settings(candidate_share=0.0), router=router)
    events = worker.transcribe(
        [
            ChunkJob(make_chunk(recording_id="x", tenant="acme")),
            ChunkJob(make_chunk(recording_id="y", tenant="other")),
        ]
    )
    assert [e["arm"] for e in events] == ["candidate", "control"]

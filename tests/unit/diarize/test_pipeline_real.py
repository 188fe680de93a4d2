"""The real offline pipeline (packaged weights, no hub) on real speech. Slow: loads models."""

from __future__ import annotations

import importlib.resources
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

SR = 16000


def sample():
    base = importlib.resources.files("pyannote.audio").joinpath("sample")
    raw = base.joinpath("sample.wav").read_bytes()
    audio = np.frombuffer(raw[raw.index(b"data") + 8 :], dtype="<i2").astype(np.float32) / 32768
    turns = [
        (float(p[3]), float(p[3]) + float(p[4]), p[7])
        for p in (line.split() for line in base.joinpath("sample.rttm").read_text().splitlines())
    ]
    return audio, turns


def der(reference, hypothesis, collar=0.0) -> float:
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    ref, hyp = Annotation(), Annotation()
    for s, e, label in reference:
        ref[Segment(s, e)] = label
    for s, e, label in hypothesis:
        hyp[Segment(s, e)] = label
    return float(DiarizationErrorRate(collar=collar)(ref, hyp))


@pytest.fixture(scope="module")
def engine():
    from services.diarize.config import DiarizeSettings
    from services.diarize.pipeline import build_engine

    return build_engine(DiarizeSettings())


def test_the_offline_pipeline_records_its_models_and_parameters(engine):
    from services.diarize.hashing import sha256_file
    from services.diarize.pipeline import whisperx_segmentation_dir

    info = engine.info
    assert info.name.startswith("offline:")
    assert info.model_hashes["segmentation"] == sha256_file(whisperx_segmentation_dir() / "pytorch_model.bin")
    assert len(info.model_hashes["embedding"]) == 64
    assert {"clustering.threshold", "embedding.centering", "segmentation_step"} <= set(info.params)
    assert info.device in ("cpu", "cuda")


AUTO_COUNT_GAP = pytest.mark.xfail(
    strict=True,
    reason="known gap: GE2E chunk embeddings put these speakers closer than the threshold "
    "tuned on the pseudo-speaker mixes; the automatic count merges them",
)


def test_sample_call_der_is_low_when_the_speaker_count_is_given(engine):
    audio, reference = sample()
    result = engine(audio, num_speakers=2)
    assert len({label for _, _, label in result.turns}) == 2
    assert der(reference, result.turns) <= 0.08  # measured 0.058 at collar 0
    assert der(reference, result.turns, collar=0.5) <= 0.02  # NIST +-0.25 s collar
    assert set(result.centroids) == {label for _, _, label in result.turns}


@AUTO_COUNT_GAP
def test_sample_call_der_is_low_without_a_speaker_count(engine):
    audio, reference = sample()
    assert der(reference, engine(audio).turns) <= 0.08


def three_speaker_call():
    spec = importlib.util.spec_from_file_location(
        "diarize_corpus", Path(__file__).resolve().parents[3] / "bench" / "diarize_corpus.py"
    )
    corpus = sys.modules.setdefault("diarize_corpus", importlib.util.module_from_spec(spec))
    spec.loader.exec_module(corpus)
    if not corpus.available():
        pytest.skip("Debian pocketsphinx-testdata is not installed")
    return corpus.three_speaker_call()


def test_three_real_speakers_are_separated_when_the_count_is_given(engine):
    call = three_speaker_call()
    result = engine(call.audio, num_speakers=3)
    assert len({label for _, _, label in result.turns}) == 3
    assert der(call.turns, result.turns) <= 0.15  # measured 0.117 at collar 0


def test_three_speaker_call_reference_is_built(engine):
    call = three_speaker_call()
    assert {t[2] for t in call.turns} == {"reader", "cards", "dhd"} and call.duration > 60


@AUTO_COUNT_GAP
def test_three_real_speakers_are_found_without_a_hint(engine):
    call = three_speaker_call()
    result = engine(call.audio)
    assert len({label for _, _, label in result.turns}) == 3


def test_the_ge2e_adapter_matches_resemblyzer():
    from resemblyzer import VoiceEncoder, normalize_volume

    from services.diarize.embedding import GE2EEmbedding

    audio, _ = sample()
    speech = audio[: 10 * SR]
    ours = GE2EEmbedding().embed_waveform(speech)
    reference = VoiceEncoder("cpu", verbose=False).embed_utterance(
        normalize_volume(speech, -30, increase_only=True)
    )
    assert float(ours @ reference) > 0.98


def test_an_empty_mask_gives_nan_so_pyannote_skips_it():
    import torch

    from services.diarize.embedding import GE2EEmbedding

    waveforms = torch.randn(2, 1, 5 * SR) * 0.1
    masks = torch.zeros(2, 293)
    masks[0, 50:200] = 1
    out = GE2EEmbedding()(waveforms, masks)
    assert np.all(np.isfinite(out[0])) and np.all(np.isnan(out[1]))
    assert abs(float(np.linalg.norm(out[0])) - 1) < 1e-4

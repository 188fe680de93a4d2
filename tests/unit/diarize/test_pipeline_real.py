"""The real offline pipeline (packaged weights, no hub) on real speech. Slow: loads models."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

SR = 16000


@pytest.fixture(scope="module")
def corpus():
    """bench/diarize_corpus.py: the sample call, the three-speaker call, RTTM and DER helpers."""
    path = Path(__file__).resolve().parents[3] / "bench" / "diarize_corpus.py"
    spec = importlib.util.spec_from_file_location("diarize_corpus", path)
    module = sys.modules.setdefault("diarize_corpus", importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sample(corpus):
    return corpus.sample_recording()


@pytest.fixture(scope="module")
def three_speakers(corpus):
    if not corpus.available():
        pytest.skip("Debian pocketsphinx-testdata is not installed")
    return corpus.three_speaker_call()


@pytest.fixture(scope="module")
def campplus():
    from services.diarize.campplus import CAMPPlusEmbedding

    return CAMPPlusEmbedding()


@pytest.fixture(scope="module")
def engine():
    from services.diarize.config import DiarizeSettings
    from services.diarize.pipeline import build_engine

    return build_engine(DiarizeSettings())


def test_the_offline_pipeline_records_its_models_and_parameters(engine):
    from mesh.hashing import file_sha256
    from services.diarize.campplus import segmentation_dir, weights_path

    info = engine.info
    assert info.name.startswith("offline:")
    assert info.model_hashes["segmentation"] == file_sha256(segmentation_dir() / "pytorch_model.bin")
    assert info.model_hashes["embedding"] == file_sha256(weights_path())
    assert {"clustering.threshold", "clustering.method", "segmentation_step", "embedding.backend"} <= set(
        info.params
    )
    assert info.device in ("cpu", "cuda")


@pytest.mark.parametrize("hint", [2, None], ids=["hinted", "automatic"])
def test_sample_call_der_is_low(engine, corpus, sample, hint):
    result = engine(sample.audio, num_speakers=hint)
    assert len({label for _, _, label in result.turns}) == 2
    assert corpus.der(sample.turns, result.turns) <= 0.06  # measured 0.056 at collar 0, both ways
    assert corpus.der(sample.turns, result.turns, collar=0.5) <= 0.02  # NIST +-0.25 s collar
    assert set(result.centroids) == {label for _, _, label in result.turns}


def test_three_speaker_call_reference_is_built(three_speakers):
    call = three_speakers
    assert {t[2] for t in call.turns} == {"reader", "cards", "dhd"} and call.duration > 60


@pytest.mark.parametrize("hint", [3, None], ids=["hinted", "automatic"])
def test_three_real_speakers_are_separated(engine, corpus, three_speakers, hint):
    result = engine(three_speakers.audio, num_speakers=hint)
    assert len({label for _, _, label in result.turns}) == 3
    assert corpus.der(three_speakers.turns, result.turns) <= 0.17  # measured 0.141 at collar 0, both ways


def test_campplus_tells_the_same_reader_from_other_people(corpus, three_speakers, campplus):
    """Two different utterances of one LibriVox reader are closer than either is to others."""
    embed = campplus.embed_waveform
    reader = [embed(u) for u in corpus.utterances("reader")[:2]]
    others = [embed(u) for name in ("cards", "dhd") for u in corpus.utterances(name)[:2]]
    same = float(reader[0] @ reader[1])
    across = max(float(r @ o) for r in reader for o in others)
    assert same > 0.5 and same - across > 0.2, (same, across)


def test_masks_select_the_frames_that_are_embedded(sample, campplus):
    import torch

    chunk = torch.from_numpy(sample.audio[8 * SR : 18 * SR].copy())[None, None]
    embedding = campplus
    masks = torch.zeros(3, 589)
    masks[0] = 1  # everything: same as embedding the whole chunk
    masks[1, :294] = 1  # first half only
    out = embedding(chunk.repeat(3, 1, 1), masks)
    whole = embedding.embed_waveform(chunk[0, 0].numpy())
    assert float(out[0] @ whole) > 0.999
    assert float(out[1] @ whole) < 0.99  # a different stretch gives a different vector
    assert np.all(np.isnan(out[2]))  # nobody talks: NaN, which pyannote's clustering skips
    assert abs(float(np.linalg.norm(out[0])) - 1) < 1e-4


def test_onnx_runtime_and_pytorch_give_the_same_embeddings(sample):
    import torch

    from services.diarize.campplus import CAMPPlusEmbedding

    audio = sample.audio
    chunks = torch.from_numpy(np.stack([audio[i * SR : (i + 10) * SR] for i in (0, 8, 18)]))[:, None]
    masks = torch.ones(3, 589)
    masks[1, 300:] = 0
    onnx, eager = CAMPPlusEmbedding(backend="onnx"), CAMPPlusEmbedding(backend="torch")
    assert (onnx.backend, eager.backend) == ("onnxruntime", "torch")
    a, b = onnx(chunks, masks), eager(chunks, masks)
    assert np.all(np.sum(a * b, axis=1) > 0.9999)

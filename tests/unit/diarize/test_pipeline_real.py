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
def test_sample_call_der_is_low(engine, hint):
    audio, reference = sample()
    result = engine(audio, num_speakers=hint)
    assert len({label for _, _, label in result.turns}) == 2
    assert der(reference, result.turns) <= 0.06  # measured 0.056 at collar 0, both ways
    assert der(reference, result.turns, collar=0.5) <= 0.02  # NIST +-0.25 s collar
    assert set(result.centroids) == {label for _, _, label in result.turns}


def three_speaker_call():
    spec = importlib.util.spec_from_file_location(
        "diarize_corpus", Path(__file__).resolve().parents[3] / "bench" / "diarize_corpus.py"
    )
    corpus = sys.modules.setdefault("diarize_corpus", importlib.util.module_from_spec(spec))
    spec.loader.exec_module(corpus)
    if not corpus.available():
        pytest.skip("Debian pocketsphinx-testdata is not installed")
    return corpus


def test_three_speaker_call_reference_is_built():
    call = three_speaker_call().three_speaker_call()
    assert {t[2] for t in call.turns} == {"reader", "cards", "dhd"} and call.duration > 60


@pytest.mark.parametrize("hint", [3, None], ids=["hinted", "automatic"])
def test_three_real_speakers_are_separated(engine, hint):
    call = three_speaker_call().three_speaker_call()
    result = engine(call.audio, num_speakers=hint)
    assert len({label for _, _, label in result.turns}) == 3
    assert der(call.turns, result.turns) <= 0.17  # measured 0.141 at collar 0, both ways


def test_campplus_tells_the_same_reader_from_other_people():
    """Two different utterances of one LibriVox reader are closer than either is to others."""
    from services.diarize.campplus import CAMPPlusEmbedding

    corpus = three_speaker_call()
    embed = CAMPPlusEmbedding().embed_waveform
    reader = [embed(u) for u in corpus.utterances("reader")[:2]]
    others = [embed(u) for name in ("cards", "dhd") for u in corpus.utterances(name)[:2]]
    same = float(reader[0] @ reader[1])
    across = max(float(r @ o) for r in reader for o in others)
    assert same > 0.5 and same - across > 0.2, (same, across)


def test_masks_select_the_frames_that_are_embedded():
    import torch

    from services.diarize.campplus import CAMPPlusEmbedding

    audio, _ = sample()
    chunk = torch.from_numpy(audio[8 * SR : 18 * SR].copy())[None, None]
    embedding = CAMPPlusEmbedding()
    masks = torch.zeros(3, 589)
    masks[0] = 1  # everything: same as embedding the whole chunk
    masks[1, :294] = 1  # first half only
    out = embedding(chunk.repeat(3, 1, 1), masks)
    whole = embedding.embed_waveform(chunk[0, 0].numpy())
    assert float(out[0] @ whole) > 0.999
    assert float(out[1] @ whole) < 0.99  # a different stretch gives a different vector
    assert np.all(np.isnan(out[2]))  # nobody talks: NaN, which pyannote's clustering skips
    assert abs(float(np.linalg.norm(out[0])) - 1) < 1e-4


def test_onnx_runtime_and_pytorch_give_the_same_embeddings():
    import torch

    from services.diarize.campplus import CAMPPlusEmbedding

    audio, _ = sample()
    chunks = torch.from_numpy(np.stack([audio[i * SR : (i + 10) * SR] for i in (0, 8, 18)]))[:, None]
    masks = torch.ones(3, 589)
    masks[1, 300:] = 0
    onnx, eager = CAMPPlusEmbedding(backend="onnx"), CAMPPlusEmbedding(backend="torch")
    assert (onnx.backend, eager.backend) == ("onnxruntime", "torch")
    a, b = onnx(chunks, masks), eager(chunks, masks)
    assert np.all(np.sum(a * b, axis=1) > 0.9999)

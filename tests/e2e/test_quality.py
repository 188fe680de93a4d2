"""The quality service in the running mesh: a real call with its reference gets one
recording-scope QualityReport with a verdict, the proxy's version, coverage, language mix,
its true WER and the redaction counts; a silence probe gets one with no hallucinated words."""

from __future__ import annotations

import pytest

from mesh import topics
from services.ingest.cli import publish_files
from services.quality import join
from services.quality.config import QualitySettings
from services.quality.proxy import WerProxy
from tests.e2e.conftest import sample_dir, sox_noise, stm_text
from tests.e2e.test_transcribe import MAX_WER

pytestmark = pytest.mark.e2e


def recording_report(rid):
    def done(ev) -> bool:
        return any(q["scope"] == "recording" for q in ev.by_id[rid]["QualityReport"])

    return done


def test_a_call_with_its_reference_gets_a_recording_quality_report(publisher, events):
    ev = events(topics.QUALITY)
    reference = stm_text(sample_dir() / "sample.stm")
    [(rid, trace_id)] = publish_files(
        [sample_dir() / "sample.wav"],
        publisher,
        tenant="e2e-quality",
        priority="realtime",
        metadata={join.REFERENCE_KEY: reference},
        progress=False,
    )
    assert ev.wait(recording_report(rid), 600), dict(ev.by_id[rid])
    reports = ev.by_id[rid]["QualityReport"]
    [final] = [q for q in reports if q["scope"] == "recording"]
    chunks = [q for q in reports if q["scope"] == "chunk"]
    assert final["trace_id"] == trace_id and {c["trace_id"] for c in chunks} == {trace_id}
    assert len({c["seq"] for c in chunks}) == final["features"]["chunks"] >= 1
    assert final["proxy_version"] == WerProxy.load(QualitySettings().proxy_path).version
    assert final["verdict"] in ("accepted", "needs_review") and not final["partial"]
    assert final["verdict"] == ("needs_review" if final["reasons"] else "accepted")
    assert final["true_wer"] is not None and final["true_wer"] <= MAX_WER
    assert 0.0 <= final["wer_proxy"] <= 1.0
    assert final["speech_coverage"] >= 0.9 and final["language_mix"] == {"en": pytest.approx(1.0)}
    assert final["speaker_count"] == 2 and final["pii_counts"]  # names and places in the call
    assert final["privacy_errors"] == 0 and final["hallucinated_words"] == 0
    assert final["slice"]["model"].startswith("tiny.en@") and final["slice"]["arm"] == "control"
    assert final["cost_usd"] > 0 and final["models"]


def test_a_silence_probe_is_reported_with_no_hallucinated_words(publisher, events, tmp_path):
    probe = sox_noise(tmp_path / "silence.wav", 8, "whitenoise", 0.003)
    ev = events(topics.QUALITY)
    [(rid, _)] = publish_files(
        [probe],
        publisher,
        tenant="e2e-quality",
        priority="realtime",
        metadata={join.REFERENCE_KEY: ""},
        progress=False,
    )
    assert ev.wait(recording_report(rid), 300), dict(ev.by_id[rid])
    [final] = [q for q in ev.by_id[rid]["QualityReport"] if q["scope"] == "recording"]
    assert final["hallucinated_words"] == 0 and final["word_count"] == 0
    assert final["true_wer"] is None

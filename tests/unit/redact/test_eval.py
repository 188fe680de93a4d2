"""Recall and precision on the held-out splits of the labelled call-transcript set.

The set (tests/data/pii_eval.jsonl, made by tests/data/make_pii_eval.py) has a dev split used
while building the recognizers and two held-out splits written with their own sentence
templates, renderings and names, places and streets: "test6" (fail-closed numbers,
lower-case names and places, Whisper transcripts; written before the recognizer changes it
is scored for, see make_pii_eval.py) is asserted against ``evaluation.TARGETS`` on its
written rows and ``evaluation.ASR_ANY_TYPE_TARGET`` on its ASR rows, the earlier "test"
against ``evaluation.FIRST_TEST_TARGETS``. Matching rule: see services/redact/evaluation.py
(same type, at least one shared character).
"""

from __future__ import annotations

import pytest

from services.redact import evaluation
from services.redact.analyzer import SUPPORTED_ENTITIES

pytestmark = pytest.mark.slow


def _report(detector, split: str, asr: bool | None = None) -> evaluation.Report:
    rows = [r for r in evaluation.load(split=split) if asr is None or evaluation.is_asr(r) == asr]
    return evaluation.evaluate(
        lambda texts: [
            [(d.entity_type, d.start, d.end) for d in ds]
            for ds in detector.detect_many(texts, SUPPORTED_ENTITIES)
        ],
        rows,
    )


@pytest.fixture(scope="module")
def report(detector):
    return _report(detector, evaluation.HELD_OUT_SPLIT, asr=False)


@pytest.fixture(scope="module")
def asr_report(detector):
    return _report(detector, evaluation.HELD_OUT_SPLIT, asr=True)


@pytest.fixture(scope="module")
def first_report(detector):
    return _report(detector, "test")


def test_eval_set_is_big_enough_and_labels_match_their_text():
    rows = evaluation.load()
    assert len(rows) >= 200
    assert {r["split"] for r in rows} == {"dev", "test", evaluation.HELD_OUT_SPLIT}
    negatives = [r for r in rows if not r["entities"]]
    assert len(negatives) >= 40
    assert len([r for r in negatives if r["split"] == evaluation.HELD_OUT_SPLIT]) >= 30
    asr = [r for r in rows if r["group"] == "asr"]
    assert {r["split"] for r in asr} == {"dev", evaluation.HELD_OUT_SPLIT} and len(asr) >= 40
    for r in rows:
        for e in r["entities"]:
            assert r["text"][e["start"] : e["end"]] == e["text"]


@pytest.mark.parametrize(("entity", "target"), sorted(evaluation.TARGETS.items()))
def test_recall_target_on_held_out_split(report, entity, target):
    score = report.per_type[entity]
    assert score.labelled >= 30
    assert score.recall >= target, report.table()


@pytest.mark.parametrize("entity", sorted(evaluation.TARGETS))
def test_precision_target_on_held_out_split(report, entity):
    assert report.per_type[entity].precision >= evaluation.PRECISION_TARGET, report.table()


def test_overall_precision_on_held_out_split(report):
    assert report.overall.precision >= evaluation.PRECISION_TARGET, report.table()


def test_asr_transcripts_of_the_held_out_split_are_redacted_under_some_type(asr_report):
    assert asr_report.overall.labelled >= 20
    assert asr_report.overall.any_type_recall >= evaluation.ASR_ANY_TYPE_TARGET, asr_report.table()


@pytest.mark.parametrize(("entity", "target"), sorted(evaluation.FIRST_TEST_TARGETS.items()))
def test_recall_target_on_the_first_held_out_split(first_report, entity, target):
    score = first_report.per_type[entity]
    assert score.labelled >= 30
    assert score.recall >= target, first_report.table()
    assert score.precision >= evaluation.PRECISION_TARGET, first_report.table()


def test_scorer_counts_overlaps_by_type():
    rows = [
        {
            "text": "call Sarah at 555 1234",
            "entities": [
                {"type": "PERSON", "start": 5, "end": 10},
                {"type": "PHONE_NUMBER", "start": 14, "end": 22},
            ],
        }
    ]
    rep = evaluation.score(rows, [[("PERSON", 5, 8), ("LOCATION", 14, 22), ("PERSON", 0, 4)]])
    assert (rep.per_type["PERSON"].found, rep.per_type["PERSON"].detected) == (1, 2)
    assert rep.per_type["PERSON"].correct == 1
    assert rep.per_type["PHONE_NUMBER"].recall == 0.0
    assert rep.per_type["PHONE_NUMBER"].any_type_recall == 1.0
    assert rep.per_type["PERSON"].char_coverage == 0.6

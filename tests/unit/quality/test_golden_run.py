"""The golden run's bookkeeping: what each published recording carries, how rows and the
per-slice table are made from the reports, which gate decision belongs to the run."""

from __future__ import annotations

import json
from pathlib import Path

from services.quality import join
from services.quality.golden.corpus import GoldenItem
from services.quality.golden.run import gate_decision, metadata_for, table
from stt_mesh.checklist import METADATA_KEY, parse_checklist


def item(
    slice_: str = "clean",
    split: str = "tune",
    kind: str = "speech",
    reference: str = "a b c",
    channels: int = 1,
    refs: tuple[str, ...] = (),
) -> GoldenItem:
    return GoldenItem(
        id=f"{slice_}/x",
        slice=slice_,
        split=split,
        path=Path("/dev/null"),
        reference=reference,
        language="en",
        rttm=None,
        channels=channels,
        channel_roles=("agent", "customer") if channels > 1 else (),
        num_speakers=None,
        source="test",
        duration_s=1.0,
        kind=kind,
        channel_references=refs,
    )


def test_every_golden_recording_carries_its_reference_run_slice_and_split():
    meta = metadata_for(item("telephone", "heldout"), "run-1")
    assert meta[join.REFERENCE_KEY] == "a b c"
    assert (meta[join.GOLDEN_RUN_KEY], meta[join.GOLDEN_SLICE_KEY], meta[join.GOLDEN_SPLIT_KEY]) == (
        "run-1",
        "telephone",
        "heldout",
    )
    assert all(isinstance(v, str) for v in meta.values())  # producer metadata is a string map


def test_a_stereo_item_carries_one_reference_per_channel():
    meta = metadata_for(item("stereo", channels=2, refs=("hi there", "hello")), "r")
    assert json.loads(meta[join.REFERENCE_CHANNELS_KEY]) == ["hi there", "hello"]


def test_a_golden_recording_with_a_reference_carries_its_summary_checklist():
    ref = "the customer wants a refund for the duplicated invoice on her account"
    meta = metadata_for(item(reference=ref), "run-1")
    assert parse_checklist(meta[METADATA_KEY]) == ["duplicated", "customer", "account"]
    assert metadata_for(item(reference=ref), "run-2")[METADATA_KEY] == meta[METADATA_KEY]


def test_a_probe_or_a_reference_without_content_words_carries_no_checklist():
    assert METADATA_KEY not in metadata_for(item(kind="probe", reference=""), "r")
    assert METADATA_KEY not in metadata_for(item(reference="a b c"), "r")


def _row(
    slice_: str, arm: str, wer: float | None, words: int = 10, kind: str = "speech", halluc: int = 0
) -> dict:
    return {
        "slice": slice_,
        "model": f"m-{arm}@1",
        "arm": arm,
        "true_wer": wer,
        "wer_proxy": 0.1,
        "reference_words": words,
        "kind": kind,
        "hallucinated_words": halluc,
        "der": None,
        "speech_coverage": 1.0,
        "verdict": "accepted",
        "rtf": 0.1,
        "item": "i",
        "missing": False,
    }


def test_the_table_pools_wer_over_words_and_sums_hallucinations_on_probes():
    rows = [
        _row("clean", "control", 0.0, 10),
        _row("clean", "control", 0.5, 30),
        _row("silence", "control", None, 0, "probe", 2),
    ]
    out = table(rows)
    clean = next(line for line in out.splitlines() if line.startswith("clean"))
    assert "0.250" in clean  # mean of 0.0 and 0.5
    assert "0.375" in clean  # pooled: 15 errors / 40 words
    silence = next(line for line in out.splitlines() if line.startswith("silence"))
    assert silence.split()[-2] == "2"


def test_the_gate_decision_of_the_run_is_the_newest_that_counts_every_candidate():
    class Ev:
        by_id: dict

    def decision(n: int, at: int, run: str = "r") -> dict:
        return {
            "golden_run": run,
            "produced_at_ms": at,
            "decision": "pause",
            "slices": [{"slice": "all", "metric": "wer", "candidate_n": n}],
        }

    ev = Ev()
    ev.by_id = {"golden:r": {"GateDecision": [decision(3, 1), decision(5, 2), decision(5, 3, "other")]}}
    assert gate_decision(ev, "r", 5)["produced_at_ms"] == 2
    assert gate_decision(ev, "r", 6) is None

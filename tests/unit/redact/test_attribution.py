"""Word-to-speaker attribution by maximum overlap, nearest turn in gaps."""

from __future__ import annotations

import ast
from pathlib import Path

from services.redact.attribution import attribute_words


def w(text: str, start: float, end: float) -> dict:
    return {"word": text, "start_s": start, "end_s": end, "probability": 0.9, "speaker": None}


def t(speaker: str, start: float, end: float, channel: int | None = None) -> dict:
    return {"speaker": speaker, "start_s": start, "end_s": end, "overlap": False, "channel": channel}


TURNS = [t("A", 0.0, 2.0), t("B", 1.8, 4.0), t("A", 6.0, 8.0)]


def speakers(words, turns=TURNS, **kw):
    return [x["speaker"] for x in attribute_words(words, turns, **kw)]


def test_a_word_inside_a_turn_gets_that_speaker():
    assert speakers([w("hello", 0.5, 0.9), w("there", 2.5, 2.9)]) == ["A", "B"]


def test_a_word_across_two_turns_gets_the_one_it_overlaps_most():
    assert speakers([w("so", 1.7, 2.2)]) == ["B"]  # A: 0.3 s, B: 0.4 s
    assert speakers([w("so", 1.5, 1.95)]) == ["A"]  # A: 0.45 s, B: 0.15 s


def test_a_word_in_a_gap_gets_the_nearest_turn():
    assert speakers([w("um", 4.2, 4.5)]) == ["B"]  # 0.2 s after B, 1.5 s before A
    assert speakers([w("uh", 5.5, 5.8)]) == ["A"]  # 0.2 s before A
    assert speakers([w("late", 9.0, 9.5)]) == ["A"]
    assert speakers([w("early", -1.0, -0.5)], [t("B", 1.0, 2.0)]) == ["B"]


def test_equal_distances_and_equal_overlaps_go_to_the_earlier_turn():
    assert speakers([w("x", 4.5, 5.5)]) == ["B"]  # 0.5 s either way
    assert speakers([w("y", 1.0, 2.0)], [t("A", 0.0, 1.5), t("B", 1.5, 3.0)]) == ["A"]


def test_a_long_turn_that_started_early_still_counts():
    turns = [t("A", 0.0, 100.0)] + [t("B", s, s + 0.5) for s in range(10, 90, 2)]
    assert speakers([w("still", 95.0, 95.4)], turns) == ["A"]


def test_words_keep_their_fields_and_are_copies():
    words = [w("hi", 0.1, 0.2)]
    out = attribute_words(words, TURNS)
    assert out[0] == {**words[0], "speaker": "A"}
    assert words[0]["speaker"] is None


def test_without_turns_speaker_stays_none():
    assert speakers([w("hi", 0.1, 0.2)], []) == [None]


def test_a_channel_only_uses_its_own_turns():
    turns = [t("agent", 0.0, 5.0, channel=0), t("customer", 1.0, 3.0, channel=1)]
    assert speakers([w("yes", 1.5, 2.0)], turns, channel=1) == ["customer"]
    assert speakers([w("yes", 1.5, 2.0)], turns, channel=0) == ["agent"]


def test_zero_length_words_inside_a_turn_are_attributed():
    assert speakers([w("a", 7.0, 7.0)]) == ["A"]


def test_the_module_imports_no_torch_or_numpy():
    import services.redact.attribution as mod

    tree = ast.parse(Path(mod.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"torch", "numpy", "pyannote"}


def test_each_word_uses_its_own_channels_turns_during_crosstalk():
    turns = [t("agent", 0.0, 5.0, channel=0), t("customer", 1.0, 3.0, channel=1)]
    words = [dict(w("hello", 1.2, 2.8), channel=0), dict(w("yes", 1.5, 2.0), channel=1)]
    assert speakers(words, turns) == ["agent", "customer"]


def test_a_channel_without_turns_falls_back_to_all_turns():
    turns = [t("agent", 0.0, 5.0, channel=0)]
    assert speakers([dict(w("hm", 1.0, 1.2), channel=1)], turns) == ["agent"]

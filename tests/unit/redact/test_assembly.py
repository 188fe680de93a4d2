"""The per-recording join: completion, duplicates, speaker turns and timeouts."""

from __future__ import annotations

from services.redact.assembly import RecordingAssembler


def assembler(attribute, **kw) -> RecordingAssembler:
    kw.setdefault("diarization_enabled", True)
    return RecordingAssembler(attribute=attribute, **kw)


def test_when_all_chunks_and_turns_arrived_then_the_recording_is_emitted(attribute, make_chunk, make_turns):
    asm = assembler(attribute)
    assert asm.add_transcript(make_chunk(1, 2, ["second chunk here"], t0=10.0), now=0) == []
    assert asm.add_transcript(make_chunk(0, 2, ["first chunk here"]), now=1) == []
    (rec,) = asm.add_turns(make_turns("call-1", [("A", 0, 5), ("B", 5, 60)]), now=2)
    assert [w["word"].strip() for w in rec.words] == ["first", "chunk", "here", "second", "chunk", "here"]
    assert {w["speaker"] for w in rec.words[:3]} == {"A"}
    assert {w["speaker"] for w in rec.words[3:]} == {"B"}
    assert (rec.speakers, rec.chunk_count, rec.tenant, rec.language) == ("turns", 2, "acme", "en")
    assert len(asm) == 0


def test_when_a_chunk_is_delivered_twice_then_the_duplicate_is_ignored(attribute, make_chunk):
    asm = assembler(attribute, diarization_enabled=False)
    asm.add_transcript(make_chunk(0, 2, ["hello there"]), now=0)
    assert asm.add_transcript(make_chunk(0, 2, ["hello there"]), now=1) == []
    (rec,) = asm.add_transcript(make_chunk(1, 2, ["bye now"], t0=5.0), now=2)
    assert len(rec.words) == 4 and asm.duplicates == 1


def test_when_diarization_is_off_then_completion_alone_emits(attribute, make_chunk):
    asm = assembler(attribute, diarization_enabled=False)
    (rec,) = asm.add_transcript(make_chunk(0, 1, ["only chunk"]), now=0)
    assert rec.speakers == "none"


def test_when_turns_never_come_then_the_timeout_emits_without_speakers(attribute, make_chunk):
    asm = assembler(attribute, turns_timeout_s=30)
    assert asm.add_transcript(make_chunk(0, 1, ["waiting for turns"]), now=100) == []
    assert asm.expire(now=129) == []
    (rec,) = asm.expire(now=130)
    assert rec.speakers == "none" and all(w.get("speaker") is None for w in rec.words)


def test_when_turns_come_first_then_the_last_chunk_emits(attribute, make_chunk, make_turns):
    asm = assembler(attribute)
    assert asm.add_turns(make_turns("call-1", [("A", 0, 60)]), now=0) == []
    (rec,) = asm.add_transcript(make_chunk(0, 1, ["turns were early"]), now=1)
    assert rec.speakers == "turns"


def test_when_events_arrive_after_emission_then_they_are_late(attribute, make_chunk, make_turns):
    asm = assembler(attribute, diarization_enabled=False)
    asm.add_transcript(make_chunk(0, 1, ["done"]), now=0)
    assert asm.add_transcript(make_chunk(0, 1, ["done"]), now=1) == []
    assert asm.add_turns(make_turns("call-1", [("A", 0, 9)]), now=2) == []
    assert asm.late == 2 and len(asm) == 0


def test_when_transcripts_never_complete_then_the_recording_is_forgotten(attribute, make_chunk):
    asm = assembler(attribute, max_age_s=100)
    asm.add_transcript(make_chunk(0, 3, ["one of three"]), now=0)
    assert asm.expire(now=100) == []
    assert len(asm) == 0 and asm.dropped == 1


def test_when_too_many_recordings_are_pending_then_the_oldest_is_dropped(attribute, make_chunk):
    asm = assembler(attribute, max_pending=2)
    for k in range(3):
        asm.add_transcript(make_chunk(0, 2, ["x"], rid=f"r{k}"), now=k)
    assert len(asm) == 2 and asm.dropped == 1


def test_segments_without_word_times_become_one_pseudo_word(attribute, make_chunk):
    value = make_chunk(0, 1, ["no words here"])
    value["segments"][0]["words"] = []
    (rec,) = assembler(attribute, diarization_enabled=False).add_transcript(value, now=0)
    assert [w["word"].strip() for w in rec.words] == ["no words here"]


def test_when_no_diarizer_is_deployed_then_a_complete_recording_goes_out_without_waiting(
    attribute, make_chunk
):
    asm = assembler(attribute, expect_turns=lambda: False)
    (rec,) = asm.add_transcript(make_chunk(0, 1, ["only chunk"]), now=0)
    assert rec.speakers == "none"


def test_when_the_diarizer_goes_away_then_a_waiting_recording_goes_out_at_the_next_expiry(
    attribute, make_chunk
):
    deployed = [True]
    asm = assembler(attribute, expect_turns=lambda: deployed[0], turns_timeout_s=120.0)
    assert asm.add_transcript(make_chunk(0, 1, ["only chunk"]), now=0) == []
    assert asm.expire(now=1) == []  # a diarizer runs: its turns are worth waiting for
    deployed[0] = False
    (rec,) = asm.expire(now=2)  # long before the 120 s timeout
    assert rec.speakers == "none" and len(asm) == 0

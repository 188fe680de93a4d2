"""Stereo calls: speakers come from the channel (energy + webrtcvad, no model)."""

from __future__ import annotations

import numpy as np

from services.diarize.assembly import Assembler
from services.diarize.channels import ChannelParams, channel_turns, segments

SR = 16000


def stereo(tmp_path, chunk_factory, voice_factory, roles=("agent", "customer"), bleed_db=-25.0):
    """Channel 0 talks 0.5-2.5 s and 5-6 s, channel 1 talks 3-4.5 s; each leaks into the other."""
    n = 7 * SR
    left, right = np.zeros(n, np.float32), np.zeros(n, np.float32)
    left[int(0.5 * SR) : int(2.5 * SR)] = voice_factory(2.0, 120, seed=1)
    left[5 * SR : 6 * SR] = voice_factory(1.0, 120, seed=2)
    right[3 * SR : int(4.5 * SR)] = voice_factory(1.5, 210, seed=3)
    leak = np.float32(10 ** (bleed_db / 20))
    left, right = left + leak * right, right + leak * left
    asm = Assembler(tmp_path)
    hints = list(roles) if roles else None
    asm.add(chunk_factory(seq=0, channel=0, samples=left, chunk_count=2, channel_roles=hints))
    return asm.add(
        chunk_factory(seq=1, channel=1, samples=right, is_last=True, chunk_count=2, channel_roles=hints)
    ).ready


def test_each_channel_is_one_speaker_named_by_role(tmp_path, chunk_factory, voice_factory):
    turns = channel_turns(stereo(tmp_path, chunk_factory, voice_factory).channels)
    assert [(t.speaker, t.channel) for t in turns] == [("agent", 0), ("customer", 1), ("agent", 0)]
    expected = [(0.5, 2.5), (3.0, 4.5), (5.0, 6.0)]
    for turn, (start, end) in zip(turns, expected, strict=True):
        assert abs(turn.start_s - start) < 0.15 and abs(turn.end_s - end) < 0.15


def test_crosstalk_from_the_other_channel_is_not_a_turn(tmp_path, chunk_factory, voice_factory):
    closed = stereo(tmp_path, chunk_factory, voice_factory, bleed_db=-12.0)
    turns = channel_turns(closed.channels, ChannelParams(margin_db=6.0))
    assert [t.channel for t in turns] == [0, 1, 0]


def test_without_roles_speakers_are_named_by_channel(tmp_path, chunk_factory, voice_factory):
    closed = stereo(tmp_path, chunk_factory, voice_factory, roles=None)
    assert {t.speaker for t in channel_turns(closed.channels)} == {"CHANNEL_0", "CHANNEL_1"}


def test_short_gaps_are_bridged_and_blips_dropped():
    frames = np.zeros(200, dtype=bool)
    frames[10:40] = True  # 0.9 s
    frames[45:70] = True  # after a 0.15 s gap: bridged
    frames[120:124] = True  # 0.12 s blip: dropped
    assert segments(frames, min_gap_s=0.3, min_speech_s=0.2) == [(0.3, 2.1)]

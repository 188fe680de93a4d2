"""Stereo calls with one speaker per channel: who spoke when, without a model.

When a recording arrives as separate channels (agent on one, customer on the other), the
channel already says who is talking; a diarization model would only add errors. Each channel
is read in blocks from its spill file, split into 30 ms frames and marked as speech when
webrtcvad says so, the frame is above an absolute floor, and it is not much quieter than the
loudest other channel at that moment (``margin_db``: the quiet copy is echo or crosstalk
leaking between channels, not a second talker). Short gaps are bridged and blips dropped.
Speakers are named by ``channel_role`` when known, else ``CHANNEL_<n>``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .assembly import SAMPLE_RATE, ChannelAudio

FRAME = 480  # 30 ms at 16 kHz, a webrtcvad frame size
FRAME_S = FRAME / SAMPLE_RATE
BLOCK_FRAMES = 2000  # 60 s per read: memory stays bounded for any call length


@dataclass(frozen=True)
class ChannelParams:
    margin_db: float = 6.0
    floor_dbfs: float = -55.0
    vad_mode: int = 2
    min_gap_s: float = 0.3
    min_speech_s: float = 0.2


@dataclass(frozen=True)
class ChannelTurn:
    speaker: str
    start_s: float
    end_s: float
    channel: int


def channel_speech(
    channels: dict[int, ChannelAudio], params: ChannelParams | None = None
) -> dict[int, np.ndarray]:
    """Per channel, a boolean speech flag for each 30 ms frame."""
    import webrtcvad

    params = params or ChannelParams()
    vads = {ch: webrtcvad.Vad(params.vad_mode) for ch in channels}
    total = max((a.num_samples for a in channels.values()), default=0)
    n_frames = total // FRAME
    flags = {ch: np.zeros(n_frames, dtype=bool) for ch in channels}
    for first in range(0, n_frames, BLOCK_FRAMES):
        count = min(BLOCK_FRAMES, n_frames - first)
        level, voiced = {}, {}
        for ch, audio in channels.items():
            frames = audio.read(first * FRAME, (first + count) * FRAME).reshape(count, FRAME)
            level[ch] = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
            pcm = (frames * 32768).clip(-32768, 32767).astype("<i2")
            voiced[ch] = np.array([vads[ch].is_speech(f.tobytes(), SAMPLE_RATE) for f in pcm])
        for ch in channels:
            others = [level[o] for o in channels if o != ch]
            loudest_other = np.max(others, axis=0) if others else np.full(count, -np.inf)
            own = voiced[ch] & (level[ch] > params.floor_dbfs)
            own &= level[ch] > loudest_other - params.margin_db
            flags[ch][first : first + count] = own
    return flags


def segments(flags: np.ndarray, min_gap_s: float, min_speech_s: float) -> list[tuple[float, float]]:
    """Frame flags -> (start_s, end_s) stretches, gaps < min_gap_s bridged, blips dropped."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    starts, ends = np.where(edges == 1)[0], np.where(edges == -1)[0]
    merged: list[list[int]] = []
    for s, e in zip(starts, ends, strict=True):
        if merged and (s - merged[-1][1]) * FRAME_S < min_gap_s:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    return [(s * FRAME_S, e * FRAME_S) for s, e in merged if (e - s) * FRAME_S >= min_speech_s]


def channel_turns(
    channels: dict[int, ChannelAudio], params: ChannelParams | None = None
) -> list[ChannelTurn]:
    params = params or ChannelParams()
    turns = []
    for ch, flags in channel_speech(channels, params).items():
        name = channels[ch].role or f"CHANNEL_{ch}"
        for start, end in segments(flags, params.min_gap_s, params.min_speech_s):
            turns.append(ChannelTurn(speaker=name, start_s=start, end_s=end, channel=ch))
    return sorted(turns, key=lambda t: (t.start_s, t.channel))

"""Times decoded on speech-only audio map back onto the chunk timeline."""

from __future__ import annotations

import numpy as np
from faster_whisper.vad import SpeechTimestampsMap

from services.asr.results import Segment, Word
from services.asr.vadclip import clip_speech, restore_times


def test_without_vad_the_audio_is_used_whole():
    audio = np.ones(16000, np.float32)
    clipped = clip_speech(audio, None)
    assert clipped.audio is audio and clipped.speech_s == 1.0 and clipped.ts_map is None


def test_word_times_move_past_the_removed_silence():
    # Speech at [1, 2) s and [5, 6) s of the chunk, glued into 2 s of audio.
    ts_map = SpeechTimestampsMap([{"start": 16000, "end": 32000}, {"start": 80000, "end": 96000}], 16000)
    words = (Word(" one", 0.2, 0.6, 0.9), Word(" two", 1.2, 1.6, 0.9))
    [seg] = restore_times([Segment(0.2, 1.6, " one two", words, -0.1, 0.0, 1.0)], ts_map)
    assert [(w.start, w.end) for w in seg.words] == [(1.2, 1.6), (5.2, 5.6)]
    assert (seg.start, seg.end) == (1.2, 5.6)

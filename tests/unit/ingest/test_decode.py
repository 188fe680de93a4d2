from __future__ import annotations

import numpy as np
import pytest

from services.ingest.decode import DecodeError, DecodeLimits, decode

CODECS = [
    # (container, codec, rate, expected container, expected codec)
    ("wav", "pcm_u8", 16000, "wav", "pcm_u8"),
    ("wav", "pcm_s16le", 44100, "wav", "pcm_s16le"),
    ("wav", "pcm_s24le", 48000, "wav", "pcm_s24le"),
    ("wav", "pcm_s32le", 22050, "wav", "pcm_s32le"),
    ("wav", "pcm_f32le", 16000, "wav", "pcm_f32le"),
    ("wav", "pcm_mulaw", 8000, "wav", "pcm_mulaw"),
    ("wav", "pcm_alaw", 8000, "wav", "pcm_alaw"),
    ("flac", "flac", 16000, "flac", "flac"),
    ("mp3", "libmp3lame", 22050, "mp3", "mp3"),
    ("ogg", "libopus", 48000, "ogg", "opus"),
    ("ipod", "aac", 44100, "mp4", "aac"),
]


def dominant_hz(samples: np.ndarray, rate: int = 16000) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


@pytest.mark.parametrize(("fmt", "codec", "rate", "container", "codec_name"), CODECS)
def test_each_codec_decodes_to_16khz_mono_with_its_duration_and_source_facts(
    kit, fmt, codec, rate, container, codec_name
):
    data = kit.encode(kit.tone(440, 3.0, rate), rate, fmt, codec)
    audio = decode(data)
    assert (audio.container, audio.codec) == (container, codec_name)
    assert audio.original_sample_rate == rate
    assert audio.channels == 1
    assert audio.samples.dtype == np.float32 and audio.samples.shape[0] == 1
    assert audio.duration_s == pytest.approx(3.0, abs=0.06)  # codec priming/padding only
    assert dominant_hz(audio.samples[0, 1600:-1600]) == pytest.approx(440, abs=5)


def test_when_8khz_telephony_is_resampled_then_pitch_and_length_are_kept(kit):
    data = kit.encode(kit.tone(1000, 2.0, 8000), 8000, "wav", "pcm_mulaw")
    audio = decode(data)
    assert audio.samples.shape == (1, 32000)
    assert dominant_hz(audio.samples[0]) == pytest.approx(1000, abs=5)


@pytest.mark.parametrize(
    ("content_type", "filename", "codec"),
    [
        ("audio/basic", None, "pcm_mulaw"),
        ("audio/PCMU;rate=8000", None, "pcm_mulaw"),
        ("audio/x-alaw", None, "pcm_alaw"),
        ("application/octet-stream", "call-0042.ul", "pcm_mulaw"),
        (None, "call-0042.al", "pcm_alaw"),
    ],
)
def test_raw_g711_bodies_decode_when_content_type_or_suffix_names_them(kit, content_type, filename, codec):
    data = kit.encode(kit.tone(600, 1.5, 8000), 8000, codec.split("_")[1], codec)
    assert data[:4] != b"RIFF"  # headerless
    audio = decode(data, content_type=content_type, filename=filename)
    assert audio.codec == codec
    assert audio.original_sample_rate == 8000
    assert audio.duration_s == pytest.approx(1.5, abs=0.01)
    assert dominant_hz(audio.samples[0]) == pytest.approx(600, abs=5)


def test_when_a_raw_body_has_no_type_or_suffix_then_it_is_not_audio(kit):
    data = kit.encode(kit.tone(600, 1.0, 8000), 8000, "mulaw", "pcm_mulaw")
    with pytest.raises(DecodeError) as info:
        decode(data, content_type="application/octet-stream")
    assert info.value.error_type == "not_audio"


def test_when_content_type_carries_a_rate_then_raw_l16_uses_it():
    pcm = (np.sin(2 * np.pi * 300 * np.arange(24000) / 24000) * 8000).astype(">i2").tobytes()
    audio = decode(pcm, content_type="audio/L16; rate=24000")
    assert audio.original_sample_rate == 24000
    assert audio.duration_s == pytest.approx(1.0, abs=0.01)


def test_when_channels_are_kept_apart_then_each_row_holds_its_own_channel(kit):
    left, right = kit.tone(440, 2.0, 44100), np.zeros(88200, np.float32)
    data = kit.encode(np.stack([left, right]), 44100, "wav", "pcm_s16le")
    split = decode(data, keep_channels=True)
    mixed = decode(data)
    assert split.samples.shape == (2, 32000) and split.channels == 2
    assert np.sqrt(np.mean(split.samples[0] ** 2)) > 0.3
    assert np.max(np.abs(split.samples[1])) < 1e-3
    assert mixed.samples.shape == (1, 32000) and mixed.channels == 2


def test_when_a_header_declares_more_than_the_limit_then_decoding_stops_as_too_long(kit):
    data = kit.encode(kit.tone(440, 6.0), 16000, "flac", "flac")
    with pytest.raises(DecodeError) as info:
        decode(data, limits=DecodeLimits(max_duration_s=5.0))
    assert info.value.error_type == "too_long"


def test_when_an_mp3_has_no_length_header_then_the_decoded_length_is_capped(kit):
    data = kit.encode(kit.tone(440, 8.0), 16000, "mp3", "libmp3lame", {"write_xing": "0"})
    with pytest.raises(DecodeError) as info:
        decode(data, limits=DecodeLimits(max_duration_s=5.0))
    assert info.value.error_type == "too_long"


def test_when_too_many_channels_are_to_be_kept_apart_then_it_is_refused(kit):
    data = kit.encode(np.stack([kit.tone(440, 1.0)] * 2), 16000, "wav", "pcm_s16le")
    with pytest.raises(DecodeError) as info:
        decode(data, keep_channels=True, limits=DecodeLimits(max_channels=1))
    assert info.value.error_type == "too_many_channels"

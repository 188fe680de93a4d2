"""Recognise a container from its first bytes, spot files that were cut short, and map
headerless telephony content types to raw formats.

Why not leave all of this to FFmpeg: it derives a WAV's or an Ogg file's length from the bytes
present, so a recording cut off mid-upload decodes "successfully" as a shorter one; and it
reports an MP4 whose index never got written as plain invalid data. A few structural checks
on the container tell these apart, so producers get ``truncated`` instead of a silent loss.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_MAGIC = (
    (0, b"fLaC", "flac"),
    (0, b"OggS", "ogg"),
    (0, b"ID3", "mp3"),
    (4, b"ftyp", "mp4"),
    (0, b"\x1a\x45\xdf\xa3", "matroska"),
    (0, b".snd", "au"),
    (0, b"#!AMR", "amr"),
    (0, b"caff", "caf"),
    (0, b"RF64", "wav"),
)

# Content types of headerless telephony audio: FFmpeg demuxer and default sample rate.
_RAW_TYPES = {
    "audio/basic": "mulaw",
    "audio/pcmu": "mulaw",
    "audio/mulaw": "mulaw",
    "audio/x-mulaw": "mulaw",
    "audio/ulaw": "mulaw",
    "audio/x-ulaw": "mulaw",
    "audio/pcma": "alaw",
    "audio/alaw": "alaw",
    "audio/x-alaw": "alaw",
    "audio/l16": "s16be",  # RFC 2586: network byte order
}
_RAW_SUFFIXES = {
    ".ul": "mulaw",
    ".ulaw": "mulaw",
    ".mulaw": "mulaw",
    ".mu": "mulaw",
    ".al": "alaw",
    ".alaw": "alaw",
}
_RAW_DEFAULT_RATE = {"mulaw": 8000, "alaw": 8000, "s16be": 8000}


@dataclass(frozen=True)
class RawFormat:
    """A headerless body: which FFmpeg demuxer reads it, at what rate, with how many channels."""

    demuxer: str
    sample_rate: int
    channels: int = 1


def sniff(data: bytes) -> str | None:
    """Short container name recognised from the magic bytes, or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"FORM" and data[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    for offset, magic, name in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return name
    if len(data) >= 2 and data[0] == 0xFF:
        if data[1] & 0xF6 == 0xF0:
            return "aac"  # ADTS: 12-bit sync, layer 00
        if data[1] & 0xE0 == 0xE0 and (data[1] >> 1) & 3:
            return "mp3"  # MPEG audio frame sync with a layer set
    return None


def raw_format(content_type: str | None, filename: str | None) -> RawFormat | None:
    """The raw format a content type (with ``rate``/``channels`` parameters) or suffix names."""
    mime, params = _parse_content_type(content_type or "")
    demuxer = _RAW_TYPES.get(mime)
    if demuxer is None and filename:
        suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        demuxer = _RAW_SUFFIXES.get(suffix)
    if demuxer is None:
        return None
    rate = _positive_int(params.get("rate"), _RAW_DEFAULT_RATE[demuxer])
    return RawFormat(demuxer, rate, _positive_int(params.get("channels"), 1))


def media_type(content_type: str | None) -> str:
    """``"Audio/WAV; codecs=1"`` -> ``"audio/wav"``."""
    return _parse_content_type(content_type or "")[0]


def truncation(data: bytes, container: str | None) -> str | None:
    """Why the file looks cut short, or None when its structure is complete (or unknown)."""
    check = {"wav": _wav_truncation, "mp4": _mp4_truncation, "ogg": _ogg_truncation}.get(container or "")
    return check(data) if check else None


def mp3_declares_length(data: bytes) -> bool:
    """Whether an MP3 carries a Xing/Info/VBRI frame count; without one FFmpeg guesses the
    length from the bit rate, which says nothing about truncation."""
    start = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        size = data[6:10]
        start = 10 + ((size[0] << 21) | (size[1] << 14) | (size[2] << 7) | size[3])
    head = data[start : start + 256]
    return any(tag in head for tag in (b"Xing", b"Info", b"VBRI"))


def _parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    mime, *rest = (p.strip() for p in value.split(";"))
    params = {}
    for item in rest:
        key, _, val = item.partition("=")
        params[key.strip().lower()] = val.strip().strip('"')
    return mime.lower(), params


def _positive_int(value: str | None, default: int) -> int:
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return number if number > 0 else default


def _wav_truncation(data: bytes) -> str | None:
    if data[:4] != b"RIFF":
        return None  # RF64 keeps sizes in a ds64 chunk; trust FFmpeg there
    pos, byte_rate = 12, 0
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if chunk == b"fmt " and pos + 20 <= len(data):
            byte_rate = struct.unpack_from("<I", data, pos + 16)[0]
        if chunk == b"data":
            if size in (0, 0xFFFFFFFF):
                return None  # written as a stream: the length was never filled in
            missing = pos + 8 + size - len(data)
            tolerance = max(64, byte_rate // 50)  # 20 ms: writers round the last block
            if missing > tolerance:
                return f"WAV data chunk declares {size} bytes but only {size - missing} are present"
            return None
        pos += 8 + size + (size & 1)
    return "the file ends before the WAV header is complete"


def _mp4_truncation(data: bytes) -> str | None:
    pos, seen = 0, set()
    while pos + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1 and pos + 16 <= len(data):
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:
            size = len(data) - pos
        if size < header:
            return None  # not a box structure we understand; let FFmpeg judge
        if pos + size > len(data):
            name = kind.decode("latin-1")
            return f"MP4 box '{name}' declares {size} bytes but only {len(data) - pos} are present"
        seen.add(kind)
        pos += size
    if b"moov" not in seen:
        return "the MP4 file has no 'moov' index (it was not finished)"
    return None


def _ogg_truncation(data: bytes) -> str | None:
    last = data.rfind(b"OggS", max(0, len(data) - 70_000))
    if last < 0 or last + 27 > len(data):
        return "the file ends inside an Ogg page header"
    segments = data[last + 26]
    table = data[last + 27 : last + 27 + segments]
    end = last + 27 + segments + sum(table)
    if len(table) < segments or end > len(data):
        return f"the last Ogg page needs {end - last} bytes but only {len(data) - last} are present"
    return None

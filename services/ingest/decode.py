"""Decode any audio a producer sends into 16 kHz float32, one row per kept channel.

Why PyAV: it binds the FFmpeg libraries in-process (wheels bundle them), so one code path reads
WAV of every PCM width, FLAC, MP3, Ogg/Opus, MP4/AAC and G.711 with no subprocess, no temp
files and no system FFmpeg; its ``AudioResampler`` (libswresample) does the rate and layout
conversion with proper filtering. Every failure leaves as a ``DecodeError`` carrying a
machine-readable ``error_type``, so callers can report it instead of crashing.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any

import av
import numpy as np

from mesh.audio import SAMPLE_RATE
from services.ingest import sniff

log = logging.getLogger(__name__)

TARGET_RATE = SAMPLE_RATE  # the AudioChunk contract
_CONTAINER_NAMES = {"mov,mp4,m4a,3gp,3g2,mj2": "mp4", "matroska,webm": "matroska"}
_MAX_BAD_PACKETS = 8  # more undecodable packets than this (and > 1 %) means a corrupt file


class DecodeError(Exception):
    """Input that cannot become audio; ``error_type`` is the RecordingFailed class."""

    def __init__(self, error_type: str, reason: str) -> None:
        super().__init__(reason)
        self.error_type = error_type
        self.reason = reason


@dataclass
class DecodedAudio:
    """Audio at 16 kHz, shape (channels, samples); one row unless channels were kept apart."""

    samples: np.ndarray
    codec: str
    container: str
    original_sample_rate: int
    channels: int
    sample_rate: int = TARGET_RATE

    @property
    def duration_s(self) -> float:
        return self.samples.shape[1] / self.sample_rate


@dataclass(frozen=True)
class DecodeLimits:
    max_duration_s: float = 4 * 3600.0
    max_channels: int = 8
    min_sample_rate: int = 8000  # telephone audio; below it speech is not intelligible


def decode(
    data: bytes,
    *,
    content_type: str | None = None,
    filename: str | None = None,
    keep_channels: bool = False,
    limits: DecodeLimits | None = None,
) -> DecodedAudio:
    """Decode ``data``; raise ``DecodeError`` for anything that is not usable audio."""
    limits = limits or DecodeLimits()
    if not data:
        raise DecodeError("empty", "the recording has no bytes")
    kind = sniff.sniff(data)
    container = _open(data, kind, content_type, filename)
    try:
        stream = _audio_stream(container)
        rate = stream.codec_context.sample_rate
        if rate < limits.min_sample_rate:
            raise DecodeError(
                "sample_rate_too_low",
                f"the audio is sampled at {rate} Hz; speech needs at least {limits.min_sample_rate} Hz",
            )
        declared = _declared_duration(data, kind, container, stream)
        if declared is not None and declared > limits.max_duration_s:
            raise DecodeError("too_long", _too_long(declared, limits))
        channels = stream.codec_context.channels
        if keep_channels and channels > limits.max_channels:
            raise DecodeError(
                "too_many_channels",
                f"{channels} channels; split_channels allows at most {limits.max_channels}",
            )
        samples, bad = _decode_all(container, stream, keep_channels, limits, declared)
    finally:
        container.close()
    _check_complete(data, kind, samples, declared, bad)
    return DecodedAudio(
        samples=samples,
        codec=stream.codec_context.codec.canonical_name,
        container=_container_name(container),
        original_sample_rate=int(stream.codec_context.sample_rate or 0),
        channels=int(channels),
    )


def _container_name(container: Any) -> str:
    return _CONTAINER_NAMES.get(container.format.name, container.format.name)


def _open(data: bytes, kind: str | None, content_type: str | None, filename: str | None) -> Any:
    raw = None if kind else sniff.raw_format(content_type, filename)
    try:
        if raw:
            options = {"sample_rate": str(raw.sample_rate), "ch_layout": f"{raw.channels}c"}
            return av.open(io.BytesIO(data), format=raw.demuxer, options=options)
        return av.open(io.BytesIO(data))
    except (av.FFmpegError, ValueError, OSError) as exc:
        cut = sniff.truncation(data, kind)
        if cut:
            raise DecodeError("truncated", cut) from exc
        if kind:
            raise DecodeError("unreadable_header", f"{kind} header cannot be read: {exc}") from exc
        raise DecodeError("not_audio", "no audio format recognised in the bytes") from exc


def _audio_stream(container: Any) -> Any:
    if not container.streams.audio:
        kinds = sorted({s.type for s in container.streams}) or ["nothing"]
        raise DecodeError(
            "not_audio", f"the {_container_name(container)} file holds {', '.join(kinds)} but no audio stream"
        )
    stream = container.streams.audio[0]
    ctx = stream.codec_context
    if ctx is None:
        raise DecodeError(
            "unsupported_codec", f"no decoder for the audio codec in this {_container_name(container)} file"
        )
    if not ctx.channels or not ctx.sample_rate:
        raise DecodeError(
            "unreadable_header", f"header declares {ctx.channels} channels at {ctx.sample_rate} Hz"
        )
    return stream


def _declared_duration(data: bytes, kind: str | None, container: Any, stream: Any) -> float | None:
    """Length the container states, when it states it rather than guessing from the bit rate."""
    if kind == "mp3" and not sniff.mp3_declares_length(data):
        return None
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return None


def _decode_all(
    container: Any,
    stream: Any,
    keep_channels: bool,
    limits: DecodeLimits,
    declared: float | None,
) -> tuple[np.ndarray, int]:
    channels = stream.codec_context.channels if keep_channels else 1
    max_samples = int(limits.max_duration_s * TARGET_RATE)
    resampler = _Resampler(channels)
    out = _Samples(channels, int((declared or 30.0) * TARGET_RATE) + TARGET_RATE)
    bad, packets = 0, 0
    for packet in _demux(container, stream):
        packets += 1
        try:
            frames = packet.decode()
        except (av.FFmpegError, ValueError) as exc:
            bad += 1
            log.debug("undecodable packet %d: %s", packets, exc)
            continue
        for frame in frames:
            out.extend(resampler.push(frame))
        if out.size > max_samples:  # stop early: a mislabelled file must not exhaust memory
            raise DecodeError("too_long", f"the audio runs past the {limits.max_duration_s:.0f} s limit")
    out.extend(resampler.push(None))
    if out.size > max_samples:
        raise DecodeError("too_long", _too_long(out.size / TARGET_RATE, limits))
    if bad > _MAX_BAD_PACKETS and bad > packets // 100:
        raise DecodeError("decode_error", f"{bad} of {packets} packets could not be decoded")
    return out.array(), bad


class _Samples:
    """A growable (channels, n) buffer, sized from the declared length when there is one, so a
    long recording is not held twice (as pieces and as their concatenation)."""

    def __init__(self, channels: int, expected: int) -> None:
        self._buf = np.empty((channels, expected), dtype=np.float32)
        self.size = 0

    def extend(self, blocks: list[np.ndarray]) -> None:
        for block in blocks:
            end = self.size + block.shape[1]
            if end > self._buf.shape[1]:
                grown = np.empty(
                    (self._buf.shape[0], max(end, self._buf.shape[1] * 3 // 2)), dtype=np.float32
                )
                grown[:, : self.size] = self._buf[:, : self.size]
                self._buf = grown
            self._buf[:, self.size : end] = block
            self.size = end

    def array(self) -> np.ndarray:
        return self._buf[:, : self.size]


def _demux(container: Any, stream: Any) -> Any:
    try:
        yield from container.demux(stream)
    except (av.FFmpegError, ValueError) as exc:
        log.debug("demuxing stopped early: %s", exc)


class _Resampler:
    """libswresample to 16 kHz float, rebuilt when the input format changes mid-stream.

    The output is packed (interleaved) and split into rows here: PyAV's ``to_ndarray`` of a
    planar frame with 8 or more channels reads past the frame's plane pointers and crashes the
    process (PyAV 18, FFmpeg 8), so planar output is never asked for.
    """

    def __init__(self, channels: int) -> None:
        self.layout = "mono" if channels == 1 else f"{channels}c"
        self.channels = channels
        self._inner: Any = None
        self._key: tuple[Any, ...] | None = None

    def push(self, frame: Any) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        if frame is not None:
            key = (frame.format.name, frame.layout.name, frame.sample_rate)
            if self._inner is not None and key != self._key:
                out.extend(self._drain())
            if self._inner is None:
                self._inner = av.AudioResampler(format="flt", layout=self.layout, rate=TARGET_RATE)
                self._key = key
            frame.pts = None
            out.extend(self._rows(f) for f in self._inner.resample(frame))
        else:
            out.extend(self._drain())
        return out

    def _drain(self) -> list[np.ndarray]:
        if self._inner is None:
            return []
        tail = [self._rows(f) for f in self._inner.resample(None)]
        self._inner = None
        return tail

    def _rows(self, frame: Any) -> np.ndarray:
        """(channels, samples) from a packed frame, whose one plane interleaves the channels."""
        return frame.to_ndarray().reshape(-1, self.channels).T


def _check_complete(
    data: bytes, kind: str | None, samples: np.ndarray, declared: float | None, bad: int
) -> None:
    decoded = samples.shape[1] / TARGET_RATE
    cut = sniff.truncation(data, kind)
    if cut is None and declared is not None and decoded < declared - max(0.25, 0.01 * declared):
        cut = f"the header declares {declared:.2f} s but only {decoded:.2f} s could be decoded"
    if cut:
        raise DecodeError("truncated", cut)
    if samples.shape[1] == 0:
        error_type = "decode_error" if bad else "no_audio"
        raise DecodeError(error_type, "the audio stream yielded no samples")


def _too_long(duration_s: float, limits: DecodeLimits) -> str:
    return f"{duration_s:.0f} s of audio exceeds the {limits.max_duration_s:.0f} s limit"

"""Labelled multi-speaker recordings built at run time from Debian's pocketsphinx-testdata.

No audio is committed: everything is assembled from the package's public-domain speech
(``apt-get install pocketsphinx-testdata``) while the reference RTTM is written from the same
placement decisions, so the labels are exact by construction.

Three real speakers are in that package:

* ``reader``: the LibriVox reader of Sense and Sensibility ch. 1 (5 utterances, 24.7 s)
* ``cards``: the speaker of ``cards/00[1-5].wav`` (5 utterances, 9.6 s)
* ``dhd``: the speaker of ``goforward.raw``, ``numbers.raw``, ``something.raw`` and
  ``tidigits/dhd.2934z.raw`` (4 utterances, 12.2 s; one voice by ear)

Pseudo-speakers for tuning are made by shifting a real speaker's pitch and formants with sox
(``pitch`` effect, +-400 cents): same words, same channel, a different-sounding voice.
Tuning uses only such shifted voices; the test conversation uses only the unshifted speakers.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.quality.golden.corpus import speech_spans  # the golden set's RTTM rule

DATA = Path("/usr/share/pocketsphinx/test/data")
SR = 16000

SOURCES = {
    "reader": sorted((DATA / "librivox").glob("*.wav")) if (DATA / "librivox").exists() else [],
    "cards": sorted((DATA / "cards").glob("*.wav")) if (DATA / "cards").exists() else [],
    "dhd": [
        DATA / "goforward.raw",
        DATA / "numbers.raw",
        DATA / "something.raw",
        DATA / "tidigits" / "dhd.2934z.raw",
    ],
}


def available() -> bool:
    return all(p.exists() for paths in SOURCES.values() for p in paths) and bool(SOURCES["reader"])


def _read(path: Path) -> np.ndarray:
    if path.suffix == ".wav":
        return read_wav16(path.read_bytes())
    return np.frombuffer(path.read_bytes(), dtype="<i2").astype(np.float32) / 32768.0  # headerless


def read_wav16(data: bytes) -> np.ndarray:
    """A 16 kHz mono 16-bit WAV as float32 in [-1, 1)."""
    import io
    import wave

    with wave.open(io.BytesIO(data)) as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (SR, 1, 2):
            raise ValueError("expected 16 kHz mono 16-bit WAV")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def read_rttm(text: str) -> list[tuple[float, float, str]]:
    """(start, end, speaker) of every SPEAKER line of an RTTM file."""
    turns = []
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] == "SPEAKER":
            turns.append((float(parts[3]), float(parts[3]) + float(parts[4]), parts[7]))
    return turns


def sample_recording() -> Recording:
    """pyannote's own sample call (30 s, 2 speakers) and its reference, from the wheel."""
    import importlib.resources

    base = importlib.resources.files("pyannote.audio").joinpath("sample")
    audio = read_wav16(base.joinpath("sample.wav").read_bytes())
    return Recording("pyannote_sample", audio, read_rttm(base.joinpath("sample.rttm").read_text()))


def annotation(turns):
    """pyannote Annotation of (start, end, label) turns."""
    from pyannote.core import Annotation, Segment

    ann = Annotation()
    for start, end, label in turns:
        ann[Segment(start, end)] = label
    return ann


def der(reference, hypothesis, collar: float = 0.0) -> float:
    """DER of two Annotations, or of two lists of (start, end, label) turns.

    ``collar`` is the collar's total width, as in pyannote.metrics (0.5 = NIST's +-0.25 s).
    """
    from pyannote.metrics.diarization import DiarizationErrorRate

    ref = annotation(reference) if isinstance(reference, list) else reference
    hyp = annotation(hypothesis) if isinstance(hypothesis, list) else hypothesis
    return float(DiarizationErrorRate(collar=collar)(ref, hyp))


def _trim(wav: np.ndarray, margin_s: float = 0.1) -> np.ndarray:
    """Cut leading and trailing non-speech, keeping a short margin."""
    spans = speech_spans(wav)
    if not spans:
        return wav
    return wav[max(0, int((spans[0][0] - margin_s) * SR)) : int((spans[-1][1] + margin_s) * SR)]


def utterances(speaker: str) -> list[np.ndarray]:
    return [_trim(_read(p)) for p in SOURCES[speaker]]


def sox(wav: np.ndarray, *effects: str) -> np.ndarray:
    """Run sox effects on a float mono 16 kHz signal."""
    fmt = ["-t", "raw", "-r", str(SR), "-e", "signed", "-b", "16", "-c", "1"]
    pcm = (np.clip(wav, -1, 1) * 32767).astype("<i2").tobytes()
    out = subprocess.run(
        ["sox", *fmt, "-", *fmt, "-", *effects], input=pcm, capture_output=True, check=True
    ).stdout
    return np.frombuffer(out, dtype="<i2").astype(np.float32) / 32768.0


def telephone(wav: np.ndarray) -> np.ndarray:
    """Narrow-band call channel: 300-3400 Hz band, 8 kHz round trip."""
    return sox(wav, "sinc", "300-3400", "rate", "8000", "rate", str(SR))


@dataclass
class Recording:
    uri: str
    audio: np.ndarray
    turns: list[tuple[float, float, str]]  # reference (start, end, speaker)

    @property
    def duration(self) -> float:
        return len(self.audio) / SR

    def rttm(self) -> str:
        return "".join(
            f"SPEAKER {self.uri} 1 {s:.3f} {e - s:.3f} <NA> <NA> {spk} <NA> <NA>\n"
            for s, e, spk in self.turns
        )


def conversation(
    voices: dict[str, list[np.ndarray]],
    duration_s: float,
    seed: int,
    uri: str = "mix",
    overlap_prob: float = 0.1,
    channel: str = "clean",
) -> Recording:
    """Speakers take turns (1-3 utterances each) with pauses and occasional overlaps.

    Each reuse of an utterance gets a random tempo (0.9-1.1) and gain (-6..+3 dB), so repeated
    material is never sample-identical.
    """
    rng = np.random.default_rng(seed)
    names = list(voices)
    total = int(duration_s * SR)
    audio = np.zeros(total + 30 * SR, dtype=np.float32)
    turns: list[tuple[float, float, str]] = []
    pos, last = int(0.5 * SR), None
    while pos < total:
        choices = [n for n in names if n != last] or names
        speaker = choices[rng.integers(len(choices))]
        for _ in range(int(rng.integers(1, 4))):
            pool = voices[speaker]
            utt = pool[rng.integers(len(pool))]
            utt = sox(utt, "tempo", "-s", f"{rng.uniform(0.9, 1.1):.3f}")
            utt = utt * np.float32(10 ** (rng.uniform(-6, 3) / 20))
            audio[pos : pos + len(utt)] += utt
            turns += [(pos / SR + a, pos / SR + b, speaker) for a, b in speech_spans(utt)]
            pos += len(utt) + int(rng.uniform(0.15, 0.6) * SR)
        if rng.random() < overlap_prob and turns:
            pos -= int(rng.uniform(0.6, 1.2) * SR)  # next speaker barges in
        else:
            pos += int(rng.uniform(0.2, 1.2) * SR)
        last = speaker
    end = int(max(e for _, e, _ in turns) * SR) + SR // 2
    audio = audio[:end]
    if channel == "telephone":
        audio = telephone(audio)[:end]
    audio += np.float32(10 ** (-60 / 20)) * rng.standard_normal(len(audio)).astype(np.float32)
    peak = float(np.max(np.abs(audio)))
    if peak > 0.99:
        audio *= np.float32(0.99 / peak)
    return Recording(uri=uri, audio=audio, turns=_merge(turns))


def _merge(turns: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Join a speaker's turns separated by less than 0.3 s (pauses between utterances too)."""
    merged: list[tuple[float, float, str]] = []
    for s, e, spk in sorted(turns, key=lambda t: (t[2], t[0])):
        if merged and merged[-1][2] == spk and s <= merged[-1][1] + 0.3:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]), spk)
        else:
            merged.append((s, e, spk))
    return sorted(merged)


def real_voices() -> dict[str, list[np.ndarray]]:
    return {name: utterances(name) for name in SOURCES}


def shifted_voices(cents: tuple[int, ...] = (-400, 400)) -> dict[str, list[np.ndarray]]:
    """Pseudo-speakers: every real speaker at several pitch/formant shifts."""
    out: dict[str, list[np.ndarray]] = {}
    for name in SOURCES:
        utts = utterances(name)
        for c in cents:
            out[f"{name}{c:+d}"] = [sox(u, "pitch", str(c)) for u in utts]
    return out


def three_speaker_call(seed: int = 7, duration_s: float = 90.0) -> Recording:
    """The held-out test case: the three unshifted real speakers talking for ~90 s."""
    return conversation(real_voices(), duration_s, seed=seed, uri="three_speakers", overlap_prob=0.1)


def tuning_set(seed: int = 100) -> list[Recording]:
    """Mixes of 1-3 pseudo-speakers, clean and telephone-band, 40-120 s each.

    The voices of one mix are always shifted copies of *different* real people: two shifts of
    one person are not two people to a speaker embedding trained to ignore pitch changes.
    """
    voices = shifted_voices()
    people = sorted(SOURCES)
    rng = np.random.default_rng(seed)
    recs = []
    for i, k in enumerate([1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3]):
        picks = rng.choice(len(people), size=k, replace=False)
        names = [f"{people[j]}{rng.choice([-400, 400]):+d}" for j in picks]
        chosen = {name: voices[name] for name in names}
        channel = "telephone" if i % 2 else "clean"
        recs.append(
            conversation(
                chosen,
                float(rng.uniform(40, 120)),
                seed=seed + i,
                uri=f"tune{i:02d}_{k}spk_{channel}",
                channel=channel,
            )
        )
    return recs

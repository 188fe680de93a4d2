"""The golden set: real speech with reference transcripts, and slices derived from it.

The set is what ASR quality is measured on, slice by slice, and what the reference-free WER
proxy is fitted on (``tune`` split) and judged on (``heldout`` split). No audio is committed:
everything is built on the machine from packages the project installs anyway
(``apt-get install espeak-ng sox pocketsphinx-testdata`` and the pyannote.audio wheel), so
the labels are exact by construction.

Sources
-------
Real English speech, 13 source utterances:

* ``librivox-*``: Debian's five LibriVox sentences (Sense and Sensibility, one reader) with
  the package's ``transcription`` file;
* ``cards-*``: the five ``cards/00N.wav`` recordings (one speaker) with
  ``cards.transcription``;
* ``sample-1..3``: pyannote's 30 s sample call (two speakers), cut into three 7-8 s pieces
  in the middle of the gaps (of 0.2 s or more) between its STM utterances that lie nearest
  to an even three-way division; a piece's reference is the text of the STM utterances
  inside it, its RTTM the sample's RTTM clipped to it (speakers ``diane``, ``sheila``).

The package's other recordings (``goforward.raw``, ``numbers.raw``, ``something.raw``,
``tidigits/dhd.2934z.raw``) have no transcript in the package (``tidigits.lsn`` lists the
``.mfc`` feature files of other speakers), so they are not used.

Synthetic speech from espeak-ng, text written for this set:

* four sentences each in German, French, Spanish and Italian (the ``multilingual`` slice);
* seven English agent/customer dialogues, used only inside the ``long`` call.

Slices
------
Each real English source gives one item in each of

* ``clean``: the source as is (16 kHz mono 16-bit WAV);
* ``telephone``: band-limited to 300-3400 Hz, resampled to 8 kHz and stored as a G.711
  mu-law WAV (8-bit, 8 kHz): the file a telephony platform would hand over;
* ``noise_20db``, ``noise_10db``, ``noise_5db``: pink (1/f) noise added at that SNR. The SNR
  is measured against the *active* speech power, the mean square of the clean signal over
  its RTTM speech turns (pauses do not dilute it), and the noise power over the whole file.
  Pink noise is closer to the rumble of rooms, cars and fans than white noise, and unlike
  babble it contains no words an ASR could rightly transcribe. The noise is seeded from the
  item id (CRC-32), so a rebuild writes the same samples;
* ``farfield``: sox ``reverb`` (a large reverberant room, 20 ms pre-delay, the reverberant
  part 3 dB over the direct sound), a 6 kHz low-pass and 6 dB attenuation: about as hard for
  tiny.en as ``noise_10db``;
* ``fast`` and ``slow``: sox ``tempo -s`` 1.25 and 0.8 (pitch kept); RTTM times scaled.

Then

* ``stereo``: 3 two-channel calls per split, the agent on channel 0 and the customer on
  channel 1, alternating turns of two different real speakers (the LibriVox reader and the
  cards speaker, in both role assignments), built from that split's sources only; RTTM
  speakers are the roles, ``channel_references`` holds each channel's reference;
* ``multilingual``: the espeak-ng sentences, ``language`` set to their ISO 639-1 code;
* ``long``: one ~10-minute call: the seven espeak-ng dialogues (one agent voice, a customer
  voice per dialogue), each dialogue followed by three held-out real English sources
  (cycling through them; a repeat gets a slight tempo and gain change), 0.4-1.2 s pauses;
  reference = the references in order; RTTM with one speaker per voice (12 in all);
* probes, reference "" (every word the ASR emits is a hallucination): ``silence`` (digital
  zeros, and near-silence of -75 dBFS Gaussian dither), ``white_noise`` (-35 and -20 dBFS),
  ``hum`` (50 Hz and 60 Hz mains with harmonics 2-8 falling off as 1/k, over a faint noise
  floor).

Split
-----
The split is by *source utterance*: every slice derived from a source lands in the split of
that source, so the proxy never sees a held-out utterance (under any degradation) while it
is tuned. Within each source group (cards, librivox, sample, and each language) the sources
are ordered by the SHA-256 of their id and dealt alternately to tune and heldout, each group
starting with the split that holds fewer seconds of audio so far: deterministic, independent
of the build machine, and balanced in items and in seconds (7 tune / 6 heldout English
sources, 27 s / 31 s; 2 + 2 per language), which a bare hash-modulo-2 of 13 ids would not
guarantee.

``stereo`` items are built per split from that split's sources. The ``long`` call is
``heldout``: it is the one long-form test, and it is made of held-out real sources and of
dialogues used nowhere else, so no item of the tune split shares a source with it. Probes
have no speech source to leak, so each probe variant has one item in each split (different
seed and length), letting the proxy be both fitted and judged on hallucination probes.

API
---
``build(out_dir)`` writes ``audio/<slice>/<name>.wav``, ``manifest.jsonl`` (one
:class:`GoldenItem` per line, paths relative to ``out_dir``) and ``build.json`` (builder
version and source digest, slices, input file sizes); a second call with the same builder
and slices reuses them.
``load(out_dir)`` reads the manifest back. ``python -m services.quality.golden.corpus
OUT_DIR [--slices ...]`` builds and prints a per-slice table.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import shutil
import subprocess
import wave
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

BUILD_VERSION = "golden-1"
SR = 16000
TELEPHONE_SR = 8000
SPLITS = ("tune", "heldout")

NOISE_SNR_DB = {"noise_20db": 20.0, "noise_10db": 10.0, "noise_5db": 5.0}
TEMPO = {"fast": 1.25, "slow": 0.8}
PER_SOURCE_SLICES = ("clean", "telephone", *NOISE_SNR_DB, "farfield", *TEMPO)
SPEECH_SLICES = (*PER_SOURCE_SLICES, "stereo", "multilingual", "long")
PROBE_SLICES = ("silence", "white_noise", "hum")
SLICES: tuple[str, ...] = (*SPEECH_SLICES, *PROBE_SLICES)

# reverberance 80 %, HF damping 50 %, room scale 100 %, stereo depth 100 %, pre-delay 20 ms,
# wet gain +3 dB (more reverberant than direct sound); 6 kHz low-pass (distance); -6 dB
FARFIELD_EFFECTS = ("reverb", "80", "50", "100", "100", "20", "3", "lowpass", "6000", "gain", "-6")
STEREO_ROLES = ("agent", "customer")
STEREO_PER_SPLIT = 3
LONG_SPLIT = "heldout"
LONG_REAL_PER_GAP = 3  # real sources after each dialogue

PS_DATA = Path("/usr/share/pocketsphinx/test/data")
MANIFEST = "manifest.jsonl"
BUILD_INFO = "build.json"
AUDIO_DIR = "audio"

Turn = tuple[float, float, str]


@dataclass(frozen=True)
class GoldenItem:
    """One labelled recording of the golden set.

    ``source`` says in words what the audio was made from; ``source_ids`` names the source
    utterances exactly (the unit of the tune/heldout split). ``rttm`` holds (start_s, end_s,
    speaker) turns, ``()`` for probes (nobody speaks) and None where unknown.
    ``channel_references`` is the reference of each channel of a multi-channel item.
    """

    id: str
    slice: str
    split: str
    path: Path
    reference: str
    language: str
    rttm: tuple[Turn, ...] | None
    channels: int
    channel_roles: tuple[str, ...]
    num_speakers: int | None
    source: str
    duration_s: float
    kind: str  # "speech" or "probe"
    source_ids: tuple[str, ...] = ()
    sample_rate: int = SR
    codec: str = "pcm_s16le"
    snr_db: float | None = None
    channel_references: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        d["rttm"] = None if self.rttm is None else [list(t) for t in self.rttm]
        for key in ("channel_roles", "source_ids", "channel_references"):
            d[key] = list(d[key])
        return d

    def to_json(self) -> str:
        """One line of JSON (the manifest's format)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: str | Mapping[str, Any], root: Path | None = None) -> GoldenItem:
        """The item of a JSON line or dict; a relative ``path`` is taken relative to ``root``."""
        d = dict(json.loads(data) if isinstance(data, str) else data)
        path = Path(d["path"])
        if root is not None and not path.is_absolute():
            path = Path(root) / path
        d["path"] = path
        if d.get("rttm") is not None:
            d["rttm"] = tuple((float(s), float(e), str(spk)) for s, e, spk in d["rttm"])
        for key in ("channel_roles", "source_ids", "channel_references"):
            d[key] = tuple(d.get(key) or ())
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})

    def rttm_text(self) -> str:
        """The RTTM turns as NIST RTTM lines (file id: the item id with "/" as "_")."""
        uri = self.id.replace("/", "_")
        return "".join(
            f"SPEAKER {uri} 1 {s:.3f} {e - s:.3f} <NA> <NA> {spk} <NA> <NA>\n"
            for s, e, spk in self.rttm or ()
        )

    @property
    def speech_s(self) -> float:
        """Seconds covered by at least one RTTM turn."""
        return sum(e - s for s, e in _union(self.rttm or ()))


# ---------------------------------------------------------------------------------------
# Text written for this set (espeak-ng input).

MULTILINGUAL: dict[str, tuple[tuple[str, str], ...]] = {
    # language: ((espeak voice, sentence), ...)
    "de": (
        ("de", "Der Zug nach Hamburg fährt heute vom dritten Gleis ab."),
        ("de+f2", "Bitte schließen Sie das Fenster, bevor Sie das Büro verlassen."),
        ("de+m3", "Am Wochenende soll es im Norden regnen und etwas kühler werden."),
        ("de+f4", "Meine Schwester arbeitet seit zwei Jahren in einer kleinen Bäckerei."),
    ),
    "fr": (
        ("fr", "Le train pour Lyon part ce soir à huit heures."),
        ("fr+f2", "Nous avons bien reçu votre lettre et nous vous répondrons demain."),
        ("fr+m3", "La bibliothèque du quartier ferme plus tôt pendant les vacances."),
        ("fr+f4", "Mon voisin cultive des tomates et des haricots dans son jardin."),
    ),
    "es": (
        ("es", "El autobús de la mañana llega siempre con unos minutos de retraso."),
        ("es+f2", "Mi hermano vive en Sevilla y trabaja en un hospital."),
        ("es+m3", "Por favor, deje sus zapatos junto a la puerta de entrada."),
        ("es+f4", "Esta tarde vamos a comprar fruta fresca en el mercado."),
    ),
    "it": (
        ("it", "Il treno per Milano parte dal binario quattro tra dieci minuti."),
        ("it+f2", "Domani pomeriggio andiamo a trovare i nonni in campagna."),
        ("it+m3", "La farmacia in fondo alla strada è aperta anche la domenica."),
        ("it+f4", "Ho lasciato le chiavi della macchina sul tavolo della cucina."),
    ),
}

AGENT_VOICE = "en-us+m3"
# (name, customer voice, turns); turns alternate agent, customer, agent, ...
# fmt: off
DIALOGUES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("billing", "en-gb+f3", (
        "Good morning, thank you for calling the billing team. How can I help you today?",
        "Hello, I think I was charged twice for my internet plan this month, and I would "
        "like to understand why.",
        "I am sorry about that. Could you tell me the day on which you noticed the second "
        "payment?",
        "It was last Tuesday. Both payments show the same amount, just a few minutes apart.",
        "Thank you. I can see the two payments on your account now, and the second one looks "
        "like a duplicate.",
        "That is a relief. Can you send the money back to the same card?",
        "Yes, the refund will go to the card you used, and it usually arrives within five "
        "working days.",
        "Will I get an email to confirm it?",
        "You will receive a confirmation as soon as the refund has been processed on our side.",
        "Great. While I have you, is there a way to get my bills by post instead of online?",
        "Of course. I have changed your preference, and the next bill will be sent to your "
        "home address.",
        "Perfect, that was everything I needed.",
        "You are welcome. Thank you for your patience, and have a lovely day.",
        "Thanks, you too. Goodbye.",
    )),
    ("delivery", "en-us+f2", (
        "Hello, you have reached customer service for home deliveries. What can I do for you?",
        "Hi, I ordered a bookshelf two weeks ago, and it still has not arrived.",
        "I understand. Do you have the order number from your confirmation email?",
        "I do not have it with me right now, but the order was placed under my email address.",
        "That is fine, I found it. The parcel left our warehouse on Monday and is with the "
        "courier.",
        "The tracking page has said the same thing for four days.",
        "I see that. It seems the parcel was held at the local depot because the door number "
        "was missing.",
        "Oh, that could be my mistake. I live in the flat above the bakery.",
        "No problem. I have added that to the delivery notes, and the courier will try again "
        "tomorrow.",
        "Will someone call me before they come?",
        "Yes, the driver will send a text message about one hour before arriving.",
        "That sounds good. What happens if I am not at home?",
        "The driver can leave it with a neighbour or take it to the pickup point on the high "
        "street.",
        "A neighbour is fine. Thank you for sorting this out.",
        "My pleasure. I hope you enjoy the bookshelf.",
    )),
    ("support", "en-gb+m1", (
        "Good afternoon, technical support speaking. What seems to be the problem?",
        "My wireless connection keeps dropping in the evening, usually around dinner time.",
        "Let us check a few things together. Is the light on the front of the router green "
        "or orange?",
        "Right now it is green, but it turns orange when the connection drops.",
        "Thank you. Could you please unplug the router, wait ten seconds, and plug it back in?",
        "Okay, I have done that. The lights are flashing now.",
        "That is normal while it starts up. It should settle in about a minute.",
        "It is green again, and my laptop has connected.",
        "Good. I am also running a line test from here, and the signal looks stable.",
        "Should I move the router somewhere else in the house?",
        "It helps to keep it off the floor and away from the microwave and thick walls.",
        "It is next to the kitchen, so that might explain the evenings.",
        "That is quite likely. If the problem comes back, call us and we can send an engineer.",
        "Thank you, that was very helpful.",
    )),
    ("dentist", "en-us+f4", (
        "Hello, this is the reception desk at the dental clinic. How may I help?",
        "Good morning, I would like to book a check up for my son and for myself.",
        "Certainly. Would you prefer a morning or an afternoon appointment?",
        "Afternoons are better, because he finishes school at three.",
        "We have two free slots next Thursday, one at four and one at half past four.",
        "Could we take both, one after the other?",
        "Yes, I have booked your son at four and you at half past four.",
        "Wonderful. Do we need to bring anything with us?",
        "Please bring a list of any medicines you take, and arrive ten minutes early.",
        "Is there parking near the clinic?",
        "There is a small car park behind the building, and the first hour is free.",
        "That is convenient. Will you send a reminder?",
        "We send a reminder message the day before each appointment.",
        "Thank you very much. See you on Thursday.",
    )),
    ("insurance", "en-gb+m4", (
        "Good evening, travel insurance claims, how can I help you?",
        "Hello, my suitcase was damaged on a flight last week, and I would like to make a "
        "claim.",
        "I am sorry to hear that. Did you report the damage to the airline at the airport?",
        "Yes, I filled in a form at the baggage desk before I left.",
        "That is very helpful. Please keep a copy of that form, because we will need it.",
        "I have a photo of it on my phone. Can I send that?",
        "A clear photo is fine. You can upload it together with pictures of the suitcase.",
        "The wheel came off and there is a long crack along one side.",
        "Thank you. Do you still have the receipt from when you bought the suitcase?",
        "I think so, it should be in a drawer at home.",
        "Good. Once we have the documents, a claims handler will review them within ten days.",
        "And will you pay for a new suitcase or for a repair?",
        "That depends on the assessment, but we will explain the decision in writing.",
        "All right, I will send everything tonight. Thank you.",
    )),
    ("energy", "en-us+m7", (
        "Good morning, you are through to the energy helpline. How can I help?",
        "Hi, I have just moved into a new flat, and I need to set up an account.",
        "Welcome to your new home. Did you take a meter reading on the day you moved in?",
        "Yes, I wrote it down on the back of an envelope, and I can send you a photo.",
        "A photo is perfect. You can add it to the form I am about to email you.",
        "Thank you. Can I pay every month instead of every three months?",
        "Yes, monthly payments are possible, and most customers choose a direct debit.",
        "A direct debit is fine. Is the price the same as the previous tenant had?",
        "You will start on our standard tariff, but you can move to a fixed price at any time.",
        "I would like to read about the fixed price options first.",
        "I will include a summary with the form, and you can call us back once you have "
        "decided.",
        "Great, thank you for your help.",
        "Thank you for choosing us, and good luck with the move.",
    )),
    ("garage", "en-gb+f5", (
        "Good afternoon, this is the service department at the garage. How can I help?",
        "Hello, my car has started making a squeaking noise whenever I brake.",
        "That is often a sign that the brake pads are wearing thin. How long has it been "
        "happening?",
        "About a week now, and it seems to be getting louder.",
        "I would recommend bringing it in soon so that a mechanic can take a look.",
        "Do you have any time tomorrow morning?",
        "We can see you at nine, and the inspection takes around forty minutes.",
        "Can I wait there while they check it?",
        "Yes, there is a waiting room with coffee and free wireless internet.",
        "If the pads need replacing, can you do that on the same day?",
        "In most cases we can, as long as the parts are in stock. I will ask the workshop to "
        "reserve a set.",
        "Thank you, that would save me another trip.",
        "You are welcome. We will see you tomorrow at nine.",
        "See you then. Goodbye.",
    )),
)
# fmt: on


# ---------------------------------------------------------------------------------------
# Audio helpers: float32 in [-1, 1), 16 kHz unless said otherwise.


def _pcm16(audio: np.ndarray) -> bytes:
    return (np.clip(np.round(audio * 32768.0), -32768, 32767)).astype("<i2").tobytes()


def write_wav(path: Path, audio: np.ndarray, sr: int = SR) -> None:
    """A 16-bit PCM WAV of a (frames,) or (frames, channels) float array."""
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = 1 if audio.ndim == 1 else audio.shape[1]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(_pcm16(audio))


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A 16-bit PCM WAV as float32 ((frames,) if mono, else (frames, channels)) and its rate."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM")
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        channels, sr = w.getnchannels(), w.getframerate()
    return (data if channels == 1 else data.reshape(-1, channels)), sr


def _raw_args(sr: int = SR) -> list[str]:
    return ["-t", "raw", "-r", str(sr), "-e", "signed", "-b", "16", "-c", "1"]


def sox(audio: np.ndarray, *effects: str, out_sr: int = SR) -> np.ndarray:
    """Run sox effects on a mono 16 kHz float signal (repeatable, no dither)."""
    out = subprocess.run(
        ["sox", "-R", "-D", *_raw_args(), "-", *_raw_args(out_sr), "-", *effects],
        input=_pcm16(audio),
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(out, dtype="<i2").astype(np.float32) / 32768.0


def _decode_to_16k(data: bytes, file_type: str) -> np.ndarray:
    """Any file sox reads (given as bytes) as 16 kHz mono float."""
    out = subprocess.run(
        ["sox", "-R", "-D", "-t", file_type, "-", *_raw_args(), "-", "remix", "-"],
        input=data,
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(out, dtype="<i2").astype(np.float32) / 32768.0


def tts(text: str, voice: str, speed: int = 160, pitch: int = 50) -> np.ndarray:
    """espeak-ng speech of ``text`` at 16 kHz."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
        capture_output=True,
        check=True,
    ).stdout
    return _decode_to_16k(wav, "wav")


def speech_spans(audio: np.ndarray, bridge_s: float = 0.3, min_s: float = 0.1) -> list[tuple[float, float]]:
    """Where a single-speaker utterance has speech: webrtcvad (aggressiveness 3, 30 ms frames)
    with pauses shorter than ``bridge_s`` bridged, the usual convention of RTTM references.

    A VAD that is not part of the system under test; and not an energy threshold, since the
    recordings' noise floor sits only 30-40 dB under their peaks."""
    try:
        import webrtcvad
    except ImportError as exc:  # pragma: no cover - part of the project's diarize extra
        raise RuntimeError("the golden set needs webrtcvad (pip install webrtcvad-wheels)") from exc
    vad, frame = webrtcvad.Vad(3), 480
    pcm = _pcm16(audio)
    spans: list[list[float]] = []
    for i in range(len(audio) // frame):
        if not vad.is_speech(pcm[2 * i * frame : 2 * (i + 1) * frame], SR):
            continue
        t = i * frame / SR
        if spans and t - spans[-1][1] < bridge_s:
            spans[-1][1] = t + frame / SR
        else:
            spans.append([t, t + frame / SR])
    return [(a, b) for a, b in spans if b - a >= min_s]


def pink_noise(n: int, seed: int) -> np.ndarray:
    """Unit-RMS pink (1/f power) Gaussian noise, flat below 50 Hz, no DC."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / SR)
    spectrum /= np.sqrt(np.maximum(freqs, 50.0))
    spectrum[0] = 0.0
    noise = np.fft.irfft(spectrum, n)
    return (noise / np.sqrt(np.mean(noise**2))).astype(np.float32)


def _union(turns: Iterable[Turn]) -> list[tuple[float, float]]:
    merged: list[list[float]] = []
    for s, e, _ in sorted(turns):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def speech_power(audio: np.ndarray, turns: Sequence[Turn], sr: int = SR) -> float:
    """Mean square of ``audio`` over the union of the turns (all of it when there are none)."""
    parts = [audio[int(s * sr) : int(e * sr)] for s, e in _union(turns)]
    active = np.concatenate(parts) if parts else audio
    return float(np.mean(np.asarray(active, dtype=np.float64) ** 2))


def add_noise(audio: np.ndarray, turns: Sequence[Turn], snr_db: float, seed: int) -> np.ndarray:
    """``audio`` plus pink noise at ``snr_db`` below its active speech power; mix and noise are
    scaled down together if the sum would clip (which leaves the SNR as it is)."""
    noise = pink_noise(len(audio), seed) * np.float32(
        np.sqrt(speech_power(audio, turns) / 10 ** (snr_db / 10))
    )
    mix = audio + noise
    peak = float(np.max(np.abs(mix)))
    return mix * np.float32(0.98 / peak) if peak > 0.98 else mix


def _trim(audio: np.ndarray, turns: Sequence[Turn], margin_s: float = 0.15) -> tuple[np.ndarray, list[Turn]]:
    """Cut leading and trailing non-speech, keeping a margin; turns shifted to match."""
    if not turns:
        return audio, []
    start = max(0.0, min(s for s, _, _ in turns) - margin_s)
    end = min(len(audio) / SR, max(e for _, e, _ in turns) + margin_s)
    return audio[int(start * SR) : int(end * SR)], [(s - start, e - start, spk) for s, e, spk in turns]


def _seed(name: str) -> int:
    return zlib.crc32(name.encode())


def _rounded(turns: Iterable[Turn], duration: float) -> tuple[Turn, ...]:
    out = []
    for s, e, spk in turns:
        s, e = max(0.0, round(s, 3)), min(round(duration, 3), round(e, 3))
        if e - s > 0.01:
            out.append((s, e, spk))
    return tuple(sorted(out))


# ---------------------------------------------------------------------------------------
# Sources.


@dataclass(frozen=True)
class Source:
    """One source utterance: the unit of the split."""

    id: str
    group: str
    audio: np.ndarray = field(repr=False, compare=False)
    reference: str
    language: str
    turns: tuple[Turn, ...]
    description: str
    split: str = ""

    @property
    def duration_s(self) -> float:
        return len(self.audio) / SR


def _pyannote_sample_dir() -> Path:
    spec = importlib.util.find_spec("pyannote.audio")  # found without importing torch
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the golden set needs pyannote.audio (its sample call)")
    return Path(next(iter(spec.submodule_search_locations))) / "sample"


def _single(
    sid: str, group: str, audio: np.ndarray, reference: str, language: str, speaker: str, description: str
) -> Source:
    turns = tuple((s, e, speaker) for s, e in speech_spans(audio))
    return Source(sid, group, audio, reference, language, turns, description)


def _pocketsphinx(
    folder: str, transcription: str, group: str, source_id: Callable[[str], str], voice: str
) -> list[Source]:
    """The recordings of one pocketsphinx-testdata folder, each with its transcription line
    (``<s> words </s> (name)``)."""
    base = PS_DATA / folder
    out = []
    for line in (base / transcription).read_text().splitlines():
        if not line.strip():
            continue
        text, name = line.rsplit("(", 1)
        name = name.strip(" )")
        words = " ".join(w for w in text.split() if w not in ("<s>", "</s>"))
        audio = _decode_to_16k((base / f"{name}.wav").read_bytes(), "wav")
        out.append(
            _single(
                source_id(name),
                group,
                audio,
                words,
                "en",
                voice,
                f"pocketsphinx-testdata {folder}/{name}.wav",
            )
        )
    return out


def _librivox() -> list[Source]:
    return _pocketsphinx(
        "librivox", "transcription", "librivox", lambda name: f"librivox-{name.rsplit('-', 1)[1]}", "reader"
    )


def _cards() -> list[Source]:
    return _pocketsphinx("cards", "cards.transcription", "cards", lambda name: f"cards-{name}", "cards")


SAMPLE_SPEAKERS = {"speaker90": "diane", "speaker91": "sheila"}  # by the STM's speaker names
SAMPLE_LEAD_S = 0.45  # the first piece starts this long before the first STM utterance
SAMPLE_PIECES = 3
SAMPLE_MIN_GAP_S = 0.2


def _sample_pieces() -> list[Source]:
    """pyannote's sample call cut at the middle of its widest gaps between STM utterances."""
    base = _pyannote_sample_dir()
    audio = _decode_to_16k((base / "sample.wav").read_bytes(), "wav")
    duration = len(audio) / SR
    utts = []
    for line in (base / "sample.stm").read_text().splitlines():
        if line.strip():
            _, _, _, utt_start, utt_end, text = line.split(None, 5)
            utts.append((float(utt_start), float(utt_end), text.strip()))
    utts.sort()
    rttm = []
    for line in (base / "sample.rttm").read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == "SPEAKER":
            start, length = float(parts[3]), float(parts[4])
            rttm.append((start, start + length, SAMPLE_SPEAKERS.get(parts[7], parts[7])))
    start = max(0.0, utts[0][0] - SAMPLE_LEAD_S)
    # cut points: the middles of the gaps of at least SAMPLE_MIN_GAP_S between utterances,
    # the ones nearest to an even division of the call into SAMPLE_PIECES pieces
    candidates = [
        round((utts[i - 1][1] + utts[i][0]) / 2, 3)
        for i in range(1, len(utts))
        if utts[i][0] - utts[i - 1][1] >= SAMPLE_MIN_GAP_S
    ]
    inner: list[float] = []
    for j in range(1, SAMPLE_PIECES):
        ideal = start + j * (duration - start) / SAMPLE_PIECES
        inner.append(min((c for c in candidates if c not in inner), key=lambda c: abs(c - ideal)))
    cuts = [start, *sorted(inner), duration]
    out = []
    for k in range(SAMPLE_PIECES):
        lo, hi = cuts[k], cuts[k + 1]
        words = " ".join(t for s, e, t in utts if lo <= (s + e) / 2 < hi)
        turns = tuple(
            (max(s, lo) - lo, min(e, hi) - lo, spk) for s, e, spk in rttm if min(e, hi) - max(s, lo) > 0.05
        )
        out.append(
            Source(
                f"sample-{k + 1}",
                "sample",
                audio[int(lo * SR) : int(hi * SR)],
                words,
                "en",
                _rounded(turns, hi - lo),
                f"pyannote.audio sample/sample.wav {lo:.2f}-{hi:.2f} s",
            )
        )
    return out


def _multilingual() -> list[Source]:
    out = []
    for language, sentences in MULTILINGUAL.items():
        for k, (voice, text) in enumerate(sentences, 1):
            audio = tts(text, voice, speed=150)
            out.append(
                _single(
                    f"tts-{language}-{k}",
                    f"tts-{language}",
                    audio,
                    text,
                    language,
                    f"tts:{voice}",
                    f"espeak-ng {voice}",
                )
            )
    return out


def assign_splits(sources: Sequence[Source]) -> list[Source]:
    """Sources with ``split`` set: per group (groups in name order) sorted by the
    SHA-256 of their id and dealt alternately to tune and heldout, each group starting with
    the split that holds fewer seconds so far (then fewer sources, then tune)."""
    groups: dict[str, list[Source]] = {}
    for src in sources:
        groups.setdefault(src.group, []).append(src)
    split_of: dict[str, str] = {}
    seconds = dict.fromkeys(SPLITS, 0.0)
    count = dict.fromkeys(SPLITS, 0)
    for _, members in sorted(groups.items()):
        first = min(SPLITS, key=lambda s: (round(seconds[s], 3), count[s], SPLITS.index(s)))
        offset = SPLITS.index(first)
        for k, src in enumerate(sorted(members, key=lambda s: hashlib.sha256(s.id.encode()).hexdigest())):
            split = SPLITS[(offset + k) % 2]
            split_of[src.id] = split
            seconds[split] += src.duration_s
            count[split] += 1
    return [replace(src, split=split_of[src.id]) for src in sources]


def english_sources() -> list[Source]:
    """The 13 real English source utterances, split assigned."""
    _require_inputs()
    return assign_splits([*_librivox(), *_cards(), *_sample_pieces()])


def multilingual_sources() -> list[Source]:
    """The espeak-ng sentences in other languages, split assigned."""
    _require_inputs()
    return assign_splits(_multilingual())


def _require_inputs() -> None:
    missing = [
        str(p)
        for p in (PS_DATA / "librivox" / "transcription", PS_DATA / "cards" / "cards.transcription")
        if not p.exists()
    ]
    for tool in ("sox", "espeak-ng"):
        if shutil.which(tool) is None:
            missing.append(tool)
    if missing:
        raise RuntimeError(
            f"golden set inputs missing: {', '.join(missing)} "
            "(apt-get install espeak-ng sox pocketsphinx-testdata)"
        )


# ---------------------------------------------------------------------------------------
# Items.


def _item(
    out_dir: Path,
    slice_: str,
    name: str,
    split: str,
    audio: np.ndarray,
    reference: str,
    language: str,
    turns: Iterable[Turn] | None,
    source: str,
    source_ids: Sequence[str],
    kind: str = "speech",
    **extra: Any,
) -> GoldenItem:
    path = out_dir / AUDIO_DIR / slice_ / f"{name}.wav"
    write_wav(path, audio)
    duration = audio.shape[0] / SR
    rttm = None if turns is None else _rounded(turns, duration)
    speakers = None if rttm is None else len({spk for _, _, spk in rttm})
    channels = 1 if audio.ndim == 1 else audio.shape[1]
    return GoldenItem(
        id=f"{slice_}/{name}",
        slice=slice_,
        split=split,
        path=path,
        reference=reference,
        language=language,
        rttm=rttm,
        channels=channels,
        channel_roles=extra.pop("channel_roles", ()),
        num_speakers=speakers,
        source=source,
        duration_s=round(duration, 3),
        kind=kind,
        source_ids=tuple(source_ids),
        **extra,
    )


def _per_source_item(out_dir: Path, slice_: str, src: Source) -> GoldenItem:
    common: dict[str, Any] = dict(
        split=src.split,
        reference=src.reference,
        language=src.language,
        source=src.description,
        source_ids=(src.id,),
    )
    name = src.id
    if slice_ == "clean":
        return _item(out_dir, slice_, name, audio=src.audio, turns=src.turns, **common)
    if slice_ in NOISE_SNR_DB:
        snr = NOISE_SNR_DB[slice_]
        noisy = add_noise(src.audio, src.turns, snr, _seed(f"{slice_}/{name}"))
        return _item(out_dir, slice_, name, audio=noisy, turns=src.turns, snr_db=snr, **common)
    if slice_ == "farfield":
        wet = sox(src.audio, *FARFIELD_EFFECTS)
        return _item(out_dir, slice_, name, audio=wet, turns=src.turns, **common)
    if slice_ in TEMPO:
        factor = TEMPO[slice_]
        stretched = sox(src.audio, "tempo", "-s", f"{factor}")
        turns = [(s / factor, e / factor, spk) for s, e, spk in src.turns]
        return _item(out_dir, slice_, name, audio=stretched, turns=turns, **common)
    if slice_ == "telephone":
        return _telephone_item(out_dir, src)
    raise ValueError(slice_)


def _telephone_item(out_dir: Path, src: Source) -> GoldenItem:
    """300-3400 Hz, 8 kHz, G.711 mu-law: the stored WAV is the codec file itself."""
    path = out_dir / AUDIO_DIR / "telephone" / f"{src.id}.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "sox",
            "-R",
            "-D",
            *_raw_args(),
            "-",
            "-t",
            "wav",
            "-r",
            str(TELEPHONE_SR),
            "-e",
            "u-law",
            "-b",
            "8",
            "-c",
            "1",
            str(path),
            "sinc",
            "300-3400",
            "rate",
            str(TELEPHONE_SR),
        ],
        input=_pcm16(src.audio),
        capture_output=True,
        check=True,
    )
    duration = _wav_data_bytes(path) / TELEPHONE_SR  # one byte per mu-law sample
    rttm = _rounded(src.turns, duration)
    return GoldenItem(
        id=f"telephone/{src.id}",
        slice="telephone",
        split=src.split,
        path=path,
        reference=src.reference,
        language=src.language,
        rttm=rttm,
        channels=1,
        channel_roles=(),
        num_speakers=len({t[2] for t in rttm}),
        source=src.description,
        duration_s=round(duration, 3),
        kind="speech",
        source_ids=(src.id,),
        sample_rate=TELEPHONE_SR,
        codec="pcm_mulaw",
    )


def _wav_data_bytes(path: Path) -> int:
    """Size of the ``data`` chunk of a RIFF WAV file."""
    data = path.read_bytes()
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if chunk == b"data":
            return min(size, len(data) - pos - 8)
        pos += 8 + size + (size & 1)
    raise ValueError(f"{path}: no data chunk")


def _place(total: np.ndarray | None, audio: np.ndarray, at: int) -> np.ndarray:
    need = at + len(audio)
    if total is None:
        total = np.zeros(need, dtype=np.float32)
    elif len(total) < need:
        total = np.concatenate([total, np.zeros(need - len(total), dtype=np.float32)])
    total[at:need] += audio
    return total


def _stereo_items(out_dir: Path, sources: Sequence[Source]) -> list[GoldenItem]:
    """Per split, calls of alternating turns between the LibriVox reader and the cards speaker,
    each on its own channel (agent 0, customer 1); roles swap from one call to the next."""
    items = []
    for split in SPLITS:
        mine = [s for s in sources if s.split == split]
        reader = [(*_trim(s.audio, s.turns), s) for s in mine if s.group == "librivox"]
        cards = [(*_trim(s.audio, s.turns), s) for s in mine if s.group == "cards"]
        if not reader or not cards:
            continue
        for k in range(STEREO_PER_SPLIT):
            rng = np.random.default_rng(_seed(f"stereo/{split}-{k}"))
            agent, customer = (reader, cards) if k % 2 == 0 else (cards, reader)
            n_turns = 4 + 2 * (k % 2)
            chans: list[np.ndarray | None] = [None, None]
            turns: list[Turn] = []
            texts: list[tuple[float, int, str]] = []
            used: list[Source] = []
            pos = int(0.4 * SR)
            for t in range(n_turns):
                ch = t % 2
                pool = (agent, customer)[ch]
                audio, utt_turns, src = pool[(k + t // 2) % len(pool)]
                audio = audio * np.float32(10 ** (rng.uniform(-3, 2) / 20))
                chans[ch] = _place(chans[ch], audio, pos)
                turns += [(pos / SR + s, pos / SR + e, STEREO_ROLES[ch]) for s, e, _ in utt_turns]
                texts.append((pos / SR, ch, src.reference))
                used.append(src)
                gap = rng.uniform(0.25, 0.8) if rng.random() > 0.25 else -rng.uniform(0.1, 0.4)
                pos = max(pos + int(0.3 * SR), pos + len(audio) + int(gap * SR))
            length = max(len(c) for c in chans if c is not None) + int(0.4 * SR)
            stereo = np.zeros((length, 2), dtype=np.float32)
            for ch, c in enumerate(chans):
                if c is not None:
                    stereo[: len(c), ch] = c
            floor = np.stack([pink_noise(length, _seed(f"stereo/{split}-{k}/{ch}")) for ch in (0, 1)], 1)
            stereo += floor * np.float32(10 ** (-72 / 20))
            texts.sort()
            ids = list(dict.fromkeys(s.id for s in used))
            items.append(
                _item(
                    out_dir,
                    "stereo",
                    f"{split}-{k + 1}",
                    split,
                    stereo,
                    " ".join(t for _, _, t in texts),
                    "en",
                    turns,
                    "stereo call of " + ", ".join(dict.fromkeys(s.description for s in used)),
                    ids,
                    channel_roles=STEREO_ROLES,
                    channel_references=tuple(" ".join(t for _, c, t in texts if c == ch) for ch in (0, 1)),
                )
            )
    return items


def _long_item(out_dir: Path, sources: Sequence[Source]) -> GoldenItem:
    """The ~10-minute call: the dialogues, each followed by LONG_REAL_PER_GAP held-out real
    sources (cycling through them; a source's later uses get a slight tempo and gain change)."""
    rng = np.random.default_rng(_seed("long/call"))
    real = [s for s in sources if s.split == LONG_SPLIT]
    total: np.ndarray | None = None
    turns: list[Turn] = []
    texts: list[str] = []
    ids: list[str] = []
    pos, cursor = int(0.5 * SR), 0

    def put(audio: np.ndarray, utt_turns: Sequence[Turn], text: str, sid: str) -> None:
        nonlocal total, pos
        total = _place(total, audio, pos)
        turns.extend((pos / SR + s, pos / SR + e, spk) for s, e, spk in utt_turns)
        texts.append(text)
        ids.append(sid)
        pos += len(audio) + int(rng.uniform(0.4, 1.2) * SR)

    for d, (name, customer_voice, lines) in enumerate(DIALOGUES):
        for t, line in enumerate(lines):
            voice = AGENT_VOICE if t % 2 == 0 else customer_voice
            speed = 150 if t % 2 == 0 else 138 + 4 * d
            audio = tts(line, voice, speed=speed)
            spans = [(s, e, f"tts:{voice}") for s, e in speech_spans(audio)]
            audio, spans = _trim(audio, spans, 0.05)
            put(audio, spans, line, f"dialogue-{name}-{t + 1}")
        for _ in range(LONG_REAL_PER_GAP):
            if not real:
                break
            src = real[cursor % len(real)]
            audio, utt_turns = _trim(src.audio, src.turns)
            if cursor >= len(real):
                factor = float(rng.uniform(0.93, 1.07))
                audio = sox(audio, "tempo", "-s", f"{factor:.3f}")
                audio = audio * np.float32(10 ** (rng.uniform(-4, 2) / 20))
                utt_turns = [(s / factor, e / factor, spk) for s, e, spk in utt_turns]
            put(audio, utt_turns, src.reference, src.id)
            cursor += 1
    assert total is not None
    total = _place(total, np.zeros(int(0.5 * SR), dtype=np.float32), len(total))
    n_real = len({i for i in ids if not i.startswith("dialogue-")})
    return _item(
        out_dir,
        "long",
        "call",
        LONG_SPLIT,
        total,
        " ".join(texts),
        "en",
        turns,
        f"{len(DIALOGUES)} espeak-ng dialogues with {n_real} held-out real English sources between them",
        list(dict.fromkeys(ids)),
    )


def _multilingual_items(out_dir: Path, sources: Sequence[Source]) -> list[GoldenItem]:
    return [
        _item(
            out_dir,
            "multilingual",
            s.id,
            s.split,
            s.audio,
            s.reference,
            s.language,
            s.turns,
            s.description,
            (s.id,),
        )
        for s in sources
    ]


PROBES: dict[str, tuple[tuple[str, float], ...]] = {
    # slice: ((variant, level dBFS), ...); level is RMS, -inf for digital silence
    "silence": (("digital", float("-inf")), ("dither", -75.0)),
    "white_noise": (("quiet", -35.0), ("loud", -20.0)),
    "hum": (("50hz", -30.0), ("60hz", -30.0)),
}
PROBE_SECONDS = (8.0, 12.0)  # the two variants of a probe swap lengths between the splits


def probe_audio(slice_: str, variant: str, level_db: float, seconds: float, seed: int) -> np.ndarray:
    """The audio of one probe (no speech in it)."""
    n = int(seconds * SR)
    rng = np.random.default_rng(seed)
    if slice_ == "silence":
        if level_db == float("-inf"):
            return np.zeros(n, dtype=np.float32)
        return (rng.standard_normal(n) * 10 ** (level_db / 20)).astype(np.float32)
    if slice_ == "white_noise":
        return (rng.standard_normal(n) * 10 ** (level_db / 20)).astype(np.float32)
    if slice_ == "hum":
        f0 = float(variant.removesuffix("hz"))
        t = np.arange(n) / SR
        phases = rng.uniform(0, 2 * np.pi, 8)
        hum = sum(np.sin(2 * np.pi * f0 * k * t + phases[k - 1]) / k for k in range(1, 9))
        hum = hum / np.sqrt(np.mean(hum**2)) * 10 ** (level_db / 20)
        return (hum + pink_noise(n, seed) * 10 ** (-70 / 20)).astype(np.float32)
    raise ValueError(slice_)


def _probe_items(out_dir: Path, slice_: str) -> list[GoldenItem]:
    items = []
    for s, split in enumerate(SPLITS):
        for v, (variant, level) in enumerate(PROBES[slice_]):
            name = f"{variant}-{split}"
            seed = _seed(f"{slice_}/{name}")
            audio = probe_audio(slice_, variant, level, PROBE_SECONDS[(s + v) % 2], seed)
            level_txt = "digital zeros" if level == float("-inf") else f"{level:g} dBFS"
            items.append(
                _item(
                    out_dir,
                    slice_,
                    name,
                    split,
                    audio,
                    "",
                    "en",
                    (),
                    f"synthetic {slice_} probe ({variant}, {level_txt}, seed {seed})",
                    (f"probe-{slice_}-{name}",),
                    kind="probe",
                )
            )
    return items


def _build_items(out_dir: Path, slices: Sequence[str]) -> list[GoldenItem]:
    items: list[GoldenItem] = []
    needs_english = any(s in PER_SOURCE_SLICES or s in ("stereo", "long") for s in slices)
    english = english_sources() if needs_english else []
    for slice_ in slices:
        if slice_ in PER_SOURCE_SLICES:
            items += [_per_source_item(out_dir, slice_, src) for src in english]
        elif slice_ == "stereo":
            items += _stereo_items(out_dir, english)
        elif slice_ == "long":
            items.append(_long_item(out_dir, english))
        elif slice_ == "multilingual":
            items += _multilingual_items(out_dir, multilingual_sources())
        else:
            items += _probe_items(out_dir, slice_)
    return items


# ---------------------------------------------------------------------------------------
# Build, cache, load.


def _inputs_fingerprint() -> dict[str, int]:
    """Sizes of the packaged input files (a changed package invalidates the cache)."""
    files = [*sorted((PS_DATA / "librivox").glob("*")), *sorted((PS_DATA / "cards").glob("*"))]
    with contextlib.suppress(RuntimeError):
        files += sorted(_pyannote_sample_dir().glob("sample.*"))
    return {str(p): p.stat().st_size for p in files if p.is_file()}


def _build_info(slices: Sequence[str]) -> dict[str, Any]:
    return {
        "builder_version": BUILD_VERSION,
        "builder_digest": _builder_digest(),
        "slices": list(slices),
        "inputs": _inputs_fingerprint(),
    }


def _builder_digest() -> str:
    """SHA-256 of this module's source: an edited builder (texts, parameters) rebuilds too."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def _normalise_slices(slices: Sequence[str] | None) -> list[str]:
    if slices is None:
        return list(SLICES)
    unknown = [s for s in slices if s not in SLICES]
    if unknown:
        raise ValueError(f"unknown slices {unknown}; known: {', '.join(SLICES)}")
    return [s for s in SLICES if s in set(slices)]  # canonical order, no duplicates


def _cached(out_dir: Path, info: Mapping[str, Any]) -> list[GoldenItem] | None:
    try:
        if json.loads((out_dir / BUILD_INFO).read_text()) != info:
            return None
        items = load(out_dir)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return items if all(item.path.is_file() for item in items) else None


def build(out_dir: Path, slices: Sequence[str] | None = None, *, force: bool = False) -> list[GoldenItem]:
    """Build the golden set (or the given slices of it) under ``out_dir`` and return its items.

    Reuses what is there when ``build.json`` names the same builder (BUILD_VERSION and the
    digest of this module), slices and inputs and every audio file of the manifest exists
    (unless ``force``). Otherwise the ``audio`` folder is rebuilt from scratch; ``build.json``
    is written last, so an interrupted build is never taken for a finished one.
    """
    out_dir = Path(out_dir)
    chosen = _normalise_slices(slices)
    info = _build_info(chosen)
    if not force and (items := _cached(out_dir, info)) is not None:
        return items
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / BUILD_INFO).unlink(missing_ok=True)
    shutil.rmtree(out_dir / AUDIO_DIR, ignore_errors=True)
    items = _build_items(out_dir, chosen)
    lines = []
    for item in items:
        relative = replace(item, path=item.path.relative_to(out_dir))
        lines.append(relative.to_json() + "\n")
    tmp = out_dir / (MANIFEST + ".tmp")
    tmp.write_text("".join(lines), encoding="utf-8")
    tmp.replace(out_dir / MANIFEST)
    (out_dir / BUILD_INFO).write_text(json.dumps(info, indent=1) + "\n")
    return items


def load(out_dir: Path) -> list[GoldenItem]:
    """The items of the manifest under ``out_dir`` (paths made absolute)."""
    out_dir = Path(out_dir)
    text = (out_dir / MANIFEST).read_text(encoding="utf-8")
    return [GoldenItem.from_json(line, root=out_dir) for line in text.splitlines() if line.strip()]


def summary(items: Sequence[GoldenItem]) -> str:
    """A per-slice table: item count and audio minutes per split."""
    rows = [f"{'slice':14s} {'tune':>5s} {'heldout':>7s} {'tune min':>9s} {'heldout min':>11s}"]
    totals = {s: [0, 0.0] for s in SPLITS}
    for slice_ in SLICES:
        mine = [i for i in items if i.slice == slice_]
        if not mine:
            continue
        cells = {
            s: [sum(i.split == s for i in mine), sum(i.duration_s for i in mine if i.split == s)]
            for s in SPLITS
        }
        for s in SPLITS:
            totals[s][0] += cells[s][0]
            totals[s][1] += cells[s][1]
        rows.append(
            f"{slice_:14s} {cells['tune'][0]:5d} {cells['heldout'][0]:7d} "
            f"{cells['tune'][1] / 60:9.2f} {cells['heldout'][1] / 60:11.2f}"
        )
    rows.append(
        f"{'total':14s} {totals['tune'][0]:5d} {totals['heldout'][0]:7d} "
        f"{totals['tune'][1] / 60:9.2f} {totals['heldout'][1] / 60:11.2f}"
    )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--slices", nargs="+", choices=SLICES, help="default: all")
    parser.add_argument("--force", action="store_true", help="rebuild even if the cache is valid")
    args = parser.parse_args(argv)
    items = build(args.out_dir, args.slices, force=args.force)
    print(f"golden set {BUILD_VERSION}: {len(items)} items in {args.out_dir}")
    print(summary(items))


if __name__ == "__main__":
    main()


__all__ = [
    "BUILD_VERSION",
    "PROBE_SLICES",
    "SLICES",
    "SPEECH_SLICES",
    "SPLITS",
    "GoldenItem",
    "Source",
    "build",
    "load",
    "summary",
]

"""The golden set builder: split by source, slices as specified, cache reused.

Tests marked slow build the whole set once (about 5 s on 2 cores) from Debian's
pocketsphinx-testdata, pyannote's sample call, sox and espeak-ng; the others build probes
only or use no audio at all.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from services.quality.golden import corpus
from services.quality.golden.corpus import GoldenItem, Source

INPUTS = (corpus.PS_DATA / "librivox").is_dir() and all(shutil.which(t) for t in ("sox", "espeak-ng"))
needs_inputs = pytest.mark.skipif(not INPUTS, reason="needs sox, espeak-ng and pocketsphinx-testdata")


# ----------------------------------------------------------------------------- no audio


def test_item_json_round_trip_with_relative_path(tmp_path: Path) -> None:
    item = GoldenItem(
        id="stereo/tune-1",
        slice="stereo",
        split="tune",
        path=Path("audio/stereo/tune-1.wav"),
        reference="hello there",
        language="en",
        rttm=((0.5, 1.25, "agent"), (1.5, 2.0, "customer")),
        channels=2,
        channel_roles=("agent", "customer"),
        num_speakers=2,
        source="x + y",
        duration_s=2.5,
        kind="speech",
        source_ids=("a", "b"),
        channel_references=("hello", "there"),
    )
    again = GoldenItem.from_json(item.to_json())
    assert again == item
    rooted = GoldenItem.from_json(item.to_dict(), root=tmp_path)
    assert rooted.path == tmp_path / "audio/stereo/tune-1.wav"
    assert item.rttm_text().splitlines()[0] == (
        "SPEAKER stereo_tune-1 1 0.500 0.750 <NA> <NA> agent <NA> <NA>"
    )
    assert item.speech_s == pytest.approx(1.25)


def _fake(sid: str, group: str, seconds: float = 2.0) -> Source:
    return Source(sid, group, np.zeros(int(seconds * corpus.SR), np.float32), "w", "en", (), sid)


def test_splits_are_deterministic_balanced_and_order_free() -> None:
    sources = [_fake(f"{g}-{k}", g, 1.0 + k) for g in ("a", "b", "c") for k in range(5)]
    first = {s.id: s.split for s in corpus.assign_splits(sources)}
    second = {s.id: s.split for s in corpus.assign_splits(list(reversed(sources)))}
    assert first == second  # by id hash, not by input order
    assert set(first.values()) == set(corpus.SPLITS)
    for group in ("a", "b", "c"):
        splits = [first[f"{group}-{k}"] for k in range(5)]
        assert abs(splits.count("tune") - splits.count("heldout")) <= 1


def test_noise_is_added_at_the_target_snr_of_active_speech() -> None:
    t = np.arange(4 * corpus.SR) / corpus.SR
    speech = np.where((t > 1) & (t < 3), 0.3 * np.sin(2 * np.pi * 220 * t), 0.0).astype(np.float32)
    turns = [(1.0, 3.0, "s")]
    for snr in (20.0, 10.0, 5.0):
        noisy = corpus.add_noise(speech, turns, snr, seed=7)
        noise = noisy - speech
        measured = 10 * np.log10(corpus.speech_power(speech, turns) / np.mean(noise.astype(np.float64) ** 2))
        assert measured == pytest.approx(snr, abs=0.05)
        assert np.array_equal(noisy, corpus.add_noise(speech, turns, snr, seed=7))  # seeded


def test_pink_noise_falls_with_frequency() -> None:
    noise = corpus.pink_noise(corpus.SR * 4, seed=1)
    power = np.abs(np.fft.rfft(noise)) ** 2
    freqs = np.fft.rfftfreq(len(noise), 1 / corpus.SR)
    low = power[(freqs > 100) & (freqs < 200)].mean()
    high = power[(freqs > 3200) & (freqs < 6400)].mean()
    assert 10 * np.log10(low / high) == pytest.approx(10 * np.log10(32), abs=2.0)  # 1/f: 3 dB/octave


def test_unknown_slice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown slices"):
        corpus.build(tmp_path, ["clean", "underwater"])


def test_probe_build_is_cached_and_rebuilt_when_slices_change(tmp_path: Path, monkeypatch) -> None:
    items = corpus.build(tmp_path, ["silence", "hum"])
    assert {i.slice for i in items} == {"silence", "hum"}
    assert corpus.load(tmp_path) == items
    for item in items:
        assert item.kind == "probe" and item.reference == "" and item.rttm == () and item.num_speakers == 0
    assert {(i.slice, i.split) for i in items} == {(s, p) for s in ("silence", "hum") for p in corpus.SPLITS}
    digital = [i for i in items if i.id.startswith("silence/digital")]
    assert all(not np.any(corpus.read_wav(i.path)[0]) for i in digital)

    def refuse(*_args, **_kwargs):
        raise AssertionError("rebuilt although the cache was valid")

    monkeypatch.setattr(corpus, "_build_items", refuse)
    assert corpus.build(tmp_path, ["hum", "silence"]) == items  # order of the request does not matter
    with pytest.raises(AssertionError, match="rebuilt"):
        corpus.build(tmp_path, ["silence"])  # other slices: not the cached build
    monkeypatch.undo()
    assert [i.slice for i in corpus.build(tmp_path, ["silence"])] == ["silence"] * 4
    assert not (tmp_path / "audio" / "hum").exists()  # the old build's audio is gone


# ----------------------------------------------------------------------------- whole set


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[GoldenItem]]:
    if not INPUTS:
        pytest.skip("needs sox, espeak-ng and pocketsphinx-testdata")
    out = tmp_path_factory.mktemp("golden")
    return out, corpus.build(out)


@pytest.fixture(scope="module")
def items(golden) -> list[GoldenItem]:
    return golden[1]


def _by_slice(items: list[GoldenItem]) -> dict[str, list[GoldenItem]]:
    out: dict[str, list[GoldenItem]] = defaultdict(list)
    for item in items:
        out[item.slice].append(item)
    return out


@needs_inputs
@pytest.mark.slow
def test_every_slice_is_built_and_the_set_stays_moderate(items: list[GoldenItem]) -> None:
    assert {i.slice for i in items} == set(corpus.SLICES)
    assert len({i.id for i in items}) == len(items)
    assert 100 <= len(items) <= 200
    assert sum(i.duration_s for i in items) < 40 * 60
    (long,) = _by_slice(items)["long"]
    assert 9 * 60 <= long.duration_s <= 11 * 60
    assert long.num_speakers is not None and long.num_speakers >= 4


@needs_inputs
@pytest.mark.slow
def test_split_is_by_source(items: list[GoldenItem]) -> None:
    splits_of: dict[str, set[str]] = defaultdict(set)
    for item in items:
        assert item.split in corpus.SPLITS
        assert item.source_ids
        for sid in item.source_ids:
            splits_of[sid].add(item.split)
    both = {sid: s for sid, s in splits_of.items() if len(s) > 1}
    assert not both, f"sources in both splits: {both}"
    clean = _by_slice(items)["clean"]
    for slice_ in corpus.PER_SOURCE_SLICES:  # every derived item sits in its source's split
        assert {(i.source_ids, i.split) for i in _by_slice(items)[slice_]} == {
            (i.source_ids, i.split) for i in clean
        }


@needs_inputs
@pytest.mark.slow
def test_each_speech_slice_has_items_in_both_splits(items: list[GoldenItem]) -> None:
    slices = _by_slice(items)
    for slice_ in corpus.SPEECH_SLICES:
        if slice_ == "long":
            assert [i.split for i in slices[slice_]] == [corpus.LONG_SPLIT]
            continue
        counts = {s: sum(i.split == s for i in slices[slice_]) for s in corpus.SPLITS}
        assert min(counts.values()) >= 3, (slice_, counts)
    for slice_ in corpus.PROBE_SLICES:
        assert {i.split for i in slices[slice_]} == set(corpus.SPLITS)


@needs_inputs
@pytest.mark.slow
def test_telephone_files_are_8khz_mu_law(items: list[GoldenItem]) -> None:
    import av

    for item in _by_slice(items)["telephone"]:
        with av.open(str(item.path)) as container:
            stream = container.streams.audio[0]
            assert stream.codec_context.name == "pcm_mulaw"
            assert stream.rate == 8000 and stream.channels == 1
            samples = sum(frame.samples for frame in container.decode(stream))
        assert samples / 8000 == pytest.approx(item.duration_s, abs=0.01)
        assert (item.sample_rate, item.codec) == (8000, "pcm_mulaw")


@needs_inputs
@pytest.mark.slow
def test_noise_slices_hit_their_snr(items: list[GoldenItem]) -> None:
    clean = {i.source_ids: i for i in _by_slice(items)["clean"]}
    checked = 0
    for slice_, target in corpus.NOISE_SNR_DB.items():
        for item in _by_slice(items)[slice_]:
            assert item.snr_db == target
            reference = clean[item.source_ids]
            speech, _ = corpus.read_wav(reference.path)
            noisy, _ = corpus.read_wav(item.path)
            speech, noisy = speech.astype(np.float64), noisy.astype(np.float64)
            gain = float(np.dot(noisy, speech) / np.dot(speech, speech))  # mixes may be scaled down
            noise = noisy - gain * speech
            snr = 10 * np.log10(corpus.speech_power(gain * speech, reference.rttm) / np.mean(noise**2))
            assert snr == pytest.approx(target, abs=1.0), item.id
            checked += 1
    assert checked == 3 * len(clean)


@needs_inputs
@pytest.mark.slow
def test_probes_have_empty_references(items: list[GoldenItem]) -> None:
    probes = [i for i in items if i.kind == "probe"]
    assert {i.slice for i in probes} == set(corpus.PROBE_SLICES)
    assert all(i.reference == "" and i.rttm == () for i in probes)
    assert all(i.reference.strip() for i in items if i.kind == "speech")


@needs_inputs
@pytest.mark.slow
def test_stereo_items_are_two_channel_agent_customer_calls(items: list[GoldenItem]) -> None:
    for item in _by_slice(items)["stereo"]:
        audio, sr = corpus.read_wav(item.path)
        assert audio.ndim == 2 and audio.shape[1] == 2 == item.channels
        assert item.channel_roles == ("agent", "customer")
        assert {spk for _, _, spk in item.rttm or ()} == {"agent", "customer"}
        assert len(item.channel_references) == 2 and all(item.channel_references)
        talking = np.zeros((audio.shape[0], 2), dtype=bool)
        for start, end, speaker in item.rttm or ():
            talking[int(start * sr) : int(end * sr), item.channel_roles.index(speaker)] = True
        for ch in (0, 1):  # while only one role talks, its channel is far louder than the other
            alone = talking[:, ch] & ~talking[:, 1 - ch]
            assert alone.sum() > 0.5 * sr
            own, other = np.mean(audio[alone, ch] ** 2), np.mean(audio[alone, 1 - ch] ** 2)
            assert own > 100 * other  # the other channel holds only its recording's noise floor


@needs_inputs
@pytest.mark.slow
def test_rttm_lies_within_the_audio(items: list[GoldenItem]) -> None:
    for item in items:
        if item.codec == "pcm_s16le":
            audio, sr = corpus.read_wav(item.path)
            assert sr == corpus.SR
            assert audio.shape[0] / sr == pytest.approx(item.duration_s, abs=0.002), item.id
        assert item.rttm is not None
        for start, end, speaker in item.rttm:
            assert 0 <= start < end <= item.duration_s + 1e-6, item.id
            assert speaker
        if item.kind == "speech":
            assert item.rttm and item.num_speakers == len({t[2] for t in item.rttm})


@needs_inputs
@pytest.mark.slow
def test_tempo_slices_change_duration(items: list[GoldenItem]) -> None:
    clean = {i.source_ids: i.duration_s for i in _by_slice(items)["clean"]}
    for slice_, factor in corpus.TEMPO.items():
        for item in _by_slice(items)[slice_]:
            assert item.duration_s == pytest.approx(clean[item.source_ids] / factor, rel=0.05)


@needs_inputs
@pytest.mark.slow
def test_multilingual_items_carry_their_language(items: list[GoldenItem]) -> None:
    multi = _by_slice(items)["multilingual"]
    assert {i.language for i in multi} >= {"de", "fr", "es", "it"}
    for language in {i.language for i in multi}:
        assert {i.split for i in multi if i.language == language} == set(corpus.SPLITS)
    assert all(i.language == "en" for i in items if i.slice != "multilingual")


@needs_inputs
@pytest.mark.slow
def test_second_build_reuses_the_cache(golden, monkeypatch) -> None:
    out, items = golden
    manifest = (out / corpus.MANIFEST).stat().st_mtime_ns

    def refuse(*_args, **_kwargs):
        raise AssertionError("rebuilt although the cache was valid")

    monkeypatch.setattr(corpus, "_build_items", refuse)
    assert corpus.build(out) == items
    assert corpus.load(out) == items
    assert (out / corpus.MANIFEST).stat().st_mtime_ns == manifest

"""Resemblyzer's GE2E speaker encoder as a pyannote.audio embedding.

Why this exists: pyannote's own embedding models (WeSpeaker ResNet, pyannote/embedding) live on
the model hub only, while resemblyzer's wheel ships a GE2E encoder (3-layer LSTM over 40 linear
mel bands, 256-d, L2-normalised output). ``SpeakerDiarization`` only needs an object with
``sample_rate``, ``dimension``, ``metric``, ``min_num_samples`` and
``__call__(waveforms, masks) -> (batch, dimension) array``, so this adapter is all it takes.

For each (chunk, local speaker) pair pyannote passes the whole chunk plus a frame mask of where
that speaker talks. The mel spectrogram is computed on the whole chunk (no splicing artefacts),
then only the masked frames are kept, cut into GE2E "partials" of 1.6 s, embedded in one packed
LSTM batch, averaged and re-normalised (resemblyzer's ``embed_utterance`` recipe, batched).
Masks with no active frame give NaN, which pyannote's clustering filters out.

GE2E outputs pass through a ReLU, so every embedding lies in the positive orthant and all of
them share a large common component; cosine distances between different people are then
small (0.12 between the two speakers of pyannote's phone sample). Subtracting a fixed
background mean before re-normalising (``center``, as i-vector/x-vector back-ends do before
scoring) spreads speakers apart. On the tuning mixes (bench/diarize_tune.py) centred
speaker centroids of the same person in two halves of a recording were at most 0.26 apart,
different people at least 0.43: the margin window linking relies on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .hashing import sha256_file

SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s, the length GE2E was trained on
TARGET_DBFS = -30.0  # resemblyzer normalises volume (up only) to this level


def background_mean() -> np.ndarray:
    """Mean GE2E chunk embedding of the tuning recordings (see background.py)."""
    from .background import GE2E_MEAN

    return np.asarray(GE2E_MEAN, dtype=np.float32)


def weights_path() -> Path:
    """The encoder weights shipped inside the resemblyzer wheel."""
    import resemblyzer

    return Path(resemblyzer.__file__).resolve().parent / "pretrained.pt"


class _GE2E(torch.nn.Module):
    """Same layers and parameter names as resemblyzer.VoiceEncoder (loads its state dict)."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(N_MELS, 256, 3, batch_first=True)
        self.linear = torch.nn.Linear(256, 256)

    def forward(self, mels: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            mels, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        _, (hidden, _) = self.lstm(packed)
        raw = torch.relu(self.linear(hidden[-1]))
        return raw / torch.linalg.norm(raw, dim=1, keepdim=True).clamp_min(1e-8)


class GE2EEmbedding:
    """pyannote-compatible speaker embedding backed by resemblyzer's GE2E weights."""

    sample_rate = SAMPLE_RATE
    dimension = 256
    metric = "cosine"
    min_num_samples = HOP * 4

    def __init__(
        self,
        weights: Path | None = None,
        device: torch.device | str = "cpu",
        partial_step: int = 80,
        min_frames: int = 1,
        center: np.ndarray | None = None,
    ) -> None:
        self.weights = Path(weights) if weights else weights_path()
        self.device = torch.device(device)
        self.partial_step = partial_step
        self.min_frames = min_frames
        self.center = None if center is None else np.asarray(center, dtype=np.float32)
        self.model = _GE2E()
        state = torch.load(self.weights, map_location="cpu", weights_only=False)["model_state"]
        self.model.load_state_dict(state, strict=False)
        self.model.eval().to(self.device)
        self._window = torch.hann_window(N_FFT, periodic=True, device=self.device)
        self._mel = _mel_filterbank().to(self.device)

    def to(self, device: torch.device) -> GE2EEmbedding:
        self.device = torch.device(device)
        self.model.to(self.device)
        self._window = self._window.to(self.device)
        self._mel = self._mel.to(self.device)
        return self

    def sha256(self) -> str:
        return sha256_file(self.weights)

    def mel(self, waveforms: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, frames, 40) linear power mel, as resemblyzer computes."""
        spec = torch.stft(
            waveforms,
            N_FFT,
            HOP,
            window=self._window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        power = spec.real**2 + spec.imag**2  # (batch, 201, frames)
        return torch.matmul(self._mel, power).transpose(1, 2)

    def __call__(self, waveforms: torch.Tensor, masks: torch.Tensor | None = None) -> np.ndarray:
        with torch.inference_mode():
            wav = waveforms.to(self.device, torch.float32).reshape(waveforms.shape[0], -1)
            if masks is None:
                masks = torch.ones((wav.shape[0], 1), device=self.device)
            frame_masks = _frame_masks(masks.to(self.device).float(), wav.shape[1])
            wav = _normalise_volume(wav, frame_masks)
            mels = self.mel(wav)
            return self._embed_masked(mels, frame_masks)

    def embed_waveform(self, waveform: np.ndarray) -> np.ndarray:
        """One embedding for a whole mono float waveform (all frames count as speech)."""
        tensor = torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32))[None, None]
        return self(tensor)[0]

    def _embed_masked(self, mels: torch.Tensor, frame_masks: torch.Tensor) -> np.ndarray:
        out = np.full((mels.shape[0], self.dimension), np.nan, dtype=np.float32)
        pieces: list[torch.Tensor] = []
        owners: list[int] = []
        n_frames = min(mels.shape[1], frame_masks.shape[1])
        for b in range(mels.shape[0]):
            active = mels[b, :n_frames][frame_masks[b, :n_frames]]
            if active.shape[0] < self.min_frames:
                continue
            for start in _partial_starts(active.shape[0], self.partial_step):
                pieces.append(active[start : start + PARTIAL_FRAMES])
                owners.append(b)
        if not pieces:
            return out
        lengths = torch.tensor([p.shape[0] for p in pieces])
        batch = torch.nn.utils.rnn.pad_sequence(pieces, batch_first=True)
        partials = self.model(batch, lengths).cpu().numpy()
        owner_arr = np.asarray(owners)
        for b in np.unique(owner_arr):
            mean = partials[owner_arr == b].mean(axis=0)
            mean = mean / max(float(np.linalg.norm(mean)), 1e-8)
            if self.center is not None:
                mean = mean - self.center
                mean = mean / max(float(np.linalg.norm(mean)), 1e-8)
            out[b] = mean
        return out


def _partial_starts(n: int, step: int) -> list[int]:
    """Starts of 1.6 s partials covering n frames; the last one is aligned to the end."""
    if n <= PARTIAL_FRAMES:
        return [0]
    starts = list(range(0, n - PARTIAL_FRAMES + 1, step))
    if starts[-1] + PARTIAL_FRAMES < n:
        starts.append(n - PARTIAL_FRAMES)
    return starts


def _frame_masks(masks: torch.Tensor, num_samples: int) -> torch.Tensor:
    """Resample pyannote's (batch, mask_frames) masks onto the 10 ms mel frames (bool)."""
    n_mel = num_samples // HOP + 1
    centres = torch.arange(n_mel, device=masks.device) * HOP
    idx = (centres * masks.shape[1] // max(num_samples, 1)).clamp_max(masks.shape[1] - 1)
    return masks[:, idx] > 0.5


def _normalise_volume(wav: torch.Tensor, frame_masks: torch.Tensor) -> torch.Tensor:
    """Raise each item's speech level to -30 dBFS (never lower), as resemblyzer's preprocessing.

    GE2E reads linear (not log) mel power, so its input level matters.
    """
    sample_mask = frame_masks.repeat_interleave(HOP, dim=1)[:, : wav.shape[1]]
    if sample_mask.shape[1] < wav.shape[1]:
        pad = wav.shape[1] - sample_mask.shape[1]
        sample_mask = torch.nn.functional.pad(sample_mask, (0, pad), value=False)
    count = sample_mask.sum(dim=1).clamp_min(1)
    rms = torch.sqrt((wav.pow(2) * sample_mask).sum(dim=1) / count).clamp_min(1e-6)
    target = 10 ** (TARGET_DBFS / 20)
    gain = (target / rms).clamp_min(1.0)
    return wav * gain[:, None]


def _mel_filterbank() -> torch.Tensor:
    """(40, 201) Slaney-scale, Slaney-normalised filters: librosa.filters.mel's defaults."""
    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    mel_pts = np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2)
    hz_pts = _mel_to_hz(mel_pts)
    fdiff = np.diff(hz_pts)
    ramps = hz_pts[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (hz_pts[2:] - hz_pts[:-2]))[:, None]
    return torch.from_numpy(weights.astype(np.float32))


_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / _F_SP
    log_part = _MIN_LOG_MEL + np.log(np.maximum(hz, 1e-10) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(hz >= _MIN_LOG_HZ, log_part, mel)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    hz = mel * _F_SP
    log_part = _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log_part, hz)

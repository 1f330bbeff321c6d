"""Feature extraction (log-mel, eGeMAPS/ComParE functionals, raw waveform) and group
normalization (none / per corpus / per speaker) with statistics from the data itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from m5ser.schema import SAMPLE_RATE

from .config import FeatureConfig


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + f / 700.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


@lru_cache(maxsize=8)
def mel_filterbank(n_mels: int, n_fft: int, sr: int = SAMPLE_RATE, fmin: float = 20.0) -> torch.Tensor:
    """Triangular HTK-style mel filters, shape (n_fft // 2 + 1, n_mels)."""
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(fmin)), _hz_to_mel(np.array(sr / 2)), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None, :] - lower) / (centre - lower)
    down = (upper - freqs[None, :]) / (upper - centre)
    fb = np.maximum(0.0, np.minimum(up, down)).T
    return torch.from_numpy(fb.astype(np.float32))


def log_mel(audio: np.ndarray, n_mels: int = 64, win_ms: float = 25.0, hop_ms: float = 10.0) -> np.ndarray:
    """Log mel energies, shape (frames, n_mels); silence floors at log(1e-6)."""
    win = int(SAMPLE_RATE * win_ms / 1000)
    hop = int(SAMPLE_RATE * hop_ms / 1000)
    n_fft = 1 << (win - 1).bit_length()
    x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    if x.numel() < win:
        x = torch.nn.functional.pad(x, (0, win - x.numel()))
    spec = torch.stft(
        x,
        n_fft=n_fft,
        hop_length=hop,
        win_length=win,
        window=torch.hann_window(win),
        center=False,
        return_complex=True,
    )
    power = spec.abs().pow(2).T  # (frames, bins)
    mel = power @ mel_filterbank(n_mels, n_fft)
    return torch.log(mel + 1e-6).numpy()


@dataclass
class Functionals:
    """openSMILE functionals (eGeMAPSv02: 88 values; ComParE_2016: 6373) for one clip.

    With `cache_dir`, results are kept per audio content hash in `<cache_dir>/<set>.npz`
    (call `save()`), so repeated runs on the same clips skip openSMILE.
    """

    feature_set: str = "eGeMAPSv02"
    cache_dir: str | None = None
    _smile: object = field(default=None, repr=False)
    _cache: dict[str, np.ndarray] | None = field(default=None, repr=False)

    def _path(self) -> Path:
        return Path(str(self.cache_dir)) / f"{self.feature_set}.npz"

    def _lookup(self) -> dict[str, np.ndarray]:
        if self._cache is None:
            path = self._path() if self.cache_dir else None
            self._cache = dict(np.load(path)) if path is not None and path.is_file() else {}
        return self._cache

    def save(self) -> None:
        """Write the cache (no-op without `cache_dir`)."""
        if self.cache_dir and self._cache:
            self._path().parent.mkdir(parents=True, exist_ok=True)
            np.savez(self._path(), **self._cache)

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        key = hashlib.blake2b(np.ascontiguousarray(audio, dtype=np.float32).tobytes(), digest_size=12).hexdigest()
        cache = self._lookup()
        if key in cache:
            return cache[key]
        if self._smile is None:
            try:
                import opensmile
            except ImportError as exc:
                raise ImportError("eGeMAPS features need the `train` extra: pip install opensmile") from exc
            self._smile = opensmile.Smile(
                feature_set=getattr(opensmile.FeatureSet, self.feature_set),
                feature_level=opensmile.FeatureLevel.Functionals,
            )
        min_len = SAMPLE_RATE // 4  # openSMILE returns NaNs on very short input
        padded = np.pad(audio, (0, min_len - len(audio))) if len(audio) < min_len else audio
        values = np.nan_to_num(self._smile.process_signal(padded, SAMPLE_RATE).to_numpy()[0].astype(np.float32))
        cache[key] = values
        return values


def make_extractor(cfg: FeatureConfig) -> Callable[[np.ndarray], np.ndarray]:
    """Clip audio -> model input: (frames, n_mels), (n_functionals,) or (samples,)."""
    if cfg.kind == "logmel":
        return lambda a: log_mel(a, cfg.n_mels, cfg.win_ms, cfg.hop_ms)
    if cfg.kind == "egemaps":
        return Functionals("eGeMAPSv02", cfg.cache_dir)
    if cfg.kind == "waveform":
        return lambda a: np.asarray(a, dtype=np.float32)
    raise ValueError(f"unknown feature kind {cfg.kind!r}")


def group_key(norm: str, speaker: str, corpus: str) -> str | None:
    """The normalization group of a clip: None (no normalization), its corpus or its speaker."""
    if norm == "none":
        return None
    if norm == "corpus":
        return f"corpus:{corpus}"
    if norm == "speaker":
        return f"speaker:{corpus}:{speaker}"
    raise ValueError(f"unknown norm {norm!r}")


@dataclass
class GroupStats:
    """Per-group mean and std of each feature dimension (frames pooled for 2-D features)."""

    mean: dict[str, np.ndarray] = field(default_factory=dict)
    std: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def fit(cls, features: Iterable[np.ndarray], groups: Sequence[str | None], min_std: float = 1e-3) -> GroupStats:
        """Accumulate sums per group in one pass (features may be a generator)."""
        acc: dict[str, list] = {}
        for feat, g in zip(features, groups, strict=True):
            if g is None:
                continue
            f = np.asarray(feat, dtype=np.float64).reshape(-1, feat.shape[-1])
            s = acc.setdefault(g, [0.0, 0.0, 0])
            s[0] = s[0] + f.sum(0)
            s[1] = s[1] + (f**2).sum(0)
            s[2] += f.shape[0]
        out = cls()
        for g, (s1, s2, n) in acc.items():
            mean = s1 / n
            var = np.maximum(s2 / n - mean**2, 0.0)
            out.mean[g] = mean.astype(np.float32)
            out.std[g] = np.maximum(np.sqrt(var), min_std).astype(np.float32)
        return out

    def apply(self, feat: np.ndarray, group: str | None) -> np.ndarray:
        """Standardize with the group's statistics (unchanged when group is None)."""
        if group is None:
            return feat
        if group not in self.mean:
            raise KeyError(f"no normalization statistics for group {group!r}")
        return ((feat - self.mean[group]) / self.std[group]).astype(np.float32)


def normalized_features(
    audios: Sequence[np.ndarray],
    extractor: Callable[[np.ndarray], np.ndarray],
    groups: Sequence[str | None],
) -> list[np.ndarray]:
    """Extract features of every clip and standardize them with their own group statistics.

    This is the test-time normalization: statistics come from the (unlabelled) clips being
    scored, per corpus or per speaker, never from the training data.
    """
    feats = [extractor(a) for a in audios]
    stats = GroupStats.fit(feats, groups)
    return [stats.apply(f, g) for f, g in zip(feats, groups, strict=True)]

"""Feature extraction (log-mel, eGeMAPS/ComParE functionals, pooled Whisper layer statistics,
raw waveform) and group normalization (none / per corpus / per speaker) with statistics from
the data itself.
"""

from __future__ import annotations

import hashlib
import os
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


def _audio_key(audio: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(audio, dtype=np.float32).tobytes(), digest_size=12).hexdigest()


@dataclass
class NpzCache:
    """Arrays by key, read from one .npz file on first use and written back atomically by
    `save()` when keys were added since (entries are keyed by content, never replaced);
    without a `path` they are kept in memory only."""

    path: Path | None = None
    _arrays: dict[str, np.ndarray] | None = field(default=None, repr=False)
    _stored: int = field(default=0, repr=False)  # entries the file holds

    @classmethod
    def in_dir(cls, cache_dir: str | None, name: str) -> NpzCache:
        """The cache `<cache_dir>/<name>.npz` (in memory only when `cache_dir` is None)."""
        return cls(Path(cache_dir) / f"{name}.npz" if cache_dir else None)

    def arrays(self) -> dict[str, np.ndarray]:
        if self._arrays is None:
            self._arrays = dict(np.load(self.path)) if self.path is not None and self.path.is_file() else {}
            self._stored = len(self._arrays)
        return self._arrays

    def save(self) -> None:
        if self.path is None or not self._arrays or len(self._arrays) == self._stored:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, **self._arrays)
        os.replace(tmp, self.path)  # a crash leaves the previous file or none
        self._stored = len(self._arrays)


@dataclass
class Functionals:
    """openSMILE functionals (eGeMAPSv02: 88 values; ComParE_2016: 6373) for one clip.

    With `cache_dir`, results are kept per audio content hash in `<cache_dir>/<set>.npz`
    (call `save()`), so repeated runs on the same clips skip openSMILE.
    """

    feature_set: str = "eGeMAPSv02"
    cache_dir: str | None = None
    _smile: object = field(default=None, repr=False)
    _cache: NpzCache | None = field(default=None, repr=False)

    def save(self) -> None:
        """Write the cache (no-op without `cache_dir`)."""
        if self._cache is not None:
            self._cache.save()

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        key = _audio_key(audio)
        if self._cache is None:
            self._cache = NpzCache.in_dir(self.cache_dir, self.feature_set)
        cache = self._cache.arrays()
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


@dataclass
class WhisperStats:
    """Mean and standard deviation over frames of every hidden state of a frozen Whisper
    encoder (embeddings first, final layer-normed last), run on the clip's unpadded log-mel.

    Returns the chosen `layers` flattened, shape (len(layers) * 2 * width,): each layer's
    block is [mean, std] (only the mean with `stats="mean"`). With `cache_dir`, all layers of
    each clip are kept (float16) per audio content hash in `<cache_dir>/whisper-<model
    digest>.npz` (call `save()`).
    """

    model: str = "store:whisper-base-hf"
    layers: tuple[int, ...] = ()
    cache_dir: str | None = None
    stats: str = "meanstd"
    _encoder: object = field(default=None, repr=False)
    _mel: object = field(default=None, repr=False)
    _cache: NpzCache | None = field(default=None, repr=False)

    def _load(self) -> None:
        try:
            import transformers as tf
        except ImportError as exc:
            raise ImportError("Whisper features need the `hf` extra: pip install transformers") from exc
        from m5ser.models.store import resolve

        path = resolve(self.model)
        self._encoder = tf.WhisperModel.from_pretrained(path).get_encoder().eval()
        self._mel = tf.WhisperFeatureExtractor.from_pretrained(path)
        digest = hashlib.blake2b(digest_size=6)
        for p in self._encoder.state_dict().values():  # the cache is keyed by the weights' content
            digest.update(p.detach().numpy().tobytes())
        self._cache = NpzCache.in_dir(self.cache_dir, f"whisper-{digest.hexdigest()}")

    def save(self) -> None:
        """Write the cache (no-op without `cache_dir`)."""
        if self._cache is not None:
            self._cache.save()

    def n_layers(self) -> int:
        """Number of hidden states (embeddings + transformer layers) the encoder gives."""
        if self._encoder is None:
            self._load()
        return int(self._encoder.config.encoder_layers) + 1

    @torch.no_grad()
    def all_layers(self, audio: np.ndarray) -> np.ndarray:
        """(layers + 1, 2 * width) float16 statistics of one clip (cached)."""
        if self._encoder is None:
            self._load()
        key = _audio_key(audio)
        cache = self._cache.arrays()
        if key not in cache:
            from m5ser.models.whisper_hf import clip_states

            states = clip_states(self._encoder, self._mel, audio, SAMPLE_RATE)  # (L, T, D)
            stats = torch.cat([states.mean(1), states.std(1, correction=0)], dim=-1)
            cache[key] = stats.numpy().astype(np.float16)
        return cache[key]

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        every = self.all_layers(audio)
        chosen = every[list(self.layers)] if self.layers else every
        if self.stats == "mean":
            chosen = chosen[:, : chosen.shape[1] // 2]
        return chosen.astype(np.float32).reshape(-1)


def make_extractor(cfg: FeatureConfig) -> Callable[[np.ndarray], np.ndarray]:
    """Clip audio -> model input: (frames, n_mels), (n_functionals,), (layers * 2 * width,)
    or (samples,)."""
    if cfg.kind == "logmel":
        return lambda a: log_mel(a, cfg.n_mels, cfg.win_ms, cfg.hop_ms)
    if cfg.kind == "egemaps":
        return Functionals("eGeMAPSv02", cfg.cache_dir)
    if cfg.kind == "whisper":
        return WhisperStats(cfg.whisper_model, tuple(cfg.layers), cfg.cache_dir, cfg.pooling)
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

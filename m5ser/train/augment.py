"""Light on-the-fly augmentation aimed at the synthetic -> real gap.

Waveform: speed perturbation, coloured noise, a synthetic room response, random spectral
tilt (so the model cannot key on one engine's spectral balance), a telephone channel (8 kHz
band, mu-law). Features: SpecAugment
masks, Gaussian noise on functionals. Every function takes an explicit `np.random.Generator`
so runs are reproducible.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve, lfilter, resample_poly

from m5ser.schema import SAMPLE_RATE

from .config import AugmentConfig


def speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Play `factor` times faster (pitch moves with it), by resampling."""
    if abs(factor - 1.0) < 1e-3:
        return x
    up = 100
    down = round(100 * factor)
    return resample_poly(x, up, down).astype(np.float32)


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add noise with a random spectral slope (white to brown) at the given SNR."""
    noise = rng.standard_normal(len(x)).astype(np.float32)
    leak = float(rng.uniform(0.0, 0.98))
    noise = lfilter([1.0], [1.0, -leak], noise).astype(np.float32)
    p_sig = float(np.mean(x**2)) + 1e-10
    p_noise = float(np.mean(noise**2)) + 1e-10
    return (x + noise * np.sqrt(p_sig / p_noise / 10 ** (snr_db / 10))).astype(np.float32)


def reverb(x: np.ndarray, rng: np.random.Generator, rt60_range: tuple[float, float] = (0.15, 0.6)) -> np.ndarray:
    """Convolve with an exponentially decaying noise impulse response (random RT60)."""
    rt60 = float(rng.uniform(*rt60_range))
    n = int(rt60 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    ir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    ir[0] = 1.0 / float(rng.uniform(0.3, 1.0))  # direct path vs. reverberant energy
    y = fftconvolve(x, ir)[: len(x)]
    return (y * np.sqrt((np.mean(x**2) + 1e-10) / (np.mean(y**2) + 1e-10))).astype(np.float32)


def tilt(x: np.ndarray, db: float) -> np.ndarray:
    """First-order tilt: +db brightens (more high-frequency energy), -db darkens."""
    a = float(np.clip(abs(db) / 20.0, 0.0, 0.9))
    if a == 0:
        return x
    kernel = [1.0, -a] if db > 0 else [1.0, a]
    y = lfilter(kernel, [1.0], x)
    return (y * np.sqrt((np.mean(x**2) + 1e-10) / (np.mean(y**2) + 1e-10))).astype(np.float32)


def telephone(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A narrow-band channel: down to 8 kHz and back (nothing above 4 kHz), mu-law 8-bit half the time."""
    y = resample_poly(x, 1, 2)
    if rng.random() < 0.5:
        mu = 255.0
        peak = float(np.max(np.abs(y))) + 1e-9
        c = np.sign(y) * np.log1p(mu * np.abs(y / peak)) / np.log1p(mu)
        c = np.round(c * 127) / 127
        y = np.sign(c) * np.expm1(np.abs(c) * np.log1p(mu)) / mu * peak
    return resample_poly(y, 2, 1)[: len(x)].astype(np.float32)


def augment_waveform(x: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Apply the configured waveform augmentations in a fixed order with random strengths."""
    lo, hi = cfg.speed
    if hi > lo:
        x = speed(x, float(rng.uniform(lo, hi)))
    if cfg.tilt_db > 0 and rng.random() < 0.5:
        x = tilt(x, float(rng.uniform(-cfg.tilt_db, cfg.tilt_db)))
    if rng.random() < cfg.reverb_prob:
        x = reverb(x, rng)
    if rng.random() < cfg.telephone_prob:
        x = telephone(x, rng)
    if rng.random() < cfg.noise_prob:
        x = add_noise(x, float(rng.uniform(*cfg.noise_snr_db)), rng)
    return x


def spec_augment(feat: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Zero random time spans and frequency bands of a normalized (frames, bins) array."""
    out = feat.copy()
    frames, bins = out.shape
    for _ in range(cfg.time_masks):
        w = int(rng.integers(0, cfg.time_mask_width + 1))
        if 0 < w < frames:
            s = int(rng.integers(0, frames - w))
            out[s : s + w] = 0.0
    for _ in range(cfg.freq_masks):
        w = int(rng.integers(0, cfg.freq_mask_width + 1))
        if 0 < w < bins:
            s = int(rng.integers(0, bins - w))
            out[:, s : s + w] = 0.0
    return out


def feature_noise(feat: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise on normalized functionals."""
    return (feat + rng.normal(0.0, std, feat.shape)).astype(np.float32) if std > 0 else feat

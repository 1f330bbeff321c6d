"""Audio decoding and conditioning: any WAV/FLAC at any rate → mono float32 at 16 kHz."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

TARGET_SR = 16_000
"""Every model input is 16 kHz mono."""


def to_mono(x: np.ndarray) -> np.ndarray:
    """Average channels of a (frames, channels) array; 1-D input is returned as is."""
    return x.mean(axis=1) if x.ndim == 2 else x


def resample(x: np.ndarray, sr: int, target_sr: int = TARGET_SR) -> np.ndarray:
    """Polyphase resampling by the exact rational ratio `target_sr / sr`."""
    if sr == target_sr:
        return x
    ratio = Fraction(target_sr, sr).limit_denominator(1000)
    return resample_poly(x, ratio.numerator, ratio.denominator).astype(np.float32)


def condition(x: np.ndarray, sr: int) -> np.ndarray:
    """Mono, 16 kHz, float32."""
    return resample(to_mono(np.asarray(x, dtype=np.float32)), sr).astype(np.float32)


def decode_bytes(data: bytes) -> np.ndarray:
    """Decode a complete WAV/FLAC file held in memory."""
    x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    return condition(x, sr)


def load_file(path: str | Path) -> np.ndarray:
    """Read an audio file (anything libsndfile reads: WAV, FLAC, OGG, ...)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio file not found: {path}")
    x, sr = sf.read(str(path), dtype="float32", always_2d=False)
    return condition(x, sr)


def trim_silence(x: np.ndarray, top_db: float = 40.0, frame: int = 400, hop: int = 160) -> np.ndarray:
    """Cut leading/trailing frames quieter than `top_db` below the loudest frame.

    Corpora differ in how much silence surrounds each clip; trimming removes that cue.
    """
    if top_db <= 0 or len(x) < frame:
        return x
    n = 1 + (len(x) - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    energy = 10 * np.log10(np.mean(x[idx] ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(energy > energy.max() - top_db)
    if loud.size == 0:
        return x
    return x[loud[0] * hop : loud[-1] * hop + frame]

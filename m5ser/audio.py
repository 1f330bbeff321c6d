"""Audio helpers: resampling, PCM16 WAV bytes, loading any file to 16 kHz mono."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from m5ser.manifest import write_bytes_atomic
from m5ser.schema import SAMPLE_RATE


def resample(samples: np.ndarray, sr_in: int, sr_out: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling of mono float audio from `sr_in` to `sr_out`."""
    if sr_in == sr_out:
        return samples.astype(np.float32, copy=False)
    g = np.gcd(sr_in, sr_out)
    return resample_poly(samples, sr_out // g, sr_in // g).astype(np.float32)


def to_mono(samples: np.ndarray) -> np.ndarray:
    return samples.mean(axis=1) if samples.ndim == 2 else samples


def trim_silence(samples: np.ndarray, sample_rate: int, below_peak_db: float = 45.0, pad_s: float = 0.1) -> np.ndarray:
    """Cut leading/trailing stretches quieter than `below_peak_db` under the loudest 10 ms, keeping `pad_s`."""
    hop = max(1, int(0.01 * sample_rate))
    n = len(samples) // hop
    if n == 0:
        return samples
    energy = np.square(samples[: n * hop].astype(np.float64)).reshape(n, hop).mean(axis=1)
    loud = np.flatnonzero(energy > energy.max() * 10 ** (-below_peak_db / 10))
    if len(loud) == 0:
        return samples
    pad = int(pad_s * sample_rate)
    start = max(0, loud[0] * hop - pad)
    end = min(len(samples), (loud[-1] + 1) * hop + pad)
    return samples[start:end]


def wav_bytes(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Encode float audio in [-1, 1] as a PCM16 mono WAV file (clipped, deterministic)."""
    buf = io.BytesIO()
    pcm = np.clip(samples, -1.0, 1.0)
    sf.write(buf, pcm, sample_rate, subtype="PCM_16", format="WAV")
    return buf.getvalue()


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write a PCM16 WAV atomically."""
    write_bytes_atomic(path, wav_bytes(samples, sample_rate))


def load(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read any soundfile-readable file (WAV, FLAC, …) as float32 mono at `sample_rate`."""
    try:
        samples, sr = sf.read(str(path), dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise ValueError(f"{path}: cannot read audio ({e})") from e
    return resample(to_mono(samples), sr, sample_rate)

"""The one audio module of build and training: decoding any file or bytes to 16 kHz mono,
resampling, the one silence-trim rule, and PCM16 WAV encoding.

The build trims every clip with `trim_silence` before writing it; training and `m5ser eval`
trim with the same function (when the train config's `data.trim` is on), so a built clip
looks the same to the model as it did to the build's quality checks.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from m5ser.manifest import write_bytes_atomic
from m5ser.schema import SAMPLE_RATE


def resample(samples: np.ndarray, sr_in: int, sr_out: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling of mono float audio from `sr_in` to `sr_out` (exact ratio, reduced by gcd)."""
    if sr_in == sr_out:
        return samples.astype(np.float32, copy=False)
    g = np.gcd(sr_in, sr_out)
    return resample_poly(samples, sr_out // g, sr_in // g).astype(np.float32)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels of a (frames, channels) array; 1-D input is returned as is."""
    return samples.mean(axis=1) if samples.ndim == 2 else samples


def condition(samples: np.ndarray, sr_in: int, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mono float32 at `sample_rate`: channels averaged, then resampled."""
    return resample(to_mono(np.asarray(samples, dtype=np.float32)), sr_in, sample_rate)


def trim_silence(samples: np.ndarray, sample_rate: int, below_peak_db: float = 45.0, pad_s: float = 0.1) -> np.ndarray:
    """Cut leading/trailing stretches quieter than `below_peak_db` under the loudest 10 ms, keeping `pad_s`.

    Energy is measured over consecutive 10 ms frames (a partial last frame is not measured);
    a frame is loud when its mean power is strictly above the loudest frame's power times
    10^(-below_peak_db/10). The clip keeps the first to the last loud frame, widened by
    `pad_s` on each side (clamped to the clip). Silent or sub-frame input is returned as is.
    This is the one trim rule of the project (build and training).
    """
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


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE, *, fsync: bool = True) -> None:
    """Write a PCM16 WAV atomically (`fsync`: see `m5ser.manifest.atomic_open`)."""
    write_bytes_atomic(path, wav_bytes(samples, sample_rate), fsync=fsync)


def _read(source: str | BinaryIO, name: str | Path, sample_rate: int) -> np.ndarray:
    """Decode `source` with libsndfile; errors become a ValueError naming `name`."""
    try:
        samples, sr = sf.read(source, dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise ValueError(f"{name}: cannot read audio ({e})") from e
    return condition(samples, sr, sample_rate)


def load(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read any soundfile-readable file (WAV, FLAC, OGG, …) as float32 mono at `sample_rate`.

    A file libsndfile cannot read (missing, not audio) raises ValueError naming the path.
    """
    return _read(str(path), path, sample_rate)


def decode_bytes(data: bytes, sample_rate: int = SAMPLE_RATE, name: str = "<bytes>") -> np.ndarray:
    """Decode a complete audio file held in memory (WAV, FLAC, …) as float32 mono at `sample_rate`.

    Undecodable bytes raise ValueError naming `name` (for example the clip id).
    """
    return _read(io.BytesIO(data), name, sample_rate)

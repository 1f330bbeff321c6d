"""The one audio module of build and training: decoding any file or bytes to 16 kHz mono,
resampling, the one silence-trim rule, and PCM16 WAV encoding.

The build trims every clip with `trim_silence` before writing it; training and `m5ser eval`
trim with the same function (when the train config's `data.trim` is on), so a built clip
looks the same to the model as it did to the build's quality checks.

The last few WAVs this process wrote (`write_wav`) are kept in memory: `load` of one that is
still the same file (inode, size, modification time) decodes it from there instead of reading
it back (the build's signal checks read each clip just after synthesis wrote it).
"""

from __future__ import annotations

import functools
import io
import os
import struct
import threading
from collections import OrderedDict
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
from scipy.signal import firwin, resample_poly

from m5ser.manifest import write_bytes_atomic
from m5ser.schema import SAMPLE_RATE


def resample(samples: np.ndarray, sr_in: int, sr_out: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling of mono float audio from `sr_in` to `sr_out` (exact ratio, reduced by gcd)."""
    if sr_in == sr_out:
        return samples.astype(np.float32, copy=False)
    g = int(np.gcd(sr_in, sr_out))
    up, down = sr_out // g, sr_in // g
    h = _lowpass(up, down)
    if np.issubdtype(samples.dtype, np.floating):
        h = h.astype(samples.dtype)  # as resample_poly matches its own design to the input
    return resample_poly(samples, up, down, window=h).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _lowpass(up: int, down: int) -> np.ndarray:
    """The anti-aliasing FIR filter `resample_poly` designs for (up, down) with its default
    window, designed once per ratio (the design costs about as much as filtering a clip)."""
    rate = max(up, down)
    h = firwin(2 * 10 * rate + 1, 1.0 / rate, window=("kaiser", 5.0))
    h.flags.writeable = False
    return h


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


def pcm16(samples: np.ndarray) -> np.ndarray:
    """Float audio (mono, any float dtype) as int16 samples, exactly as libsndfile 1.2 writes PCM16:
    clipped to [-1, 1], scaled by 2^31, rounded to the nearest integer (ties to even), shifted
    right by 16 bits (a floor to the 1/32768 grid), capped at 32767."""
    x = np.asarray(samples)
    if x.ndim != 1 or not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"PCM16 needs mono float samples, got {x.dtype} with shape {x.shape}")
    scaled = np.rint(np.clip(x, -1.0, 1.0).astype(np.float64) * 2.0**31).astype(np.int64)
    return np.minimum(scaled >> 16, 32767).astype("<i2")


def _wav_file(pcm: np.ndarray, sample_rate: int) -> bytes:
    """A mono PCM16 WAV file of int16 `pcm`: the 44-byte header (RIFF, fmt, data chunk header) as
    libsndfile writes it, then the samples."""
    size = 2 * pcm.size
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + size, b"WAVE", b"fmt ", 16, 1, 1, sample_rate, 2 * sample_rate, 2, 16,
        b"data", size,
    ) + pcm.astype("<i2", copy=False).tobytes()  # fmt: skip


def wav_bytes(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Encode float audio in [-1, 1] as a PCM16 mono WAV file (clipped, deterministic): the bytes
    libsndfile's ``sf.write(..., subtype="PCM_16")`` gives (tests/test_audio.py), without its
    per-call cost."""
    return _wav_file(pcm16(samples), sample_rate)


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE, *, fsync: bool = True) -> None:
    """Write a PCM16 WAV atomically (`fsync`: see `m5ser.manifest.atomic_open`); its samples stay
    in memory for a `load` of the same file soon after."""
    pcm = pcm16(samples)
    write_bytes_atomic(path, _wav_file(pcm, sample_rate), fsync=fsync)
    _remember(path, pcm, sample_rate)


RECENT_WAVS = 8
"""WAVs written by this process that `load` serves from memory (the most recent ones)."""
_recent: OrderedDict[str, tuple[tuple[int, int, int], int, np.ndarray]] = OrderedDict()
_recent_lock = threading.Lock()


def _identity(path: str | Path) -> tuple[int, int, int]:
    """(inode, size, modification time): an atomic rewrite (a rename) always changes the inode."""
    st = os.stat(path)
    return st.st_ino, st.st_size, st.st_mtime_ns


def _remember(path: str | Path, pcm: np.ndarray, sample_rate: int) -> None:
    """Keep the int16 samples just written to `path` (the most recent RECENT_WAVS files)."""
    key = str(path)
    with _recent_lock:
        _recent[key] = (_identity(path), sample_rate, pcm)
        _recent.move_to_end(key)
        while len(_recent) > RECENT_WAVS:
            _recent.popitem(last=False)


def _recalled(path: str | Path, sample_rate: int) -> np.ndarray | None:
    """The float32 samples of `path` if this process wrote it at `sample_rate` and it is unchanged
    (as libsndfile decodes PCM16: int16 / 32768)."""
    with _recent_lock:
        hit = _recent.get(str(path))
    if hit is None or hit[1] != sample_rate:
        return None
    try:
        if _identity(path) != hit[0]:
            return None
    except OSError:
        return None
    return hit[2].astype(np.float32) * np.float32(1 / 32768)


def _read(source: str | BinaryIO, name: str | Path, sample_rate: int) -> np.ndarray:
    """Decode `source` with libsndfile; errors become a ValueError naming `name`."""
    try:
        samples, sr = sf.read(source, dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise ValueError(f"{name}: cannot read audio ({e})") from e
    return condition(samples, sr, sample_rate)


def load(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read any soundfile-readable file (WAV, FLAC, OGG, …) as float32 mono at `sample_rate`.

    A file libsndfile cannot read (missing, not audio) raises ValueError naming the path. A WAV
    this process just wrote with `write_wav` (and still unchanged) is decoded from memory.
    """
    recalled = _recalled(path, sample_rate)
    return recalled if recalled is not None else _read(str(path), path, sample_rate)


def decode_bytes(data: bytes, sample_rate: int = SAMPLE_RATE, name: str = "<bytes>") -> np.ndarray:
    """Decode a complete audio file held in memory (WAV, FLAC, …) as float32 mono at `sample_rate`.

    Undecodable bytes raise ValueError naming `name` (for example the clip id).
    """
    return _read(io.BytesIO(data), name, sample_rate)

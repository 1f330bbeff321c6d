"""FLAC encoding of the shards' audio column through libFLAC (ctypes), with a chosen block size.

libsndfile (`soundfile`) only exposes FLAC's compression level, and its level 8 codes 16 kHz
speech in blocks of 4,096 samples (256 ms). Blocks of 1,024 samples (64 ms, still within
FLAC's streamable subset, so every decoder reads them) follow the changing spectrum of speech
better, and a search over the LPC coefficient precision (``flac -p``) saves a little more:
~2.5 % fewer bytes on the mini recipe's clips (bench/storage.py prints both side by side).
libFLAC comes with Debian's ``libflac12`` (scripts/install-system.sh).

Output is deterministic for one libFLAC release: the same samples give the same bytes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any

import numpy as np

COMPRESSION_LEVEL = 8
"""libFLAC's preset (``flac -8``): LPC order up to 12, the widest apodization search."""

BLOCK_SIZE = 1024
"""Samples per FLAC block at 16 kHz (64 ms); measured against 576-4,096 (``flac -b``)."""

PRECISION_SEARCH = True
"""Try every LPC coefficient precision per subframe (``flac -p``): a few tenths of a percent fewer
bytes for several times the encoding time (still a small part of a clip's cost)."""

_LIBRARY_NAMES = ("libFLAC.so.12", "libFLAC.so.14", "libFLAC.so.8")
_U64 = ctypes.c_uint64
_WRITE = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_ubyte), ctypes.c_size_t, ctypes.c_uint32,
    ctypes.c_uint32, ctypes.c_void_p,
)  # fmt: skip
_SEEK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, _U64, ctypes.c_void_p)
_TELL = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(_U64), ctypes.c_void_p)


class FlacError(RuntimeError):
    """libFLAC is missing or refused the samples."""


@functools.cache
def _lib() -> Any:
    """The libFLAC shared library, its functions typed (loaded once per process)."""
    names = [n for n in (ctypes.util.find_library("FLAC"), *_LIBRARY_NAMES) if n]
    for name in names:
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    else:
        raise FlacError(
            f"shards.audio_format 'flac' needs libFLAC (tried {names}); install Debian's libflac12 "
            "(scripts/install-system.sh) or set shards.audio_format: wav"
        )
    enc = ctypes.c_void_p
    lib.FLAC__stream_encoder_new.restype = enc
    lib.FLAC__stream_encoder_delete.argtypes = [enc]
    for name in ("channels", "bits_per_sample", "sample_rate", "compression_level", "blocksize"):
        getattr(lib, f"FLAC__stream_encoder_set_{name}").argtypes = [enc, ctypes.c_uint32]
    lib.FLAC__stream_encoder_set_streamable_subset.argtypes = [enc, ctypes.c_int]
    lib.FLAC__stream_encoder_set_do_qlp_coeff_prec_search.argtypes = [enc, ctypes.c_int]
    lib.FLAC__stream_encoder_set_total_samples_estimate.argtypes = [enc, _U64]
    lib.FLAC__stream_encoder_init_stream.argtypes = [enc, _WRITE, _SEEK, _TELL, ctypes.c_void_p, ctypes.c_void_p]
    lib.FLAC__stream_encoder_process_interleaved.argtypes = [enc, ctypes.POINTER(ctypes.c_int32), ctypes.c_uint32]
    lib.FLAC__stream_encoder_finish.argtypes = [enc]
    lib.FLAC__stream_encoder_get_state.argtypes = [enc]
    return lib


def version() -> str:
    """The libFLAC release that encodes (part of what makes the bytes reproducible)."""
    value = ctypes.c_char_p.in_dll(_lib(), "FLAC__VERSION_STRING").value
    return value.decode() if value else ""


def encode(samples: np.ndarray, sample_rate: int, *, block_size: int = BLOCK_SIZE) -> bytes:
    """A complete FLAC file (STREAMINFO with MD5, vendor comment, frames) of mono int16 `samples`."""
    if samples.dtype != np.int16 or samples.ndim != 1:
        raise ValueError(f"FLAC input must be mono int16 samples, got {samples.dtype} with shape {samples.shape}")
    lib = _lib()
    out = bytearray()
    pos = 0

    def write(_enc: Any, buffer: Any, n: int, _samples: int, _frame: int, _client: Any) -> int:
        nonlocal pos
        out[pos : pos + n] = ctypes.string_at(buffer, n)  # the final STREAMINFO rewrite lands at 0
        pos += n
        return 0  # FLAC__STREAM_ENCODER_WRITE_STATUS_OK

    def seek(_enc: Any, offset: int, _client: Any) -> int:
        nonlocal pos
        pos = offset
        return 0  # FLAC__STREAM_ENCODER_SEEK_STATUS_OK

    def tell(_enc: Any, offset: Any, _client: Any) -> int:
        offset[0] = pos
        return 0  # FLAC__STREAM_ENCODER_TELL_STATUS_OK

    callbacks = (_WRITE(write), _SEEK(seek), _TELL(tell))  # referenced until the encoder is gone
    enc = lib.FLAC__stream_encoder_new()
    if not enc:
        raise FlacError("FLAC__stream_encoder_new failed (out of memory)")
    try:
        lib.FLAC__stream_encoder_set_channels(enc, 1)
        lib.FLAC__stream_encoder_set_bits_per_sample(enc, 16)
        lib.FLAC__stream_encoder_set_sample_rate(enc, int(sample_rate))
        lib.FLAC__stream_encoder_set_streamable_subset(enc, 1)
        lib.FLAC__stream_encoder_set_compression_level(enc, COMPRESSION_LEVEL)  # sets a block size too,
        lib.FLAC__stream_encoder_set_blocksize(enc, int(block_size))  # so ours comes after it
        lib.FLAC__stream_encoder_set_do_qlp_coeff_prec_search(enc, int(PRECISION_SEARCH))
        lib.FLAC__stream_encoder_set_total_samples_estimate(enc, samples.size)
        status = lib.FLAC__stream_encoder_init_stream(enc, *callbacks, None, None)
        if status != 0:
            raise FlacError(f"FLAC__stream_encoder_init_stream failed (status {status}, block size {block_size})")
        data = np.ascontiguousarray(samples, dtype=np.int32)
        ok = data.size == 0 or lib.FLAC__stream_encoder_process_interleaved(
            enc, data.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)), data.size
        )
        state = lib.FLAC__stream_encoder_get_state(enc)
        if not (ok and lib.FLAC__stream_encoder_finish(enc)):
            raise FlacError(f"libFLAC failed to encode {samples.size} samples (encoder state {state})")
    finally:
        lib.FLAC__stream_encoder_delete(enc)
    return bytes(out)

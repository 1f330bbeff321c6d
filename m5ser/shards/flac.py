"""FLAC encoding of the shards' audio column through libFLAC (ctypes), with a chosen block size.

libsndfile (`soundfile`) only exposes FLAC's compression level, and its level 8 codes 16 kHz
speech in blocks of 4,096 samples (256 ms). Blocks of 1,024 samples (64 ms, still within
FLAC's streamable subset, so every decoder reads them) follow the changing spectrum of speech
better, and a search over the LPC coefficient precision (``flac -p``, `PRECISION_SEARCH`) saves
a little more: ~2.5 % fewer bytes on the mini recipe's clips (bench/storage.py prints both side
by side). The search runs over two analysis windows instead of level 8's six (`APODIZATION`),
residual partitions stop at order 5 (`MAX_PARTITION_ORDER`), and the VORBIS_COMMENT block
libFLAC always writes (only its vendor string: 44 bytes a clip, ~0.07 % of a clip's PCM bytes)
is left out, as FLAC allows: decoders need STREAMINFO only. Together: under half the encoding
time of level 8's settings (bench/storage.py, flac-prev).
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
"""Try every LPC coefficient precision per subframe (``flac -p``). bench/storage.py on the mini
recipe (all 8 languages, 1,286 clips): 2.60 instead of 1.40 ms of CPU a clip, for 0.1-0.2 % of
PCM bytes per language (all 0.589 vs 0.591; English 0.600 vs 0.602, at the 0.6 goal). Bytes are
paid by every download of a dataset, the CPU once by its builder: kept on."""

APODIZATION = b"tukey(5e-1);partial_tukey(2)"
"""LPC analysis windows (``flac -A``), each tried per subframe (the precision search runs once per
window). Level 8's ``subdivide_tukey(3)`` tries six: on the mini recipe's clips these two take
~45 % less encoding time for 0.07-0.08 % of PCM bytes more."""

MAX_PARTITION_ORDER = 5
"""Largest Rice partition order (``flac -r``; level 8: 6, i.e. partitions down to 16 samples of
a 1,024-sample block): ~15 % less encoding time for < 0.01 % of PCM bytes more."""

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
    lib.FLAC__stream_encoder_set_apodization.argtypes = [enc, ctypes.c_char_p]
    lib.FLAC__stream_encoder_set_max_residual_partition_order.argtypes = [enc, ctypes.c_uint32]
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


def encode(
    samples: np.ndarray,
    sample_rate: int,
    *,
    block_size: int = BLOCK_SIZE,
    apodization: bytes = APODIZATION,
    max_partition_order: int = MAX_PARTITION_ORDER,
    precision_search: bool = PRECISION_SEARCH,
    comment: bool = False,
) -> bytes:
    """A complete FLAC file (STREAMINFO with MD5, then the frames) of mono int16 `samples`.

    `apodization`, `max_partition_order`, `precision_search` and `comment` (keep libFLAC's vendor
    comment block) are there to measure other choices side by side (bench/storage.py); the shards
    use the defaults."""
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
        lib.FLAC__stream_encoder_set_do_qlp_coeff_prec_search(enc, int(precision_search))
        lib.FLAC__stream_encoder_set_apodization(enc, apodization)
        lib.FLAC__stream_encoder_set_max_residual_partition_order(enc, int(max_partition_order))
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
    return bytes(out) if comment else _without_comment(out)


_STREAMINFO_END = 4 + 4 + 34  # "fLaC", the block header, STREAMINFO's 34 bytes
_VORBIS_COMMENT = 4


def _without_comment(data: bytearray) -> bytes:
    """`data` (libFLAC's output: STREAMINFO, then its one VORBIS_COMMENT block holding the vendor
    string, then the frames) without the comment block, STREAMINFO marked as the last one."""
    header = data[_STREAMINFO_END]
    if data[:4] != b"fLaC" or data[4] != 0 or header != 0x80 | _VORBIS_COMMENT:
        raise FlacError(f"unexpected libFLAC metadata layout (block headers {data[4]:#x}, {header:#x})")
    length = int.from_bytes(data[_STREAMINFO_END + 1 : _STREAMINFO_END + 4], "big")
    del data[_STREAMINFO_END : _STREAMINFO_END + 4 + length]
    data[4] = 0x80  # last-metadata-block flag, block type 0 (STREAMINFO)
    return bytes(data)

"""libFLAC encoding of the audio column: lossless, deterministic, the chosen block size, clear errors."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
import soundfile as sf

from m5ser.schema import SAMPLE_RATE
from m5ser.shards import flac


def speechlike(seconds: float = 1.3, seed: int = 0) -> np.ndarray:
    """int16 samples: a harmonic tone with noise, silence and full-scale peaks (edge values)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    x = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 20)) + 0.05 * rng.standard_normal(t.size)
    x = (x / np.max(np.abs(x)) * 32767).astype(np.int16)
    x[: SAMPLE_RATE // 10] = 0
    x[-3:] = [-32768, 32767, -1]
    return x


def streaminfo(data: bytes) -> dict[str, int]:
    """Fields of the STREAMINFO block (the first metadata block after ``fLaC``)."""
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0
    body = data[8:42]
    bits = int.from_bytes(body[10:18], "big")
    return {
        "min_block": int.from_bytes(body[0:2], "big"),
        "max_block": int.from_bytes(body[2:4], "big"),
        "sample_rate": bits >> 44,
        "channels": ((bits >> 41) & 0x7) + 1,
        "bits": ((bits >> 36) & 0x1F) + 1,
        "samples": bits & ((1 << 36) - 1),
        "md5": int.from_bytes(body[18:34], "big"),
    }


@pytest.mark.parametrize("n", [1, 1023, 1024, 1025, 20_000])
def test_round_trip_is_exact(n: int) -> None:
    x = speechlike()[:n] if n <= 20_000 else speechlike()
    data = flac.encode(x, SAMPLE_RATE)
    y, sr = sf.read(io.BytesIO(data), dtype="int16")
    assert sr == SAMPLE_RATE
    np.testing.assert_array_equal(y, x)


def test_streaminfo_carries_block_size_length_and_md5() -> None:
    x = speechlike()
    info = streaminfo(flac.encode(x, SAMPLE_RATE))
    assert info["max_block"] == flac.BLOCK_SIZE  # libFLAC's level-8 default would be 4096
    assert (info["sample_rate"], info["channels"], info["bits"], info["samples"]) == (SAMPLE_RATE, 1, 16, x.size)
    assert info["md5"] == int.from_bytes(hashlib.md5(x.astype("<i2").tobytes()).digest(), "big")


def test_same_samples_same_bytes() -> None:
    x = speechlike(seed=3)
    assert flac.encode(x, SAMPLE_RATE) == flac.encode(x.copy(), SAMPLE_RATE)
    assert flac.encode(x, SAMPLE_RATE) != flac.encode(speechlike(seed=4), SAMPLE_RATE)


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="mono int16"):
        flac.encode(np.zeros(10, dtype=np.float32), SAMPLE_RATE)
    with pytest.raises(ValueError, match="mono int16"):
        flac.encode(np.zeros((10, 2), dtype=np.int16), SAMPLE_RATE)
    with pytest.raises(flac.FlacError, match="block size 7"):
        flac.encode(speechlike(), SAMPLE_RATE, block_size=7)  # below FLAC's minimum of 16


def test_only_streaminfo_before_the_frames() -> None:
    """libFLAC's vendor comment block is left out: STREAMINFO is the last metadata block and the
    frames (sync code 0xFFF8) follow it; with the comment kept, only those 44-odd bytes differ."""
    x = speechlike(seed=5)
    data, full = flac.encode(x, SAMPLE_RATE), flac.encode(x, SAMPLE_RATE, comment=True)
    assert data[4] == 0x80 and data[42:44] == b"\xff\xf8"
    assert full[4] == 0x00 and full[42] == 0x84  # last block: VORBIS_COMMENT (type 4)
    comment_end = 46 + int.from_bytes(full[43:46], "big")
    assert data[42:] == full[comment_end:] and data[5:42] == full[5:42]
    assert b"libFLAC" in full[42:comment_end] and b"libFLAC" not in data[:64]

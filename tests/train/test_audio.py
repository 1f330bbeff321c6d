import numpy as np
import pytest
import soundfile as sf

from m5ser.train.audio import decode_bytes, load_file, resample, to_mono, trim_silence
from m5ser.train.testing import wav_bytes


@pytest.mark.parametrize("sr", [8_000, 16_000, 22_050, 44_100, 48_000])
def test_resample_keeps_duration_and_pitch(sr):
    t = np.arange(sr) / sr
    y = resample(np.sin(2 * np.pi * 440 * t).astype(np.float32), sr)
    assert len(y) == pytest.approx(16_000, abs=2)
    assert np.argmax(np.abs(np.fft.rfft(y))) == pytest.approx(440, abs=2)  # 1 s -> 1 Hz bins


def test_stereo_becomes_mono_and_files_load(tmp_path):
    x = np.stack([np.ones(100), np.zeros(100)], axis=1).astype(np.float32)
    assert np.allclose(to_mono(x), 0.5)
    sf.write(tmp_path / "a.flac", x * 0.5, 32_000)
    assert load_file(tmp_path / "a.flac").shape == (50,)
    with pytest.raises(FileNotFoundError, match=r"nope\.wav"):
        load_file(tmp_path / "nope.wav")


def test_decode_bytes_roundtrip():
    x = (0.1 * np.sin(np.arange(1600) / 5)).astype(np.float32)
    assert np.allclose(decode_bytes(wav_bytes(x)), x, atol=1e-4)


def test_trim_silence_cuts_quiet_edges():
    x = np.concatenate([np.zeros(8000), 0.5 * np.ones(16000), np.zeros(8000)]).astype(np.float32)
    y = trim_silence(x, 40.0)
    assert 16000 <= len(y) <= 16000 + 800 and trim_silence(x, 0).shape == x.shape

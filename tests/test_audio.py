import numpy as np
import pytest
import soundfile as sf

from m5ser import audio
from m5ser.schema import SAMPLE_RATE

RATES = [8_000, 16_000, 22_050, 44_100, 48_000]


def tone(sr: int, seconds: float = 1.0, hz: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def peak_hz(x: np.ndarray) -> float:
    return float(np.argmax(np.abs(np.fft.rfft(x))) * SAMPLE_RATE / len(x))


@pytest.mark.parametrize("sr", RATES)
def test_every_rate_loads_to_16k_keeping_duration_and_pitch(tmp_path, sr):
    sf.write(tmp_path / "a.wav", tone(sr), sr, subtype="PCM_16")
    sf.write(tmp_path / "a.flac", np.stack([tone(sr), tone(sr)], axis=1), sr, subtype="PCM_16")
    for y in (audio.load(tmp_path / "a.wav"), audio.load(tmp_path / "a.flac")):
        assert y.dtype == np.float32 and y.ndim == 1 and len(y) == SAMPLE_RATE  # exact ratio: 1 s -> 16000
        assert peak_hz(y) == pytest.approx(440, abs=2)


@pytest.mark.parametrize("sr", RATES)
def test_decode_bytes_goes_to_16k(sr):
    x = tone(sr, 0.5, amp=0.1)
    y = audio.decode_bytes(audio.wav_bytes(x, sr))
    assert len(y) == SAMPLE_RATE // 2 and peak_hz(y) == pytest.approx(440, abs=4)
    if sr == SAMPLE_RATE:
        assert np.allclose(y, x, atol=1e-4)  # PCM16 round trip


def test_stereo_is_averaged():
    x = np.stack([np.ones(100), np.zeros(100)], axis=1).astype(np.float32)
    assert np.allclose(audio.condition(x, SAMPLE_RATE), 0.5)
    assert audio.condition(x, 32_000).shape == (50,)


def test_trim_keeps_the_pad_on_both_sides():
    # 0.5 s of near-silence (-80 dB), 1 s of tone starting and ending on 10 ms frame edges, 0.5 s again
    rng = np.random.default_rng(0)
    quiet = lambda n: (1e-4 * rng.standard_normal(n)).astype(np.float32)  # noqa: E731
    x = np.concatenate([quiet(8_000), tone(SAMPLE_RATE), quiet(8_000)])
    y = audio.trim_silence(x, SAMPLE_RATE)
    pad = int(0.1 * SAMPLE_RATE)
    assert len(y) == SAMPLE_RATE + 2 * pad
    assert np.array_equal(y, x[8_000 - pad : 8_000 + SAMPLE_RATE + pad])


def test_trim_keeps_stretches_within_45_db_of_the_peak():
    x = np.concatenate([tone(SAMPLE_RATE, 0.5, amp=0.5 * 10 ** (-40 / 20)), tone(SAMPLE_RATE)])
    assert len(audio.trim_silence(x, SAMPLE_RATE)) == len(x)  # -40 dB is loud enough to stay


def test_trim_pad_is_clamped_and_silence_is_left_alone():
    x = np.concatenate([tone(SAMPLE_RATE, 0.05), np.zeros(SAMPLE_RATE, dtype=np.float32)])
    assert len(audio.trim_silence(x, SAMPLE_RATE)) == 800 + 1600  # no room before, 0.1 s after
    silent = np.zeros(SAMPLE_RATE, dtype=np.float32)
    assert audio.trim_silence(silent, SAMPLE_RATE) is silent
    short = np.ones(100, dtype=np.float32)
    assert audio.trim_silence(short, SAMPLE_RATE) is short


def test_a_built_clip_trims_to_itself():
    """Training re-applies the build's rule to built (trimmed, PCM16) clips: nothing changes."""
    rng = np.random.default_rng(1)
    speechlike = tone(SAMPLE_RATE, 1.3) * (0.5 + 0.5 * np.sin(np.linspace(0, 9, int(1.3 * SAMPLE_RATE)))) ** 2
    x = np.concatenate([np.zeros(5_000), speechlike, np.zeros(7_000)])
    x = x + 1e-4 * rng.standard_normal(len(x))
    built = audio.decode_bytes(audio.wav_bytes(audio.trim_silence(x.astype(np.float32), SAMPLE_RATE)))
    assert len(built) < len(x)
    assert np.array_equal(audio.trim_silence(built, SAMPLE_RATE), built)


def test_non_audio_and_missing_files_raise_naming_the_file(tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio at all")
    with pytest.raises(ValueError, match=r"notes\.wav: cannot read audio"):
        audio.load(bad)
    with pytest.raises(ValueError, match=r"nope\.flac"):
        audio.load(tmp_path / "nope.flac")
    with pytest.raises(ValueError, match="clip abc: cannot read audio"):
        audio.decode_bytes(b"RIFF....garbage", name="clip abc")


def test_write_wav_then_load(tmp_path):
    x = tone(SAMPLE_RATE, 0.25, amp=0.2)
    audio.write_wav(tmp_path / "w.wav", x)
    info = sf.info(str(tmp_path / "w.wav"))
    assert (info.samplerate, info.channels, info.subtype) == (SAMPLE_RATE, 1, "PCM_16")
    assert np.allclose(audio.load(tmp_path / "w.wav"), x, atol=1e-4)


@pytest.mark.parametrize("sr", [8000, 22050, 24000, 44100, 48000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_resample_is_scipys_resample_poly_exactly(sr, dtype):
    """The filter designed once per ratio is the one `resample_poly` designs per call: same samples."""
    from scipy.signal import resample_poly

    x = (np.random.default_rng(sr).standard_normal(sr // 4) * 1000).astype(dtype)
    g = np.gcd(sr, SAMPLE_RATE)
    expected = resample_poly(x, SAMPLE_RATE // g, sr // g).astype(np.float32)
    np.testing.assert_array_equal(audio.resample(x, sr), expected)


def test_load_of_a_wav_just_written_is_what_libsndfile_reads(tmp_path):
    """`load` right after `write_wav` decodes from memory: the same float32 samples as reading the
    file with libsndfile; a file replaced since (another writer) is read from disk."""
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-1.2, 1.2, 30_000), [-1.0, 1.0, 0.0, 0.5 / 32767]]).astype(np.float32)
    path = tmp_path / "a.wav"
    audio.write_wav(path, x, fsync=False)
    assert str(path) in audio._recent
    from_disk, sr = sf.read(str(path), dtype="float32")
    recalled = audio.load(path)
    assert sr == SAMPLE_RATE and recalled.dtype == np.float32
    np.testing.assert_array_equal(recalled, from_disk)
    np.testing.assert_array_equal(audio.load(path, 8000), audio.resample(from_disk, SAMPLE_RATE, 8000))
    sf.write(str(path), np.zeros(100, dtype=np.float32), SAMPLE_RATE, subtype="PCM_16")  # replaced in place
    np.testing.assert_array_equal(audio.load(path), np.zeros(100, dtype=np.float32))
    for i in range(audio.RECENT_WAVS + 2):
        audio.write_wav(tmp_path / f"{i}.wav", x[:1000], fsync=False)
    assert len(audio._recent) == audio.RECENT_WAVS and str(path) not in audio._recent


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_wav_bytes_are_libsndfiles(dtype):
    """The hand-written PCM16 WAV is byte for byte what libsndfile writes: every point of the int16
    grid, the half-way points between them, values just under them, out-of-range and random ones."""
    import io

    grid = np.arange(-32768, 32768) / 32768
    rng = np.random.default_rng(2)
    for x in [grid, grid + 0.5 / 32768, np.nextafter(grid.astype(dtype), -2), rng.uniform(-1.3, 1.3, 50_001), []]:
        x = np.asarray(x, dtype=dtype)
        buf = io.BytesIO()
        sf.write(buf, np.clip(x, -1.0, 1.0), 22050, subtype="PCM_16", format="WAV")
        assert audio.wav_bytes(x, 22050) == buf.getvalue()
    with pytest.raises(ValueError, match="mono float"):
        audio.wav_bytes(np.zeros(4, dtype=np.int16))

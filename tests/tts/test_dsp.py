"""Engine-independent emotion rendering: F0/tempo manipulation and voice-quality cues."""

from __future__ import annotations

import numpy as np
import pytest

from m5ser.config import load_emotions
from m5ser.schema import Prosody
from m5ser.tts import dsp

from ..conftest import ROOT

pytest.importorskip("parselmouth")
SR = 16000


def vowel(f0: float = 120.0, seconds: float = 1.5, gap_at: float | None = None) -> np.ndarray:
    """A synthetic voiced signal: harmonics of `f0` with a falling spectrum and a slow F0 wobble."""
    t = np.arange(int(SR * seconds)) / SR
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.05 * np.sin(2 * np.pi * 2 * t))) / SR
    x = sum(np.sin(k * phase) / k**1.5 for k in range(1, 30))
    x = 0.3 * x / np.max(np.abs(x))
    if gap_at is not None:
        i = int(gap_at * SR)
        x[i : i + SR // 5] = 0.0
    return x.astype(np.float32)


def band_ratio_db(x: np.ndarray) -> float:
    """Energy above 1 kHz relative to below 1 kHz, dB (an alpha-ratio-like measure)."""
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / SR)
    return float(10 * np.log10(spec[f >= 1000].sum() / spec[(f > 50) & (f < 1000)].sum()))


@pytest.mark.parametrize(("pitch", "direction"), [(30, 1), (-20, -1)])
def test_pitch_level_moves(pitch, direction):
    x = vowel()
    y = dsp.apply_prosody(x, SR, Prosody(pitch=pitch))
    before, after = dsp.measure(x, SR).f0_mean_hz, dsp.measure(y, SR).f0_mean_hz
    assert np.sign(after - before) == direction
    assert after / before == pytest.approx(1 + pitch / 100, rel=0.05)


@pytest.mark.parametrize(("range_", "direction"), [(100, 1), (-60, -1)])
def test_pitch_range_moves(range_, direction):
    x = vowel()
    before = dsp.measure(x, SR).f0_range_st
    after = dsp.measure(dsp.apply_prosody(x, SR, Prosody(range=range_)), SR).f0_range_st
    assert np.sign(after - before) == direction


@pytest.mark.parametrize("rate", [25, -25])
def test_tempo_changes_duration(rate):
    x = vowel()
    y = dsp.apply_prosody(x, SR, Prosody(rate=rate))
    assert len(y) / len(x) == pytest.approx(1 / (1 + rate / 100), rel=0.03)


def test_rising_contour_raises_the_end():
    x = vowel(seconds=2.0)
    y = dsp.apply_prosody(x, SR, Prosody(contour="rise", contour_points=((0, -10), (100, 40))))
    head, tail = y[: SR // 2], y[-SR // 2 :]
    assert dsp.measure(tail, SR).f0_mean_hz > 1.3 * dsp.measure(head, SR).f0_mean_hz


def test_pauses_lengthen_internal_silences_only():
    x = vowel(gap_at=0.7)
    y = dsp.insert_pauses(x, SR, 300)
    assert len(y) - len(x) == int(SR * 0.3)
    assert dsp.insert_pauses(vowel(), SR, 300).shape == vowel().shape


@pytest.mark.parametrize(("tilt", "direction"), [(6.0, 1), (-4.0, -1)])
def test_spectral_tilt_shifts_balance_and_keeps_level(tilt, direction):
    x = vowel()
    y = dsp.spectral_tilt(x, SR, tilt)
    assert np.sign(band_ratio_db(y) - band_ratio_db(x)) == direction
    assert abs(band_ratio_db(y) - band_ratio_db(x)) > abs(tilt) / 6
    assert np.sqrt(np.mean(y**2)) == pytest.approx(np.sqrt(np.mean(x**2)), rel=0.01)


def test_breathiness_adds_high_band_noise():
    x = vowel()
    y = dsp.add_breathiness(x, SR, 0.3, np.random.default_rng(0))
    assert band_ratio_db(y) > band_ratio_db(x) + 3


def test_voice_quality_is_seeded_and_level_preserving():
    q = dsp.VoiceQuality(tilt_db=5, breathiness=0.1, jitter=2, shimmer=3, creak=0.3)
    x = vowel()
    a = dsp.apply_voice_quality(x, SR, q, seed=7)
    b = dsp.apply_voice_quality(x, SR, q, seed=7)
    np.testing.assert_array_equal(a, b)
    assert np.sqrt(np.mean(a**2)) == pytest.approx(np.sqrt(np.mean(x**2)), rel=0.15)
    assert np.max(np.abs(a)) <= dsp.PEAK_LIMIT + 1e-6


def test_neutral_quality_is_identity():
    x = vowel()
    np.testing.assert_array_equal(dsp.apply_voice_quality(x, SR, dsp.VoiceQuality()), x)


def test_rules_in_emotions_yaml():
    spec = load_emotions(ROOT / "manifests/emotions.yaml")
    rules = spec.voice_quality
    assert set(rules) == set(spec.labels)
    full = {e: dsp.voice_quality_for(e, 1.0, rules) for e in spec.labels}
    assert full["angry"].tilt_db > full["neutral"].tilt_db > full["sad"].tilt_db
    assert full["fear"].jitter > full["neutral"].jitter
    assert full["sad"].breathiness > full["angry"].breathiness
    half = dsp.voice_quality_for("angry", 0.5, rules)
    assert half.tilt_db == pytest.approx(full["angry"].tilt_db / 2)
    with pytest.raises(ValueError, match="unknown"):
        dsp.voice_quality_for("angry", 1.0, {"angry": {"loudness": 3}})


@pytest.mark.parametrize("n", [512, 1000, 1025, 24_000])
def test_spectral_tilt_frames_like_scipy_stft(n):
    """The numpy framing (`_frames`/`_overlap_add_frames`) is scipy's stft/istft pair, to float32 rounding."""
    from scipy.signal import istft, stft

    x = vowel(seconds=2.0)[:n]
    nper = 512
    f, _, z = stft(x, fs=SR, nperseg=nper, noverlap=nper // 2)
    shelf = np.clip(np.log2(np.maximum(f, 1.0) / 1000.0) / 2.0, 0.0, 1.0)
    level = 10 * np.log10(np.sum(np.abs(z) ** 2, axis=0) + 1e-12)
    weight = 0.4 + 0.6 * np.clip((level - (level.max() - 40.0)) / 40.0, 0.0, 1.0)
    _, y = istft(z * 10 ** (6.0 * shelf[:, None] * weight[None, :] / 20.0), fs=SR, nperseg=nper, noverlap=nper // 2)
    expected = dsp._match_rms(y[:n].astype(np.float32), x)
    np.testing.assert_allclose(dsp.spectral_tilt(x, SR, 6.0), expected, atol=2e-6)


@pytest.mark.parametrize("n", [1, 100, 511])
def test_spectral_tilt_of_clips_shorter_than_a_frame(n):
    y = dsp.spectral_tilt(vowel()[:n], SR, 6.0)
    assert y.shape == (n,) and np.all(np.isfinite(y))


def local_jitter_percent(x: np.ndarray) -> float:
    """Praat's local jitter (period-to-period), percent."""
    parselmouth = pytest.importorskip("parselmouth")
    pulses = parselmouth.praat.call(
        parselmouth.Sound(x.astype(np.float64), sampling_frequency=SR), "To PointProcess (periodic, cc)", 75, 600
    )
    return 100 * parselmouth.praat.call(pulses, "Get jitter (local)", 0, 0, 0.0001, 0.02, 1.3)


def test_jitter_roughens_periods():
    x = vowel()
    y = dsp.apply_voice_quality(x, SR, dsp.VoiceQuality(jitter=2), seed=3)
    assert local_jitter_percent(y) > local_jitter_percent(x) + 0.8


def test_creak_lowers_the_phrase_end():
    def end_drop_st(x: np.ndarray) -> float:  # F0 of the last voiced tenth over the first voiced half
        snd = pytest.importorskip("parselmouth").Sound(x.astype(np.float64), sampling_frequency=SR)
        f0 = snd.to_pitch(time_step=0.01, pitch_floor=60, pitch_ceiling=600).selected_array["frequency"]
        f0 = f0[f0 > 0]
        return 12 * np.log2(np.median(f0[int(0.9 * f0.size) :]) / np.median(f0[: f0.size // 2]))

    x = vowel()
    y = dsp.apply_voice_quality(x, SR, dsp.VoiceQuality(creak=1.0), seed=3)
    assert end_drop_st(y) < end_drop_st(x) - 3


def test_knots_fill_adjacent_voiced_frames_only():
    times = np.array([0.0, 0.02, 0.04, 0.06, 0.08])
    f0 = np.array([100.0, 200.0, 0.0, 150.0, 150.0])
    t, f = dsp._knots(times, f0, 2)
    np.testing.assert_allclose(t, [0.0, 0.01, 0.02, 0.06, 0.07, 0.08])
    np.testing.assert_allclose(f, [100.0, 100.0 * 2**0.5, 200.0, 150.0, 150.0, 150.0])
    t1, f1 = dsp._knots(times, f0, 1)
    np.testing.assert_array_equal(t1, times[f0 > 0])
    np.testing.assert_array_equal(f1, f0[f0 > 0])


@pytest.mark.parametrize("sr", [16000, 22050])
@pytest.mark.parametrize("n", [1, 39, 40, 41, 1001, 24_000])
def test_envelope_interpolates_between_block_centres(sr, n):
    """The float32 envelope is linear interpolation of the low-passed block means at the block
    centres (as `np.interp`, flat beyond the first and last centre, never negative)."""
    from scipy.signal import sosfiltfilt

    x = vowel()[:n] if n <= 24_000 else vowel()
    block = sr // 400
    m = -(-x.size // block)
    coarse = np.pad(np.abs(x).astype(np.float64), (0, m * block - x.size)).reshape(m, block).mean(axis=1)
    if m > 12:
        coarse = sosfiltfilt(dsp._butter(2, 30.0, "lowpass", sr // block), coarse)
    expected = np.maximum(np.interp(np.arange(x.size), (np.arange(m) + 0.5) * block, coarse), 0.0)
    got = dsp._envelope(x, sr)
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("n", [13, 100, 790, 5000])
@pytest.mark.parametrize("design", [(2, 30.0, "lowpass", 400), (4, (1500.0, 7000.0), "bandpass", 16000)])
def test_filtfilt_is_sosfiltfilt_exactly(n, design):
    from scipy.signal import sosfiltfilt

    x = np.random.default_rng(n).standard_normal(n)
    if n <= 3 * (2 * dsp._butter(*design).shape[0] + 1):
        with pytest.raises(ValueError, match="zero-phase filtering needs more than"):
            dsp._filtfilt(x, *design)
        return
    np.testing.assert_array_equal(dsp._filtfilt(x, *design), sosfiltfilt(dsp._butter(*design), x))


def test_jitter_pitch_analysis_window_covers_every_step():
    """Praat's autocorrelation window is three periods of the pitch floor: at the pass's step no
    sample between two analysis frames goes unanalysed."""
    assert 3.0 / dsp.VOICE_QUALITY_PITCH_FLOOR >= dsp.VOICE_QUALITY_PITCH_STEP - 1e-12
    assert round(dsp.VOICE_QUALITY_PITCH_STEP / dsp.KNOT_STEP) * dsp.KNOT_STEP == pytest.approx(
        dsp.VOICE_QUALITY_PITCH_STEP
    )


@pytest.mark.parametrize("amount", [0.05, 0.3])
def test_breathiness_noise_has_its_level_and_band(amount):
    """The added noise (output scaled back to the mix's level, minus the input) has RMS `amount`
    times the speech's and lies in its 1.5-7 kHz band."""
    x = vowel()
    y = dsp.add_breathiness(x, SR, amount, np.random.default_rng(1)).astype(np.float64)
    # the mix is x + amount * rms(x) * shaped / rms(shaped), rescaled to rms(x); noise and speech are uncorrelated
    mix = y * np.sqrt(1.0 + amount**2)
    noise = mix - x
    assert np.sqrt(np.mean(noise**2) / np.mean(x.astype(np.float64) ** 2)) == pytest.approx(amount, rel=0.05)
    spec = np.abs(np.fft.rfft(noise)) ** 2
    f = np.fft.rfftfreq(noise.size, 1 / SR)
    assert spec[(f > 1500) & (f < 7000)].sum() / spec.sum() > 0.9

import numpy as np
import pytest

from m5ser.train.augment import add_noise, augment_waveform, reverb, spec_augment, speed, tilt
from m5ser.train.config import AugmentConfig


@pytest.fixture
def x():
    return (0.3 * np.sin(np.arange(16_000) * 2 * np.pi * 200 / 16_000)).astype(np.float32)


def test_speed_changes_length(x):
    assert len(speed(x, 1.25)) == pytest.approx(16_000 / 1.25, abs=2) and speed(x, 1.0) is x


def test_noise_hits_requested_snr(x):
    y = add_noise(x, 10.0, np.random.default_rng(0))
    snr = 10 * np.log10(np.mean(x**2) / np.mean((y - x) ** 2))
    assert snr == pytest.approx(10.0, abs=0.1)


@pytest.mark.parametrize("fn", [lambda x: reverb(x, np.random.default_rng(0)), lambda x: tilt(x, 6.0)])
def test_level_preserving_filters(fn, x):
    y = fn(x)
    assert y.shape == x.shape and np.mean(y**2) == pytest.approx(np.mean(x**2), rel=1e-3)


def test_augmentation_is_seeded(x):
    cfg = AugmentConfig(noise_prob=1.0, reverb_prob=1.0)
    a = augment_waveform(x, cfg, np.random.default_rng(3))
    b = augment_waveform(x, cfg, np.random.default_rng(3))
    assert np.array_equal(a, b) and not np.array_equal(a[: len(x)], x)


def test_spec_augment_masks_but_keeps_shape():
    feat = np.ones((100, 40), dtype=np.float32)
    out = spec_augment(feat, AugmentConfig(time_masks=2, freq_masks=2), np.random.default_rng(1))
    assert out.shape == feat.shape and (out == 0).any() and (feat == 1).all()

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


def test_telephone_removes_everything_above_4khz():
    from m5ser.train.augment import telephone

    t = np.arange(16_000) / 16_000
    x = (0.3 * np.sin(2 * np.pi * 300 * t) + 0.3 * np.sin(2 * np.pi * 6000 * t)).astype(np.float32)
    y = telephone(x, np.random.default_rng(0))
    spectrum = np.abs(np.fft.rfft(y[1000:-1000]))
    freqs = np.fft.rfftfreq(len(y) - 2000, 1 / 16_000)
    band = lambda f: spectrum[np.abs(freqs - f) < 20].max()  # noqa: E731
    assert y.shape == x.shape and band(6000) < 0.01 * band(300)


def test_pooled_features_get_seeded_augmented_copies(shards, tmp_path):
    from m5ser.train.trainer import FeaturePipeline, load_splits

    from .conftest import tiny_config

    cfg = tiny_config(
        shards,
        tmp_path,
        features={"kind": "egemaps"},
        model={"encoder": "mlp"},
        augment={"copies": 2, "noise_prob": 1.0, "feature_noise": 0.0},
    )
    splits = load_splits(cfg, ("neutral", "happy", "sad", "angry", "fear", "disgust", "surprise"))
    clips = splits.train[:4]
    pipe = FeaturePipeline(cfg)
    pipe.fit(clips)
    again = FeaturePipeline(cfg)
    again.fit(clips)
    for c in clips:
        versions = [pipe._cache[c.id], *pipe._copies[c.id]]
        assert len(versions) == 3 and not np.allclose(versions[0], versions[1])
        np.testing.assert_array_equal(np.stack(versions[1:]), np.stack(again._copies[c.id]))  # seeded per clip
    drawn = {pipe.train_example(clips[0], np.random.default_rng(i)).tobytes() for i in range(40)}
    assert len(drawn) == 3  # the original and both copies, each normalized alike

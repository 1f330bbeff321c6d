import numpy as np
import pytest

from m5ser.train.config import FeatureConfig
from m5ser.train.features import GroupStats, group_key, log_mel, make_extractor, mel_filterbank, normalized_features


def test_log_mel_shape_and_filterbank():
    feat = log_mel(np.random.default_rng(0).standard_normal(16_000).astype(np.float32), n_mels=40)
    assert feat.shape == (1 + (16_000 - 512) // 160, 40)  # n_fft 512 frames, hop 160
    fb = mel_filterbank(40, 512).numpy()
    assert fb.shape == (257, 40) and (fb.max(0) > 0.5).all()


def test_log_mel_moves_with_pitch():
    t = np.arange(16_000) / 16_000
    low, high = (log_mel(np.sin(2 * np.pi * f * t).astype(np.float32)).mean(0).argmax() for f in (200, 2000))
    assert high > low


@pytest.mark.parametrize(
    ("norm", "speaker", "corpus", "expected"),
    [("none", "a", "x", None), ("corpus", "a", "x", "corpus:x"), ("speaker", "a", "x", "speaker:x:a")],
)
def test_group_key(norm, speaker, corpus, expected):
    assert group_key(norm, speaker, corpus) == expected


def test_group_stats_standardize_each_group():
    rng = np.random.default_rng(0)
    feats = [rng.normal(5, 2, (30, 3)) for _ in range(4)] + [rng.normal(-1, 0.5, (30, 3)) for _ in range(4)]
    groups = ["a"] * 4 + ["b"] * 4
    out = normalized_features(feats, lambda f: f, groups)
    for g in ("a", "b"):
        stacked = np.concatenate([o for o, k in zip(out, groups, strict=True) if k == g])
        assert np.allclose(stacked.mean(0), 0, atol=1e-5) and np.allclose(stacked.std(0), 1, atol=1e-4)
    assert GroupStats().apply(feats[0], None) is feats[0]
    with pytest.raises(KeyError, match="'c'"):
        GroupStats.fit(feats, groups).apply(feats[0], "c")


def test_egemaps_functionals():
    x = (0.1 * np.random.default_rng(0).standard_normal(4000)).astype(np.float32)  # shorter than 0.25 s
    f = make_extractor(FeatureConfig(kind="egemaps"))(x)
    assert f.shape == (88,) and np.isfinite(f).all()


def test_functionals_cache_roundtrip(tmp_path):
    x = (0.1 * np.random.default_rng(1).standard_normal(8000)).astype(np.float32)
    first = make_extractor(FeatureConfig(kind="egemaps", cache_dir=str(tmp_path)))
    a = first(x)
    first.save()
    second = make_extractor(FeatureConfig(kind="egemaps", cache_dir=str(tmp_path)))
    assert np.array_equal(second(x), a) and second._smile is None  # served from the cache


def test_npz_cache_rewrites_its_file_only_when_keys_were_added(tmp_path):
    from m5ser.train.features import NpzCache

    first = NpzCache.in_dir(str(tmp_path), "c")
    first.arrays()["a"] = np.ones(3, dtype=np.float16)
    first.save()
    inode = first.path.stat().st_ino
    again = NpzCache.in_dir(str(tmp_path), "c")
    assert set(again.arrays()) == {"a"}
    again.save()  # nothing new: the file stays as it is
    assert again.path.stat().st_ino == inode
    again.arrays()["b"] = np.zeros(3, dtype=np.float16)
    again.save()  # an atomic rewrite: a new inode holding both keys
    assert again.path.stat().st_ino != inode
    assert set(NpzCache.in_dir(str(tmp_path), "c").arrays()) == {"a", "b"}


@pytest.fixture(scope="module")
def tiny_whisper_dir(tmp_path_factory):
    from m5ser.train.stage2.tiny import tiny_whisper

    return tiny_whisper(tmp_path_factory.mktemp("whisper"), d_model=16, layers=2)


def test_whisper_stats_pool_every_layer_and_select(tiny_whisper_dir):
    from m5ser.train.features import WhisperStats

    audio = np.random.default_rng(0).standard_normal(24_000).astype(np.float32) * 0.1
    every = WhisperStats(str(tiny_whisper_dir))
    assert every.n_layers() == 3
    all_layers = every.all_layers(audio)
    assert all_layers.shape == (3, 32) and (all_layers[:, 16:] >= 0).all()  # [mean, std] per layer
    assert every(audio).shape == (96,)
    two = WhisperStats(str(tiny_whisper_dir), layers=(2, 0))
    np.testing.assert_array_equal(two(audio), all_layers[[2, 0]].astype(np.float32).reshape(-1))


def test_whisper_stats_cache_is_keyed_by_audio_and_weights(tiny_whisper_dir, tmp_path, monkeypatch):
    from m5ser.train.features import WhisperStats

    rng = np.random.default_rng(1)
    a, b = (rng.standard_normal(16_000).astype(np.float32) * 0.1 for _ in range(2))
    first = WhisperStats(str(tiny_whisper_dir), cache_dir=str(tmp_path))
    fa, fb = first(a), first(b)
    assert not np.allclose(fa, fb)
    first.save()
    (cache_file,) = tmp_path.glob("whisper-*.npz")
    again = WhisperStats(str(tiny_whisper_dir), cache_dir=str(tmp_path))
    again.n_layers()
    monkeypatch.setattr("m5ser.models.whisper_hf.encode_unpadded", lambda *a, **k: pytest.fail("cache missed"))
    np.testing.assert_array_equal(again(a), fa)
    monkeypatch.undo()
    other = tmp_path / "other"
    from m5ser.train.stage2.tiny import tiny_whisper

    other_weights = WhisperStats(str(tiny_whisper(other, d_model=16, layers=2)), cache_dir=str(tmp_path))
    other_weights(a)
    other_weights.save()
    assert len(list(tmp_path.glob("whisper-*.npz"))) == 2 and cache_file.is_file()  # new weights, new cache


def test_make_extractor_builds_whisper_stats(tiny_whisper_dir):
    extract = make_extractor(FeatureConfig(kind="whisper", whisper_model=str(tiny_whisper_dir), layers=[1]))
    assert extract(np.zeros(8000, dtype=np.float32)).shape == (32,)


def test_whisper_stats_mean_pooling_keeps_the_first_half_of_each_layer(tiny_whisper_dir):
    from m5ser.train.features import WhisperStats

    audio = np.random.default_rng(2).standard_normal(16_000).astype(np.float32) * 0.1
    both = WhisperStats(str(tiny_whisper_dir), layers=(1, 2))(audio).reshape(2, 32)
    mean = WhisperStats(str(tiny_whisper_dir), layers=(1, 2), stats="mean")(audio)
    np.testing.assert_array_equal(mean, both[:, :16].reshape(-1))

import numpy as np
import pytest

from m5ser.train.data import crop, label_counts, load_shards, shard_paths
from m5ser.train.labels import DEFAULT_EMOTIONS, canonical_label


def test_load_shards_selects_languages_and_splits(shards):
    train = load_shards(shards, DEFAULT_EMOTIONS, "train", exclude_languages=["fr"])
    assert {c.lang for c in train} == {"en", "de"} and {c.split for c in train} == {"train"}
    assert len(train) == 2 * 2 * 7 * 3 and label_counts(train)["angry"] == 12
    assert train[0].audio.dtype == np.float32
    dev = load_shards(shards, DEFAULT_EMOTIONS, "dev", languages=["fr"])
    assert {c.lang for c in dev} == {"fr"} and len(dev) == 14


def test_label_subset_and_stratified_cap(shards):
    clips = load_shards(shards, ("sad", "angry"), "train", languages=["en"], max_clips_per_lang=6)
    assert label_counts(clips) == {"sad": 3, "angry": 3}


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        shard_paths(tmp_path / "nowhere")


def test_crop():
    x = np.arange(10.0)
    assert list(crop(x, 4, None)) == [3, 4, 5, 6]
    assert len(crop(x, 4, np.random.default_rng(0))) == 4 and crop(x, 20, None) is x


@pytest.mark.parametrize(
    ("raw", "expected"), [("Angry", "angry"), ("anger", "angry"), ("fearful", "fear"), ("calm", None)]
)
def test_canonical_label(raw, expected):
    assert canonical_label(raw, DEFAULT_EMOTIONS) == expected

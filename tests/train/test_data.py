import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from m5ser import audio
from m5ser.config import load_emotions
from m5ser.schema import SAMPLE_RATE
from m5ser.train.data import crop, label_counts, load_shards, shard_paths
from m5ser.train.testing import EMOTIONS_FILE, SHARD_SCHEMA, repo_labels, write_shards

LABELS = repo_labels()


def test_load_shards_selects_languages_and_splits(shards):
    train = load_shards(shards, LABELS, "train", exclude_languages=["fr"])
    assert {c.lang for c in train} == {"en", "de"} and {c.split for c in train} == {"train"}
    assert len(train) == 2 * 2 * 7 * 3 and label_counts(train)["angry"] == 12
    assert train[0].audio.dtype == np.float32
    dev = load_shards(shards, LABELS, "dev", languages=["fr"])
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
    ("raw", "expected"),
    [
        ("Angry", "angry"),
        ("anger", "angry"),
        ("fearful", "fear"),
        (" NEU ", "neutral"),
        ("sur", "surprise"),
        ("calm", None),
    ],
)
def test_corpus_spellings_come_from_emotions_yaml(raw, expected):
    assert load_emotions(EMOTIONS_FILE).canonical_label(raw) == expected


def test_shards_are_trimmed_by_the_build_rule_only_when_asked(tmp_path):
    write_shards(tmp_path, languages=("en",), splits={"dev": 1}, speakers_per_lang=1, emotions=("sad",))
    shard = tmp_path / "en" / "dev-00000-of-00001.parquet"
    rows = pq.read_table(shard).to_pylist()
    voiced = audio.decode_bytes(rows[0]["audio"]["bytes"])
    padded = np.concatenate([np.zeros(8_000, np.float32), voiced, np.zeros(8_000, np.float32)])
    rows[0]["audio"]["bytes"] = audio.wav_bytes(padded)
    pq.write_table(pa.Table.from_pylist(rows, schema=SHARD_SCHEMA), shard)
    (raw,) = load_shards(tmp_path, ("sad",), "dev", trim=False)
    (trimmed,) = load_shards(tmp_path, ("sad",), "dev", trim=True)
    assert len(raw.audio) == len(padded)
    assert np.array_equal(trimmed.audio, audio.trim_silence(raw.audio, SAMPLE_RATE))
    assert len(voiced) <= len(trimmed.audio) <= len(voiced) + 2 * 1_600 + 160  # 0.1 s pads, whole 10 ms frames


def test_max_speakers_per_lang_keeps_a_seeded_subset_of_voices(shards):
    every = load_shards(shards, LABELS, "train", languages=["en"])
    one = load_shards(shards, LABELS, "train", languages=["en"], max_speakers_per_lang=1)
    again = load_shards(shards, LABELS, "train", languages=["en"], max_speakers_per_lang=1)
    assert len({c.speaker for c in every}) == 2 and len({c.speaker for c in one}) == 1
    assert [c.id for c in one] == [c.id for c in again]
    assert {c.id for c in one} == {c.id for c in every if c.speaker == one[0].speaker}

"""Dataset card: YAML configs per language + all, merging, loading through the card."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from m5ser.hub.card import CardError, merge_configs, read_front_matter, write_card
from m5ser.schema import SAMPLE_RATE, Voice
from m5ser.shards.parquet import write_language
from m5ser.testing import isolate_hf, make_dropped_set, make_kept_set, write_removed

EMOTIONS = ["neutral", "sad", "angry"]


def _voice(sid: str, lang: str, license: str = "GPL-3.0-or-later") -> Voice:
    return Voice(id=sid, lang=lang, engine="espeak", voice=sid, gender="male", license=license)


@pytest.fixture
def published(tmp_path: Path) -> Path:
    """de (all splits) + fr (train only) published, with some drops in de."""
    out = tmp_path / "out"
    kept = make_kept_set(tmp_path / "in", ["de"], EMOTIONS, n_per=5)
    kept |= make_kept_set(tmp_path / "in", ["fr"], EMOTIONS, n_per=2, splits=("train",), source_corpus="goemotions")
    for lang, clips in kept.items():
        write_language(lang, clips, out)
    write_removed(out, make_dropped_set(tmp_path / "in", ["de"], ["sad"], {"low_snr": 2, "too_short": 1})["de"])
    return out


def test_configs_per_language_and_all(published: Path) -> None:
    meta, body = read_front_matter(write_card(published))
    configs = {c["config_name"]: c for c in meta["configs"]}
    assert list(configs) == ["all", "de", "fr"]
    assert configs["all"]["default"] is True
    assert configs["de"]["data_files"] == [
        {"split": "train", "path": "data/de/train-*"},
        {"split": "validation", "path": "data/de/dev-*"},
        {"split": "test", "path": "data/de/test-*"},
    ]
    assert configs["fr"]["data_files"] == [{"split": "train", "path": "data/fr/train-*"}]
    assert [d["path"] for d in configs["all"]["data_files"]] == [
        "data/*/train-*",
        "data/*/dev-*",
        "data/*/test-*",
    ]
    assert meta["language"] == ["de", "fr"]
    assert meta["task_categories"] == ["audio-classification"]
    assert meta["size_categories"] == ["n<1K"]
    assert meta["license"] == "cc-by-4.0" and meta["pretty_name"] == "M5SER"
    assert "synthetic" in meta["tags"]
    assert "| **all** | 7 | 7 | 7 | 21 |" in body  # 5 de + 2 fr per emotion
    assert "| de | 2 | 1 | 3 | 15 |" in body  # drops: low_snr, too_short, total, kept
    assert "Öhman, E." in body and "Demszky, D." in body  # xed (de) and goemotions (fr) attributed
    assert "**intended** emotion" in body and "not validated" in body


def test_existing_configs_of_other_languages_are_kept(published: Path) -> None:
    ja = {"config_name": "ja", "data_files": [{"split": "train", "path": "data/ja/train-*"}]}
    stale_de = {"config_name": "de", "data_files": [{"split": "train", "path": "data/de/OLD-*"}]}
    old_all = {"config_name": "all", "data_files": [{"split": "train", "path": "x"}], "default": True}
    (published / "README.md").write_text(
        "---\nlicense: cc-by-4.0\nconfigs:\n"
        + "".join(f"- {c}\n" for c in (old_all, stale_de, ja)).replace("'", '"')
        + "---\n\nold body\n"
    )
    meta, body = read_front_matter(write_card(published))
    configs = {c["config_name"]: c for c in meta["configs"]}
    assert list(configs) == ["all", "de", "fr", "ja"]
    assert configs["ja"] == ja
    assert configs["de"]["data_files"][0]["path"] == "data/de/train-*"
    assert meta["language"] == ["de", "fr", "ja"]
    assert "old body" not in body and "`ja`" in body


@pytest.mark.parametrize(
    ("local", "existing", "all_splits"),
    [
        ({"de": ["train"]}, [], ["train"]),
        (
            {"de": ["train"]},
            [{"config_name": "ja", "data_files": [{"split": "test", "path": "p"}]}],
            ["train", "test"],
        ),
        ({"de": ["train", "dev"], "fr": ["test"]}, [], ["train", "validation", "test"]),
        ({"de": []}, [], []),  # a language with no kept clip gets no config
    ],
)
def test_merge_configs_all_covers_every_split(
    local: dict[str, list[str]], existing: list[dict], all_splits: list[str]
) -> None:
    configs = merge_configs(local, existing)
    assert configs[0]["config_name"] == "all"
    assert [d["split"] for d in configs[0]["data_files"]] == all_splits
    names = [c["config_name"] for c in configs[1:]]
    assert names == sorted(names)


def test_voices_only_used_ones_with_licences(published: Path) -> None:
    voices = {
        "de": [_voice("de-espeak-m0", "de"), _voice("de-espeak-f1", "de", "MBROLA non-commercial"),
               _voice("de-unused", "de")],
    }  # fmt: skip
    recipe = {"name": "t", "sources": {"xed": {"label_overrides": {"8": "neutral"}}}, "repo_id": "me/m5ser"}
    meta, _ = read_front_matter(write_card(published, voices=voices, recipe=recipe, title="M5SER-test"))
    assert meta["license"] == "other" and meta["license_name"] == "cc-by-4.0-text-with-restricted-voices"
    assert "espeak" in meta["tags"]
    body = (published / "README.md").read_text()
    assert "| de | `de-espeak-m0` | espeak |" in body and "GPL-3.0-or-later" in body
    assert "restrictive licences (MBROLA non-commercial)" in body
    assert "de-unused" not in body
    assert "not recorded" in body  # fr voices and de-espeak-m2 are not in the given bank
    assert "source label `8` → `neutral`" in body
    assert 'load_dataset("me/m5ser", "de")' in body
    assert body.startswith("---\n") and "# M5SER-test" in body


def test_bad_front_matter_is_an_error(published: Path) -> None:
    (published / "README.md").write_text("---\nconfigs: [\n---\nbody\n")
    with pytest.raises(CardError, match=re.escape("README.md: invalid YAML")):
        write_card(published)


def test_load_dataset_through_card(published: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = isolate_hf(monkeypatch, tmp_path)
    import datasets

    write_card(published)
    de = datasets.load_dataset(str(published), "de", cache_dir=str(cache))
    assert sorted(de) == ["test", "train", "validation"]
    assert sum(len(s) for s in de.values()) == 15
    assert set(de["train"]["lang"]) == {"de"}
    audio = de["validation"][0]["audio"]
    assert audio["sampling_rate"] == SAMPLE_RATE
    assert np.asarray(audio["array"]).size == round(de["validation"][0]["duration_s"] * SAMPLE_RATE)
    every = datasets.load_dataset(str(published), cache_dir=str(cache))  # default config: all
    assert len(every["train"]) == 9 + 6  # de train (3 of 5 per emotion) + fr

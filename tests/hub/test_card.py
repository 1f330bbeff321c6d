"""Dataset card: YAML configs per language + all, merging, hub settings, citations, loading through the card."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from m5ser.config import HubConfig, Recipe, load_emotions, load_recipe
from m5ser.hub.card import CardError, load_citations, merge_configs, read_front_matter, write_card
from m5ser.hub.stats import collect_stats
from m5ser.schema import SAMPLE_RATE, Voice
from m5ser.shards.parquet import write_language
from m5ser.testing import isolate_hf, make_dropped_set, make_kept_set, make_text_drops, write_removed

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


@pytest.fixture
def recipe_for(root: Path):
    """The mini recipe, publishing into `out`, with the given ``hub:`` settings (none: the defaults)."""
    mini = load_recipe(root / "manifests" / "recipes" / "mini.yaml", root=root)

    def make(out: Path, **hub: str) -> Recipe:
        return dataclasses.replace(mini, output=out, hub=HubConfig(**hub))

    return make


def card(recipe: Recipe, **kwargs) -> tuple[dict, str]:
    """Collect the statistics of the recipe's output, write its card, and read it back."""
    stats = collect_stats(recipe.output, load_emotions(recipe.emotions_file).labels)
    return read_front_matter(write_card(recipe, stats, **kwargs))


def test_configs_per_language_and_all(published: Path, recipe_for) -> None:
    meta, body = card(recipe_for(published))
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
    assert "Öhman, E." in body and "Demszky, D." in body  # xed (de) and goemotions (fr), from corpora.yaml
    assert "**intended** emotion" in body and "not validated" in body
    assert "`neutral, happy, sad, angry, fear, disgust, surprise`" in body  # the emotions file's labels
    assert "# M5SER\n" in body and 'load_dataset("<user>/m5ser", "de")' in body  # hub defaults
    assert "No source sentence was dropped before synthesis." in body
    assert "## Build recipe" in body and "name: mini" in body  # recipe.raw
    assert "$" not in body  # every placeholder filled


def test_existing_configs_of_other_languages_are_kept(published: Path, recipe_for) -> None:
    ja = {"config_name": "ja", "data_files": [{"split": "train", "path": "data/ja/train-*"}]}
    stale_de = {"config_name": "de", "data_files": [{"split": "train", "path": "data/de/OLD-*"}]}
    old_all = {"config_name": "all", "data_files": [{"split": "train", "path": "x"}], "default": True}
    (published / "README.md").write_text(
        "---\nlicense: cc-by-4.0\nconfigs:\n"
        + "".join(f"- {c}\n" for c in (old_all, stale_de, ja)).replace("'", '"')
        + "---\n\nold body\n"
    )
    meta, body = card(recipe_for(published))
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


BANK = {
    "de": [_voice("de-espeak-m0", "de"), _voice("de-espeak-f1", "de", "MBROLA non-commercial"),
           _voice("de-unused", "de")],
}  # fmt: skip


def test_voices_only_used_ones_with_licences_and_hub_settings(published: Path, recipe_for) -> None:
    meta, body = card(recipe_for(published, repo_id="me/m5ser", pretty_name="M5SER-test"), voices=BANK)
    assert meta["license"] == "other" and meta["license_name"] == "cc-by-4.0-text-with-restricted-voices"
    assert meta["pretty_name"] == "M5SER-test"
    assert "espeak" in meta["tags"]
    assert "| de | `de-espeak-m0` | espeak |" in body and "GPL-3.0-or-later" in body
    assert "restrictive licences (MBROLA non-commercial)" in body
    assert "de-unused" not in body
    assert "source label `8` → `neutral`" not in body  # the mini recipe relabels nothing (issue 14)
    assert 'load_dataset("me/m5ser", "de")' in body and "<user>" not in body
    assert body.lstrip().startswith("# M5SER-test\n")


def test_recipe_licence_wins_over_the_derived_one(published: Path, recipe_for) -> None:
    meta, _ = card(recipe_for(published, license="cc-by-nc-4.0"), voices=BANK)
    assert meta["license"] == "cc-by-nc-4.0" and "license_name" not in meta


def test_unknown_speakers_say_not_recorded(published: Path, recipe_for) -> None:
    _, body = card(recipe_for(published), voices=BANK)
    # de-espeak-m2 and every fr speaker are used but not in the bank
    assert "| de | `de-espeak-m2` | espeak | `de+m2` | male | not recorded | 3 |" in body
    assert "| fr | `fr-espeak-m0` | espeak | `fr+m0` | male | not recorded | 3 |" in body
    assert "4 speakers not in the speaker bank given to the card writer" in body
    _, body = card(recipe_for(published))  # no bank at all: every licence unknown, none derived restrictive
    assert "GPL" not in body and body.count("| not recorded |") == 6


def test_citations_come_from_the_corpus_catalogue(published: Path, recipe_for, tmp_path: Path) -> None:
    catalogue = tmp_path / "corpora.yaml"
    catalogue.write_text(
        "xed:\n  citation: '**XED** as cited in a test catalogue.'\n  base: http://example.invalid/\n  files: []\n"
    )
    assert load_citations(catalogue) == {"xed": "**XED** as cited in a test catalogue."}
    _, body = card(recipe_for(published), corpora_file=catalogue)
    assert "- `xed`: **XED** as cited in a test catalogue." in body
    assert "Öhman" not in body
    assert "- `goemotions`: text supplied by the builder" in body  # no citation in this catalogue
    catalogue.write_text("xed:\n  citation: [not, a, string]\n")
    with pytest.raises(CardError, match=re.escape("xed.citation")):
        card(recipe_for(published), corpora_file=catalogue)


def test_text_level_drops_are_a_table_of_their_own(published: Path, recipe_for) -> None:
    _, before = card(recipe_for(published))
    write_removed(published, make_text_drops(["de"], {"no_single_label": 4, "duplicate_text": 1})["de"])
    _, body = card(recipe_for(published))
    section = body[body.index("### Text-level drops") : body.index("## Limitations")]
    assert "never became clips" in section
    assert "| lang | duplicate_text | no_single_label | sentences |" in section and "| de | 1 | 4 | 5 |" in section
    assert "| de | 2 | 1 | 3 | 15 |" in body  # clip drops (low_snr, too_short, total) and kept: unchanged
    assert body[: body.index("### Text-level drops")] == before[: before.index("### Text-level drops")]


def test_bad_front_matter_is_an_error(published: Path, recipe_for) -> None:
    (published / "README.md").write_text("---\nconfigs: [\n---\nbody\n")
    with pytest.raises(CardError, match=re.escape("README.md: invalid YAML")):
        card(recipe_for(published))


def test_load_dataset_through_card(
    published: Path, recipe_for, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = isolate_hf(monkeypatch, tmp_path)
    import datasets

    card(recipe_for(published))
    de = datasets.load_dataset(str(published), "de", cache_dir=str(cache))
    assert sorted(de) == ["test", "train", "validation"]
    assert sum(len(s) for s in de.values()) == 15
    assert set(de["train"]["lang"]) == {"de"}
    audio = de["validation"][0]["audio"]
    assert audio["sampling_rate"] == SAMPLE_RATE
    assert np.asarray(audio["array"]).size == round(de["validation"][0]["duration_s"] * SAMPLE_RATE)
    every = datasets.load_dataset(str(published), cache_dir=str(cache))  # default config: all
    assert len(every["train"]) == 9 + 6  # de train (3 of 5 per emotion) + fr

from __future__ import annotations

import pytest
import yaml

from m5ser.config import RecipeError, load_emotions, load_recipe, load_voices

from .conftest import ROOT


def test_mini_recipe_loads(root):
    recipe = load_recipe(root / "manifests/recipes/mini.yaml", root=root)
    assert {"en", "de", "fr", "es", "it", "zh"} <= set(recipe.languages)
    assert recipe.labels() == ("neutral", "happy", "sad", "angry", "fear", "disgust", "surprise")
    names = [s.name for s in recipe.steps]
    assert names[:3] == ["ingest", "select", "translate"] and "cast" in names


@pytest.mark.parametrize("path", sorted((ROOT / "manifests/voices").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_speaker_bank_validates(path):
    voices = load_voices(path)
    assert len(voices) >= 4
    assert {v.gender for v in voices} == {"male", "female"}


def test_emotion_rules_cover_every_label(root):
    spec = load_emotions(root / "manifests/emotions.yaml")
    assert set(spec.rendering) >= set(spec.labels)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d["languages"]["de"].pop("translate"), r"languages\.de\.translate: missing"),
        (lambda d: d["languages"]["de"].update(translate="babel"), r"languages\.de\.translate: unknown translator"),
        (lambda d: d["languages"]["de"].update(sources=["nope"]), "unknown source 'nope'"),
        (lambda d: d["languages"]["de"].update(speakers="two"), r"languages\.de\.speakers: expected a whole number"),
        (lambda d: d.update(colour="red"), "colour: unknown key"),
        (lambda d: d["shards"].update(max_shard_mb="big"), r"shards\.max_shard_mb: expected a number"),
        (lambda d: d["build"].update(emotions=["bored"]), "bored"),
        (lambda d: d["sources"]["xed"].update(reader="csv"), r"sources\.xed\.reader: unknown reader 'csv'"),
        (lambda d: d.pop("steps"), "steps: expected a non-empty list"),
    ],
)
def test_recipe_errors_name_the_field(tmp_path, root, change, match):
    data = yaml.safe_load((root / "manifests/recipes/mini.yaml").read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(RecipeError, match=match):
        load_recipe(path, root=root)


@pytest.mark.parametrize(("licenses", "engines_left"), [("any", {"espeak", "mbrola"}), ("commercial-ok", {"espeak"})])
def test_licence_filter_drops_non_commercial_voices(tmp_path, root, licenses, engines_left):
    from m5ser.config import voices_for

    data = yaml.safe_load((root / "manifests/recipes/mini.yaml").read_text(encoding="utf-8"))
    data["build"].update(engines=["espeak", "mbrola"], licenses=licenses)
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    voices = voices_for(load_recipe(path, root=root), "de")
    assert {v.engine for v in voices} == engines_left


def test_a_translator_route_needs_translate_from(tmp_path, root):
    from m5ser.pipeline.validate import validate_recipe

    data = yaml.safe_load((root / "manifests/recipes/mini.yaml").read_text(encoding="utf-8"))
    data["languages"] = {"es": {"sources": ["xed"], "translate": "apertium"}}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(RecipeError, match=r"languages\.es\.translate 'apertium' needs translate_from"):
        validate_recipe(load_recipe(path, root=root))

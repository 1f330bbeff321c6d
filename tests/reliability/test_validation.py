"""Class 4: `m5ser validate` refuses what would fail or drop everything, before any audio."""

from __future__ import annotations

import pytest
import yaml

from m5ser.config import RecipeError, load_recipe
from m5ser.pipeline.validate import validate_recipe
from m5ser.text.readers import SourceError

from .conftest import ROOT, ROWS, write_csv


def edited(recipe, change) -> object:
    data = yaml.safe_load(recipe.path.read_text(encoding="utf-8"))
    change(data)
    recipe.path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_recipe(recipe.path, root=ROOT)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["build"].update(per_emotoin=3), r"build\.per_emotoin: unknown key"),
        (lambda d: d["languages"]["de"].update(speakers=-1), r"languages\.de\.speakers: must be >= 0"),
        (lambda d: d["shards"].update(max_shard_mb=0), r"shards\.max_shard_mb: must be > 0"),
        (lambda d: d["splits"].update(dev=0.6, test=0.5), r"splits: dev \+ test must be within"),
        (lambda d: d["sources"]["mine"].update(label_overrides={"joy": "elated"}), r"'elated' is not a label"),
    ],
)
def test_recipe_level_mistakes_are_named_by_their_key(user_build, change, message):
    with pytest.raises(RecipeError, match=message):
        edited(user_build(), change)


@pytest.mark.parametrize(
    ("step", "params", "message"),
    [
        ("signal_filter", {"max_duration_s": -5}, r"signal_filter\.max_duration_s: must be >= 0\.4, got -5"),
        ("signal_filter", {"min_snr_db": "high"}, r"signal_filter\.min_snr_db: expected a number"),
        ("select", {"per_emotion": -1}, r"select\.per_emotion: must be >= 1"),
        ("cast", {"speakers_per_sentence": 3}, r"cast\.speakers_per_sentence: 3, but 'de' has only 2 speakers"),
    ],
)
def test_step_parameters_are_checked_before_any_audio(user_build, step, params, message):
    recipe = user_build(step_params={step: params})
    with pytest.raises(RecipeError, match=message):
        validate_recipe(recipe)
    assert not recipe.work_dir.exists()


def test_validate_reads_every_source_row(user_build, tmp_path):
    write_csv(tmp_path / "rows.csv", [*ROWS, ("r5", "Hm.", "bored")])
    recipe = user_build()
    with pytest.raises(SourceError, match=r"rows\.csv:6: field 'emotion'"):
        validate_recipe(recipe)
    write_csv(tmp_path / "rows.csv", ROWS)
    (line,) = validate_recipe(user_build())
    assert "4 rows read" in line

"""The Prefect-free helpers behind the flow: units, languages, unit state (quality rows: tests/hub)."""

from __future__ import annotations

import pytest

from m5ser.config import load_recipe
from m5ser.pipeline.build import clear_language
from m5ser.pipeline.orchestrate import (
    artifact_key,
    group_by_language,
    select_languages,
    unit_is_done,
    work_units,
)

DE = {"de": {"sources": ["xed"], "translate": "parallel"}}


def test_work_units_cover_every_part_once():
    assert work_units(["en", "de"], 3) == [("en", 0), ("en", 1), ("en", 2), ("de", 0), ("de", 1), ("de", 2)]
    with pytest.raises(ValueError, match="parts"):
        work_units(["en"], 0)


@pytest.mark.parametrize(
    ("lang", "key"),
    [("de", "m5ser-de-quality"), ("zh_Hant", "m5ser-zh-hant-quality"), ("pt-BR", "m5ser-pt-br-quality")],
)
def test_artifact_keys_are_lowercase_digits_and_dashes(lang, key):
    assert artifact_key(lang) == key


def test_languages_default_to_the_recipe_and_unknown_ones_raise(tiny_recipe, root):
    recipe = load_recipe(tiny_recipe(DE, per_emotion=1), root=root)
    assert select_languages(recipe, None) == ["de"]
    assert select_languages(recipe, ["de", "de"]) == ["de"]
    with pytest.raises(KeyError, match="xx"):
        select_languages(recipe, ["xx"])


def test_unit_state_follows_the_markers(tiny_recipe, root):
    from m5ser.pipeline.plan import plan_language
    from m5ser.pipeline.units import run_part

    recipe = load_recipe(tiny_recipe(DE, per_emotion=1), root=root)
    with pytest.raises(RuntimeError, match="no plan of this recipe"):
        run_part(recipe, "de", 0, 2)
    plan_language(recipe, "de")
    parts = [run_part(recipe, "de", i, 2) for i in range(2)]
    assert all(unit_is_done(recipe, p) for p in parts)
    assert [g[0].part for g in group_by_language(reversed(parts), ["de"])] == [0]
    clear_language(recipe, "de")
    assert not any(unit_is_done(recipe, p) for p in parts)

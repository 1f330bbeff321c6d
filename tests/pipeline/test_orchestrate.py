"""The Prefect-free helpers behind the flow: units, languages, unit state, quality rows."""

from __future__ import annotations

import pytest

from m5ser.config import load_recipe
from m5ser.pipeline.orchestrate import (
    artifact_key,
    group_by_language,
    quality_rows,
    select_languages,
    unit_is_done,
    work_units,
)
from m5ser.pipeline.units import build_language, clear_language

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


def test_quality_rows_count_kept_hours_and_drops_per_reason(tiny_recipe, root):
    recipe = load_recipe(tiny_recipe(DE, per_emotion=1), root=root)
    result = build_language(recipe, "de", parts=2, progress=False)
    rows = quality_rows(recipe.output, "de")
    total = rows[-1]
    assert total["emotion"] == "total"
    assert (total["kept"], total["dropped"]) == (result.kept, sum(result.dropped.values()))
    assert total["hours"] == pytest.approx(result.hours, abs=1e-3)
    for reason, n in result.dropped.items():
        assert total[f"dropped_{reason}"] == n
    assert sum(r["kept"] for r in rows[:-1]) == total["kept"]
    assert {tuple(r) for r in rows} == {tuple(total)}  # one column set for the table artifact


def test_unit_state_follows_the_markers(tiny_recipe, root):
    from m5ser.pipeline.units import run_part

    recipe = load_recipe(tiny_recipe(DE, per_emotion=1), root=root)
    parts = [run_part(recipe, "de", i, 2) for i in range(2)]
    assert all(unit_is_done(recipe, p) for p in parts)
    assert [g[0].part for g in group_by_language(reversed(parts), ["de"])] == [0]
    clear_language(recipe, "de")
    assert not any(unit_is_done(recipe, p) for p in parts)

"""Every checked-in recipe validates and passes its own inline test cases."""

from __future__ import annotations

import pytest

from m5ser.config import load_recipe
from m5ser.quality.signal import SignalFilter, TextLengthFilter
from m5ser.schema import Utterance
from m5ser.steps import chain

from .conftest import ROOT

RECIPES = sorted((ROOT / "manifests/recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_cases(path):
    recipe = load_recipe(path, root=ROOT)
    cases = recipe.raw.get("test_cases") or []
    assert cases, f"{path.name} has no test_cases"
    for i, case in enumerate(cases):
        utt = Utterance(id=str(i), text=case["text"], metrics=dict(case["metrics"]))
        [out] = list(chain([utt], [TextLengthFilter(recipe.filters), SignalFilter(recipe.filters)]))
        assert out.drop_reason == case["drop_reason"], f"{path.name} test_cases[{i}]"


def test_mini_validates_against_the_installed_engines():
    from m5ser.cli import validate_recipe

    findings = validate_recipe(load_recipe(ROOT / "manifests/recipes/mini.yaml", root=ROOT))
    assert len(findings) >= 6

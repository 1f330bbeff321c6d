"""Every checked-in recipe validates and passes its own inline test cases; every step it
names has at least one case."""

from __future__ import annotations

import pytest

from m5ser.config import load_recipe
from m5ser.pipeline.cases import check_case
from m5ser.pipeline.validate import validate_recipe

from .conftest import ROOT

RECIPES = sorted((ROOT / "manifests/recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_cases(path, tmp_path):
    recipe = load_recipe(path, root=ROOT)
    assert recipe.test_cases, f"{path.name} has no test_cases"
    for i, case in enumerate(recipe.test_cases):
        assert check_case(recipe, case, tmp_path / str(i)) == [], f"{path.name} test_cases[{i}] ({case['step']})"


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_every_step_of_a_recipe_has_a_case(path):
    recipe = load_recipe(path, root=ROOT)
    covered = {case["step"] for case in recipe.test_cases}
    assert [s.name for s in recipe.steps if s.name not in covered] == []


def test_a_case_that_does_not_hold_reports_the_mismatch(tmp_path):
    recipe = load_recipe(ROOT / "manifests/recipes/mini.yaml", root=ROOT)
    case = {"step": "text_length", "input": {"text": "x"}, "output": {"drop_reason": None}}
    assert check_case(recipe, case, tmp_path) == ["[0].drop_reason: expected None, got 'text_length'"]


def test_mini_validates_against_the_installed_engines():
    findings = validate_recipe(load_recipe(ROOT / "manifests/recipes/mini.yaml", root=ROOT))
    assert len(findings) == 8
    assert all("ingest → select → translate → text_shape" in line and "normalize → cast" in line for line in findings)
    assert any(line.startswith("es:") and "routes (en:apertium:en-es, es:parallel)" in line for line in findings)

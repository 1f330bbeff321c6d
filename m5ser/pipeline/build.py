"""One language end to end in this process, without Prefect: plan → work units → merge.

The `build-m5ser` flow runs the same three library calls as tasks (a plan task per
language, a task per work unit, a merge task per language).
"""

from __future__ import annotations

import shutil

from m5ser.config import Recipe
from m5ser.pipeline.merge import LanguageResult, finalize_language
from m5ser.pipeline.plan import plan_language
from m5ser.pipeline.units import run_part


def build_language(
    recipe: Recipe, lang: str, *, limit: int | None = None, parts: int = 1, progress: bool = True
) -> LanguageResult:
    """Build `lang` of `recipe` into `recipe.output`; other languages are untouched."""
    if lang not in recipe.languages:
        raise KeyError(f"language '{lang}' is not in recipe {recipe.path} (has: {sorted(recipe.languages)})")
    plan_language(recipe, lang)
    results = [run_part(recipe, lang, i, parts, limit=limit, progress=progress) for i in range(parts)]
    return finalize_language(recipe, lang, results)


def clear_language(recipe: Recipe, lang: str) -> None:
    """Forget a language's finished work (plan, markers, part manifests and audio) to force a rebuild."""
    folder = recipe.work_dir / lang
    if folder.exists():
        shutil.rmtree(folder)

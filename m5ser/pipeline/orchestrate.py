"""Prefect-free helpers of the orchestration layer: work units and unit state.

The `build-m5ser` flow (flows/build_m5ser.py) uses these; they only read the files the
library writes, so they are tested without Prefect.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from m5ser.config import Recipe
from m5ser.pipeline.units import PartResult, part_paths

DEFAULT_PARTS = 4
"""Work units per language when neither the caller nor the recipe says otherwise."""


def select_languages(recipe: Recipe, languages: Sequence[str] | None) -> list[str]:
    """The languages to build: all of the recipe's, or the named ones (unknown names raise)."""
    if not languages:
        return list(recipe.languages)
    unknown = [code for code in languages if code not in recipe.languages]
    if unknown:
        raise KeyError(f"language(s) {unknown} not in recipe {recipe.path} (has: {sorted(recipe.languages)})")
    return list(dict.fromkeys(languages))


def work_units(languages: Sequence[str], parts: int) -> list[tuple[str, int]]:
    """Every (language, part) work unit, language-major.

    >>> work_units(["de", "fr"], 2)
    [('de', 0), ('de', 1), ('fr', 0), ('fr', 1)]
    """
    if parts < 1:
        raise ValueError(f"parts must be >= 1, got {parts}")
    return [(lang, part) for lang in languages for part in range(parts)]


def unit_is_done(recipe: Recipe, result: PartResult) -> bool:
    """Whether a unit's part manifest and completion marker are both on disk."""
    manifest, marker = part_paths(recipe, result.lang, result.part, result.parts)
    return manifest.is_file() and marker.is_file()


def group_by_language(results: Iterable[PartResult], languages: Sequence[str]) -> list[list[PartResult]]:
    """Part results grouped per language, in the order of `languages`, each sorted by part."""
    groups: dict[str, list[PartResult]] = {lang: [] for lang in languages}
    for result in results:
        groups[result.lang].append(result)
    return [sorted(groups[lang], key=lambda r: r.part) for lang in languages]


def artifact_key(lang: str, suffix: str = "quality") -> str:
    """A Prefect artifact key (lowercase letters, digits, dashes) for one language.

    >>> artifact_key("zh_Hant")
    'm5ser-zh-hant-quality'
    """
    return re.sub(r"[^a-z0-9-]+", "-", f"m5ser-{lang}-{suffix}".lower())

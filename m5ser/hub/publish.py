"""Publish what is in the output folder: dataset card, quality report, recipe dump."""

from __future__ import annotations

import shutil
from pathlib import Path

from m5ser import registry
from m5ser.config import Recipe, load_emotions, load_voices, parse_section
from m5ser.hub.card import write_card
from m5ser.hub.report import write_report
from m5ser.hub.stats import collect_stats


def publish(recipe: Recipe) -> Path:
    """Regenerate card and report over every language present in `recipe.output`.

    The folder's statistics are collected once and handed to both writers.
    """
    stats = collect_stats(recipe.output, load_emotions(recipe.emotions_file).labels)
    voices = {}
    for lang in stats.languages:
        path = recipe.voices_dir / f"{lang}.yaml"
        if path.exists():
            voices[lang] = load_voices(path)
    card = write_card(recipe, stats, voices=voices)
    write_report(recipe.output, stats, thresholds=recipe_thresholds(recipe))
    dump = recipe.output / "reports" / "recipe.yaml"
    dump.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(recipe.path, dump)
    return card


def recipe_thresholds(recipe: Recipe) -> dict[str, list[float]]:
    """Metric -> the thresholds the recipe's filters apply to it (from each step's parameters
    that say so: ``Params.thresholds()``), for the report's histograms."""
    out: dict[str, list[float]] = {}
    for i, cfg in enumerate(recipe.steps):
        params = parse_section(registry.resolve("step", cfg.name).Params, cfg.params, f"steps[{i}].{cfg.name}")
        for metric, values in (params.thresholds() if hasattr(params, "thresholds") else {}).items():
            out.setdefault(metric, []).extend(v for v in values if v not in out.get(metric, []))
    return out

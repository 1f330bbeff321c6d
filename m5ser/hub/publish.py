"""Publish what is in the output folder: dataset card, quality report, recipe dump."""

from __future__ import annotations

import shutil
from pathlib import Path

from m5ser.config import Recipe, load_emotions, load_voices
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
    write_report(recipe.output, stats)
    dump = recipe.output / "reports" / "recipe.yaml"
    dump.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(recipe.path, dump)
    return card

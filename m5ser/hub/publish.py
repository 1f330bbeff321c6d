"""Publish what is in the output folder: dataset card, quality report, recipe dump."""

from __future__ import annotations

import shutil
from pathlib import Path

from m5ser.config import Recipe, load_voices
from m5ser.hub.card import write_card
from m5ser.hub.report import write_report


def publish(recipe: Recipe) -> Path:
    """Regenerate card and report over every language present in `recipe.output`."""
    voices = {}
    for lang in sorted(p.stem for p in (recipe.output / "manifests").glob("*.jsonl")):
        path = recipe.voices_dir / f"{lang}.yaml"
        if path.exists():
            voices[lang] = load_voices(path)
    card = write_card(recipe.output, voices=voices, recipe=recipe.raw)
    write_report(recipe.output)
    dump = recipe.output / "reports" / "recipe.yaml"
    dump.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(recipe.path, dump)
    return card

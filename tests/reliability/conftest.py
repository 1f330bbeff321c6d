"""A small German build from a user CSV, to edit rows, voices and recipe fields between builds."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from m5ser.config import Recipe, load_recipe
from m5ser.testing import write_tiny_recipe

ROOT = Path(__file__).resolve().parents[2]

STEPS = [  # the core pipeline only: fast, and independent of what the demo recipe adds
    "ingest",
    {"select": {"per_emotion": 5}},
    "translate",
    {"cast": {"speakers_per_sentence": 1, "intensity": [0.6, 1.0]}},
    {"synthesize": {"voice_quality": True}},
    "signal",
    {"signal_filter": {"min_duration_s": 0.4, "min_snr_db": 20.0, "min_rms_dbfs": -40.0}},
]

ROWS = [
    ("r1", "Ich bin so wütend auf dich!", "anger"),
    ("r2", "Das ist wunderbar, ich freue mich!", "joy"),
    ("r3", "Ich vermisse sie so sehr.", "sadness"),
    ("r4", "Der Zug fährt um sechs Uhr ab.", "neutral"),
]


def write_csv(path: Path, rows: list[tuple[str, str, str]], header: str = "id,text,emotion,lang") -> Path:
    lines = [header] + [f'{i},"{t}",{e},de' for i, t, e in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def user_build(tmp_path: Path) -> Callable[..., Recipe]:
    """A recipe over `tmp_path/rows.csv` (German, identity route) with a private copy of the
    speaker bank; `make(**overrides)` (re)writes the recipe and loads it."""
    csv = write_csv(tmp_path / "rows.csv", ROWS)
    voices = tmp_path / "voices"
    if not voices.exists():
        shutil.copytree(ROOT / "manifests" / "voices", voices)

    def make(step_params: dict | None = None, **overrides) -> Recipe:
        overrides.setdefault("steps", STEPS)
        overrides.setdefault("sources", {"mine": {"reader": "user", "path": str(csv), "options": {"lang": "de"}}})
        languages = {"de": {"sources": ["mine"], "translate": "identity", "speakers": 2}}
        path = write_tiny_recipe(
            tmp_path / "recipe",
            ROOT,
            languages,
            per_emotion=5,
            step_params=step_params,
            voices_dir=str(voices),
            **overrides,
        )
        return load_recipe(path, root=ROOT)

    return make

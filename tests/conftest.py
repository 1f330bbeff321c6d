"""Shared fixtures: paths into the repo and a tiny recipe writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from m5ser.testing import write_tiny_recipe

ROOT = Path(__file__).resolve().parents[1]
SHARED_TEXT = ROOT.parent / "shared" / "data" / "text"


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def tiny_recipe(tmp_path: Path):
    """Write a small variant of the mini recipe into tmp_path and return its path."""

    def make(languages: dict | None = None, per_emotion: int = 2, step_params: dict | None = None, **overrides) -> Path:
        return write_tiny_recipe(tmp_path, ROOT, languages, per_emotion, step_params, **overrides)

    return make

"""Shared fixtures: paths into the repo and a tiny recipe writer."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED_TEXT = ROOT.parent / "shared" / "data" / "text"


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def tiny_recipe(tmp_path: Path):
    """Write a small variant of the mini recipe into tmp_path and return its path."""

    def make(languages: dict | None = None, per_emotion: int = 2, **overrides) -> Path:
        data = yaml.safe_load((ROOT / "manifests/recipes/mini.yaml").read_text(encoding="utf-8"))
        data["output"] = str(tmp_path / "out" / "m5ser")
        data["work_dir"] = str(tmp_path / "out" / "work")
        data["emotions"] = str(ROOT / "manifests/emotions.yaml")
        data["voices_dir"] = str(ROOT / "manifests/voices")
        for source in data["sources"].values():
            source["path"] = str(ROOT / source["path"])
        if languages is not None:
            data["languages"] = languages
        data["build"]["per_emotion"] = per_emotion
        data.update(overrides)
        path = tmp_path / "recipe.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return path

    return make

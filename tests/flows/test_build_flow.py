"""The `build-m5ser` flow in-process on a throw-away backend: shards, artifacts, cache, markers, force."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.build_m5ser import (
    RESULTS_DIR,
    build_m5ser,
    build_part,
    merge_language,
    plan_language_task,
    summary,
    task_runner,
)
from m5ser.config import load_recipe
from m5ser.pipeline.build import clear_language

GERMAN_CLIPS = 6
"""One sentence per emotion but neutral: XED has no German neutral lines, and the demo recipe
relabels none (honest neutral)."""


def read_artifact(key: str) -> object:
    """The latest data of the artifact with `key` on the current backend."""
    from prefect.artifacts import Artifact

    found = Artifact.get(key)
    assert found is not None, f"no artifact {key}"
    data = found.data
    return json.loads(data) if isinstance(data, str) and data.startswith("[") else data


def test_task_bodies_return_manifest_paths_not_audio(make_recipe, root):
    path = make_recipe(per_emotion=1)
    fingerprint = load_recipe(path, root=root).fingerprint()
    assert plan_language_task.fn(str(path), str(root), fingerprint, "de") == GERMAN_CLIPS
    parts = [build_part.fn(str(path), str(root), fingerprint, "de", i, 2, None) for i in range(2)]
    assert all(Path(p.manifest).suffix == ".jsonl" and Path(p.manifest).is_file() for p in parts)
    merged = merge_language.fn(str(path), str(root), fingerprint, "de", parts, False)
    assert merged.planned == GERMAN_CLIPS and all(s.endswith(".parquet") for s in merged.shards)
    with pytest.raises(RuntimeError, match="changed"):
        build_part.fn(str(path), str(root), "0" * 16, "de", 0, 2, None)


def test_runner_choice():
    from prefect.task_runners import ProcessPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    assert isinstance(task_runner(2), ProcessPoolTaskRunner)
    assert isinstance(task_runner(2, "local"), DaskTaskRunner)
    assert task_runner(dask="tcp://127.0.0.1:8786").address == "tcp://127.0.0.1:8786"


def test_flow_builds_publishes_artifacts_and_resumes(prefect_api, make_recipe, root):
    path = make_recipe(per_emotion=1)
    recipe = load_recipe(path, root=root)
    first = summary(build_m5ser(str(path), parts=2, workers=2, root=str(root)))
    de = first["languages"]["de"]
    assert de["planned"] == GERMAN_CLIPS and de["kept"] + sum(de["dropped"].values()) == GERMAN_CLIPS
    assert first["synthesis_calls"] == GERMAN_CLIPS
    assert sorted(p.name for p in (recipe.output / "data" / "de").glob("*.parquet")) == sorted(
        Path(s).name for s in de["shards"]
    )
    assert (recipe.output / "README.md").is_file() and any((recipe.work_dir / RESULTS_DIR).iterdir())
    table = read_artifact("m5ser-de-quality")
    assert table[-1]["emotion"] == "total" and table[-1]["kept"] == de["kept"]
    assert "#" in str(read_artifact("m5ser-report"))

    again = summary(build_m5ser(str(path), parts=2, workers=2, root=str(root)))
    assert again["synthesis_calls"] == 0  # every unit served from Prefect's cache
    assert again["languages"]["de"]["kept"] == de["kept"]

    clear_language(recipe, "de")  # the cache still remembers the units; their files are gone
    redone = summary(build_m5ser(str(path), parts=2, workers=2, root=str(root)))
    assert redone["synthesis_calls"] == GERMAN_CLIPS and redone["languages"]["de"]["kept"] == de["kept"]

    forced = summary(build_m5ser(str(path), parts=2, workers=2, force=True, root=str(root)))
    assert forced["synthesis_calls"] == GERMAN_CLIPS

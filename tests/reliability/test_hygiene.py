"""Class 7: nothing published names the build machine's paths; Prefect's state stays in the
project; logs get no progress redraws."""

from __future__ import annotations

import json
import os

from m5ser.cli import prefect_defaults
from m5ser.pipeline.build import build_language
from m5ser.pipeline.units import run_steps
from m5ser.schema import Utterance


def test_published_files_carry_no_absolute_paths(user_build):
    recipe = user_build(step_params={"signal_filter": {"min_duration_s": 1.9, "max_duration_s": 30.0}})
    build_language(recipe, "de", progress=False)
    removed = list((recipe.output / "removed" / "de").glob("*.jsonl"))
    assert removed
    published = [*removed, *(recipe.output / "manifests").glob("*.jsonl")]
    for path in published:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            assert not os.path.isabs(row["audio_path"]), (path, row["audio_path"])
            assert str(recipe.work_dir) not in line


def test_prefect_state_lives_in_the_work_folder_unless_the_user_chose(monkeypatch, tmp_path):
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    prefect_defaults(tmp_path / "work")
    assert os.environ["PREFECT_HOME"] == str((tmp_path / "work").resolve() / "prefect-home")
    assert (tmp_path / "work" / "prefect-home").is_dir()
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "mine"))
    prefect_defaults(tmp_path / "work")
    assert os.environ["PREFECT_HOME"] == str(tmp_path / "mine")


def test_no_progress_redraws_when_stderr_is_not_a_terminal(capfd):
    items = [Utterance(id=f"{i:016x}", text="x") for i in range(50)]
    assert len(run_steps(items, [], "de part 1/1", progress=True)) == 50
    out, err = capfd.readouterr()
    assert "\r" not in out + err and "part 1/1" not in out + err

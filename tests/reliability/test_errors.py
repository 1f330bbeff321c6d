"""Class 2: errors survive process boundaries with their message, deterministic errors are not
retried, and the command line ends in one clear line."""

from __future__ import annotations

import pickle

import pytest

from m5ser import cli
from m5ser.config import RecipeError
from m5ser.manifest import ManifestError
from m5ser.registry import MissingDependencyError
from m5ser.shards.parquet import ShardError
from m5ser.text.readers import SourceError

from .conftest import ROWS, write_csv

ERRORS = [
    SourceError("rows.csv", 3, "emotion", "unknown label 'bored'"),
    ManifestError("part.jsonl", 7, "invalid JSON (Expecting value)"),
    RecipeError("r.yaml: languages.de.speakers: expected a whole number"),
    ShardError("language 'de', clip abc: field 'split' is 'x'"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_errors_pickle_back_with_their_message(error):
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error) and str(back) == str(error)
    assert vars(back) == vars(error)


@pytest.mark.parametrize(("error", "retry"), [(ERRORS[0], False), (ERRORS[2], False), (OSError("disk"), True)])
def test_bad_input_is_not_retried(error, retry):
    from prefect.states import Failed

    from flows.build_m5ser import retry_unless_bad_input

    assert retry_unless_bad_input(None, None, Failed(data=error)) is retry


def test_a_bad_row_ends_the_build_in_one_clear_line_before_any_audio(user_build, tmp_path, capsys):
    write_csv(tmp_path / "rows.csv", [*ROWS, ("r5", "Gähn.", "bored")])
    recipe = user_build()
    with pytest.raises(SystemExit) as done:
        cli.main(["build", str(recipe.path)])
    assert done.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'rows.csv'}:6: field 'emotion': unknown label 'bored'"]
    assert not recipe.work_dir.exists()  # validation read the source: nothing was planned or rendered


def test_a_missing_module_names_the_extra(monkeypatch, capsys):
    def no_torch(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(cli, "app", no_torch)
    with pytest.raises(SystemExit):
        cli.main(["train", "stage1"])
    assert "'torch' is not installed: training needs the train extra" in capsys.readouterr().err


def test_missing_dependency_errors_keep_their_own_message(monkeypatch, capsys):
    def missing(*args, **kwargs):
        raise MissingDependencyError("'parselmouth' is not installed; install it with: pip install 'm5ser[tts]'")

    monkeypatch.setattr(cli, "app", missing)
    with pytest.raises(SystemExit):
        cli.main(["build", "x.yaml"])
    assert "pip install 'm5ser[tts]'" in capsys.readouterr().err

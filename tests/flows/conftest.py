"""Fixtures of the flow tests: a private Prefect home, a throw-away backend, tiny recipes, shard digests."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from m5ser.testing import write_tiny_recipe

ROOT = Path(__file__).resolve().parents[2]
TWO_LANGS = {
    "en": {"sources": ["xed"], "translate": "identity"},
    "de": {"sources": ["xed"], "translate": "parallel"},
}


def write_recipe(folder: Path, languages: dict, per_emotion: int) -> Path:
    """A small variant of the mini recipe whose output and work folders live in `folder`."""
    return write_tiny_recipe(folder, ROOT, languages, per_emotion)


@pytest.fixture
def make_recipe(tmp_path: Path) -> Callable[..., Path]:
    """Write tiny recipes under tmp_path/<name>."""

    def make(name: str = "build", languages: dict | None = None, per_emotion: int = 1) -> Path:
        return write_recipe(tmp_path / name, languages or {"de": TWO_LANGS["de"]}, per_emotion)

    return make


def file_digests(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by relative path."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def clip_digests(out_dir: Path) -> dict[str, str]:
    """Content hash of every published clip by id (audio bytes and labels); asserts no id repeats."""
    digests: dict[str, str] = {}
    for path in sorted((out_dir / "data").rglob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            assert row["id"] not in digests, f"clip {row['id']} appears twice ({path})"
            audio = row.pop("audio")
            text = repr(sorted(row.items())).encode()
            digests[row["id"]] = hashlib.sha256(audio["bytes"] + text).hexdigest()
    return digests


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throw-away Prefect backend (temp SQLite, loopback) for the session; yields its API URL."""
    patch = pytest.MonkeyPatch()
    patch.setenv("PREFECT_HOME", str(tmp_path_factory.mktemp("prefect-home")))
    patch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    try:
        with prefect_test_harness(server_startup_timeout=180):
            yield str(PREFECT_API_URL.value())
    finally:
        patch.undo()


@pytest.fixture
def flow_env(prefect_api: str) -> dict[str, str]:
    """Environment for a build subprocess: the session's backend, the repo on the path."""
    env = dict(os.environ, PREFECT_API_URL=prefect_api, PYTHONHASHSEED="0")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def flow_command(recipe: Path, *args: str) -> list[str]:
    """The command line of a `python -m flows.build_m5ser` build."""
    return [sys.executable, "-m", "flows.build_m5ser", str(recipe), *args]


@pytest.fixture(scope="session")
def helpers() -> dict[str, Callable]:
    """The helpers above, for test modules (importlib mode cannot import conftest)."""
    return {
        "write_recipe": write_recipe,
        "file_digests": file_digests,
        "clip_digests": clip_digests,
        "flow_command": flow_command,
    }

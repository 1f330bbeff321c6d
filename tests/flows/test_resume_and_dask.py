"""Acceptance: a build killed mid-synthesis resumes to the same shards; `--dask local` gives the same shards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from flows.build_m5ser import build_m5ser
from m5ser.config import load_recipe

ROOT = Path(__file__).resolve().parents[2]
TWO_LANGS = {
    "en": {"sources": ["xed"], "translate": "identity"},
    "de": {"sources": ["xed"], "translate": "parallel"},
}
PER_EMOTION = 3  # 21 clips per language, 42 in all
PARTS = 4


@pytest.fixture(scope="module")
def reference(prefect_api: str, helpers: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted build (default process pool) of the two-language tiny recipe; its output folder."""
    path = helpers["write_recipe"](tmp_path_factory.mktemp("reference"), TWO_LANGS, PER_EMOTION)
    build_m5ser(str(path), parts=PARTS, workers=2, root=str(ROOT))
    return load_recipe(path, root=ROOT).output


def kill_mid_synthesis(cmd: list[str], env: dict[str, str], parts_dirs: list[Path], timeout: float = 240) -> None:
    """Start a build in its own process group and SIGKILL the whole group once some, not all, units are done."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if any(d.is_dir() and any(d.glob("*.done")) for d in parts_dirs):
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"the build ended before it could be killed ({proc.returncode})"


@pytest.mark.slow
def test_build_killed_mid_synthesis_resumes_to_identical_shards(reference, helpers, flow_env, tmp_path):
    write_recipe, flow_command = helpers["write_recipe"], helpers["flow_command"]
    clip_digests, file_digests = helpers["clip_digests"], helpers["file_digests"]
    path = write_recipe(tmp_path, TWO_LANGS, PER_EMOTION)
    recipe = load_recipe(path, root=ROOT)
    args = ("--parts", str(PARTS), "--workers", "1")
    kill_mid_synthesis(flow_command(path, *args), flow_env, [recipe.work_dir / lang / "parts" for lang in TWO_LANGS])

    markers = sorted(recipe.work_dir.glob("*/parts/*.done"))
    wavs = len(list(recipe.work_dir.glob("*/audio/*.wav")))
    assert 0 < len(markers) < PARTS * len(TWO_LANGS), "kill came before the first or after the last unit"
    summary_path = tmp_path / "summary.json"
    done = subprocess.run(
        flow_command(path, *args, "--summary", str(summary_path)), cwd=ROOT, env=flow_env, capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    summary = json.loads(summary_path.read_text(encoding="utf-8"))

    planned = sum(r["planned"] for r in summary["languages"].values())
    text_drops = sum(r["dropped"].get("text_length", 0) for r in summary["languages"].values())
    assert summary["synthesis_calls"] == planned - text_drops - wavs  # only clips without a WAV were rendered
    assert clip_digests(recipe.output) == clip_digests(reference)  # content hash per clip id, no id twice
    assert file_digests(recipe.output / "data") == file_digests(reference / "data")
    assert file_digests(recipe.output / "removed") == file_digests(reference / "removed")


@pytest.mark.slow
def test_dask_local_cluster_gives_identical_shards(reference, helpers, tmp_path):
    clip_digests, file_digests = helpers["clip_digests"], helpers["file_digests"]
    path = helpers["write_recipe"](tmp_path, TWO_LANGS, PER_EMOTION)
    results = build_m5ser(str(path), parts=PARTS, workers=2, dask="local", root=str(ROOT))
    assert sum(r.synthesis_calls for r in results) > 0
    out = load_recipe(path, root=ROOT).output
    assert file_digests(out / "data") == file_digests(reference / "data")
    assert clip_digests(out) == clip_digests(reference)

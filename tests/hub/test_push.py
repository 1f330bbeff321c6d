"""`m5ser push` against the loopback Hub test server: files, card merge, resume, retries, token hygiene."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from m5ser.config import HubConfig, Recipe, load_recipe
from m5ser.hub.card import read_front_matter
from m5ser.hub.publish import publish
from m5ser.hub.push import PushError, PushOptions, check_limits, push
from m5ser.hub.testserver import Hub, serve_hub
from m5ser.shards.parquet import write_language
from m5ser.testing import make_dropped_set, make_kept_set, write_removed

pytest.importorskip("huggingface_hub")

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "hf_testTOKENdoNotLeak0123456789"
READ_TOKEN = "hf_readONLYtoken9876543210"
REPO = "tester/m5ser-test"
EMOTIONS = ["neutral", "sad", "angry"]


@pytest.fixture
def recipe(tmp_path: Path) -> Recipe:
    """The mini recipe publishing de + fr (tone clips, all splits, some drops) under tmp_path."""
    out = tmp_path / "out"
    kept = make_kept_set(tmp_path / "in", ["de", "fr"], EMOTIONS, n_per=5)
    for lang, clips in kept.items():
        write_language(lang, clips, out)
    write_removed(out, make_dropped_set(tmp_path / "in", ["de"], ["sad"], {"low_snr": 2})["de"])
    mini = load_recipe(ROOT / "manifests" / "recipes" / "mini.yaml", root=ROOT)
    cfg = dataclasses.replace(mini, output=out, work_dir=tmp_path / "work", hub=HubConfig(repo_id=REPO))
    publish(cfg)
    return cfg


def _hub_env(endpoint: str, home: Path) -> dict[str, str]:
    return {
        "HF_ENDPOINT": endpoint,
        "HF_HOME": str(home),
        "HF_TOKEN_PATH": str(home / "no-token"),
        "HF_HUB_DISABLE_XET": "1",  # the test server speaks the LFS protocol
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Hub]]:
    """A loopback Hub with one write and one read-only token; huggingface_hub pointed at it."""
    import huggingface_hub.constants as constants

    with serve_hub(tmp_path / "hub-blobs", {TOKEN: "write", READ_TOKEN: "read"}) as (endpoint, state):
        for k, v in _hub_env(endpoint, tmp_path / "hf").items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        # huggingface_hub reads HF_HUB_OFFLINE once, at import: a test that imported it while
        # offline (m5ser.testing.isolate_hf) must not leave this test offline.
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "ENDPOINT", endpoint)
        monkeypatch.setattr(
            constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}"
        )
        monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
        monkeypatch.setattr(constants, "HF_HUB_DISABLE_PROGRESS_BARS", True)
        monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "hf" / "no-token"))
        yield endpoint, state


def _remote(state: Hub) -> dict[str, str]:
    files = state.repos[REPO].files("main") or {}
    return {p: e.blob_id for p, e in files.items()}


def _of(files: dict[str, str], lang: str) -> dict[str, str]:
    """The files of one language (and the shared quality report) among remote `files`."""
    keep = (f"manifests/{lang}.", "reports/quality.md")
    return {p: b for p, b in files.items() if lang in p.split("/")[1:2] or p.startswith(keep)}


def _card(state: Hub) -> str:
    entry = state.repos[REPO].files("main")["README.md"]
    return state.read(entry.key).decode("utf-8")


def _quiet(_: str) -> None:
    """Progress lines are dropped (a test reads the results)."""


def test_two_language_pushes_merge_the_remote_card(recipe: Recipe, hub, tmp_path: Path) -> None:
    from huggingface_hub import DatasetCard

    _, state = hub
    first = push(recipe, PushOptions(REPO, languages=("de",)), say=_quiet)
    after_de = _remote(state)
    assert {p for p in after_de if p.startswith("data/")} == {
        f"data/de/{s}-00000-of-00001.parquet" for s in ("train", "dev", "test")
    }
    assert {"README.md", "manifests/de.jsonl", "removed/de/low_snr.jsonl", "reports/quality.md"} <= set(after_de)
    assert first.commits and state.commits == len(first.commits)

    second = push(recipe, PushOptions(REPO, languages=("fr",)), say=_quiet)
    after_fr = _remote(state)
    # de's files were neither deleted nor rewritten; the shared report (de only) was left alone
    assert _of(after_fr, "de") == _of(after_de, "de") and len(_of(after_de, "de")) >= 6
    assert any("shared reports not pushed" in n for n in second.plan.notes)
    assert "manifests/fr.jsonl" in after_fr and "data/fr/train-00000-of-00001.parquet" in after_fr

    text = _card(state)
    meta, body = read_front_matter(_write(tmp_path / "card.md", text))
    assert [c["config_name"] for c in meta["configs"]] == ["all", "de", "fr"]
    assert meta["language"] == ["de", "fr"]
    card = DatasetCard(text)
    card.validate(repo_type="dataset")  # the Hub's validate-yaml call, answered by the test server
    assert card.data.pretty_name == recipe.hub.pretty_name
    assert f'load_dataset("{REPO}", "fr")' in body


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_unchanged_repush_sends_nothing_and_a_change_sends_one_file(recipe: Recipe, hub) -> None:
    _, state = hub
    push(recipe, PushOptions(REPO), say=_quiet)
    received, commits = state.bytes_received, state.commits
    start = time.perf_counter()
    again = push(recipe, PushOptions(REPO), say=_quiet)
    seconds = time.perf_counter() - start
    assert again.commits == [] and again.bytes_planned == 0
    assert (state.bytes_received, state.commits) == (received, commits)
    assert again.plan.summary()["unchanged"]["files"] == len(again.plan.files)
    assert seconds < 30

    manifest = Path(recipe.output) / "manifests" / "fr.jsonl"
    manifest.write_text(manifest.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    changed = push(recipe, PushOptions(REPO), say=_quiet)  # the card counts the same clips: unchanged
    assert [(f.path, f.action) for f in changed.plan.pending()] == [("manifests/fr.jsonl", "update")]


def test_dry_run_needs_no_token_and_writes_nothing(recipe: Recipe, hub, monkeypatch: pytest.MonkeyPatch) -> None:
    _, state = hub
    monkeypatch.delenv("HF_TOKEN")
    result = push(recipe, PushOptions(REPO), dry_run=True, say=_quiet)
    summary = result.plan.summary()
    assert summary["add"]["files"] == len(result.plan.files) > 0 and summary["update"]["files"] == 0
    assert summary["add"]["bytes"] == sum(f.size for f in result.plan.files)
    assert {f"data/{lang}/train-00000-of-00001.parquet" for lang in ("de", "fr")} <= {f.path for f in result.plan.files}
    assert state.commits == 0 and REPO not in state.repos


def test_missing_rejected_and_read_only_tokens_are_clear_errors(recipe: Recipe, hub, monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(PushError, match="no Hugging Face token"):
        push(recipe, PushOptions(REPO), say=_quiet)
    monkeypatch.setenv("HF_TOKEN", READ_TOKEN)
    with pytest.raises(PushError, match="read-only") as err:
        push(recipe, PushOptions(REPO), say=_quiet)
    assert READ_TOKEN not in str(err.value)
    monkeypatch.setenv("HF_TOKEN", "hf_unknownTOKEN")
    with pytest.raises(PushError, match="rejected the token"):
        push(recipe, PushOptions(REPO), say=_quiet)
    empty = _write(tmp_path / "empty-token", "")
    with pytest.raises(PushError, match="empty"):
        push(recipe, PushOptions(REPO), token_file=empty, say=_quiet)


def test_commit_rate_limits_are_retried_with_back_off(recipe: Recipe, hub) -> None:
    _, state = hub
    state.fail("POST", r"/commit/", 429, times=2)
    state.fail("POST", r"/preupload/", 503, times=1)
    result = push(recipe, PushOptions(REPO, languages=("de",), backoff_s=0.01), say=_quiet)
    assert result.commits and state.commits == len(result.commits)
    statuses = Counter(s for m, p, s in state.requests if m == "POST" and ("/commit/" in p or "/preupload/" in p))
    assert statuses[429] == 2 and statuses[503] >= 1


def test_hub_limits_are_checked_before_uploading(tmp_path: Path) -> None:
    f = _write(tmp_path / "x.jsonl", "{}\n")
    with pytest.raises(PushError, match="files; the Hub takes fewer than 10000 per folder"):
        check_limits([(f"wav/de/{i}.wav", f) for i in range(10_001)])


def test_interrupted_push_resumes_without_resending_and_never_leaks_the_token(
    recipe: Recipe, hub, tmp_path: Path
) -> None:
    endpoint, state = hub
    state.hold_uploads_after = 2  # the first commit (2 shards) lands, the next upload hangs
    token_file = _write(tmp_path / "secrets" / "token", TOKEN + "\n")
    env = {**os.environ, **_hub_env(endpoint, tmp_path / "hf-cli")}
    env.pop("HF_TOKEN", None)
    cmd = [sys.executable, "-m", "m5ser.cli", "push", str(recipe.path), "--repo-id", REPO, "--commit-files", "2"]
    # The recipe file's output is elsewhere: give the CLI a recipe that points at the test folder.
    recipe_file = _write(tmp_path / "recipe.yaml", _recipe_yaml(recipe))
    cmd[4] = str(recipe_file)
    logs = tmp_path / "logs"
    logs.mkdir()
    with (logs / "first.out").open("w") as out:
        proc = subprocess.Popen(
            [*cmd, "--token-file", str(token_file), "-v"], env=env, stdout=out, stderr=out, cwd=ROOT
        )
        deadline = time.monotonic() + 120
        while state.held == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert state.held == 1, (logs / "first.out").read_text()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    first_puts = list(state.lfs_puts)
    assert len(first_puts) == 2 and state.commits >= 1
    state.hold_uploads_after = None
    state.release.set()

    done = subprocess.run(
        [*cmd, "--token-file", str(token_file), "-v"], env=env, capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    (logs / "second.out").write_text(done.stdout + done.stderr)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not [oid for oid, n in Counter(state.lfs_puts).items() if n > 1], "an LFS object was sent twice"
    local = {p.relative_to(recipe.output).as_posix() for p in Path(recipe.output).rglob("*") if p.is_file()}
    assert {p for p in local if p.startswith(("data/", "manifests/", "removed/"))} <= set(_remote(state))

    leaks = [
        str(p) for p in tmp_path.rglob("*") if p.is_file() and p != token_file and TOKEN.encode() in p.read_bytes()
    ]
    assert leaks == [], f"token found in {leaks}"


def _recipe_yaml(recipe: Recipe) -> str:
    import yaml

    raw = dict(recipe.raw)
    raw |= {
        "output": str(recipe.output),
        "work_dir": str(recipe.work_dir),
        "emotions": str(recipe.emotions),
        "voices_dir": str(recipe.voices_dir),
        "hub": {"repo_id": REPO},
    }
    for source in raw.get("sources", {}).values():
        source["path"] = str(ROOT / source["path"])
    return yaml.safe_dump(raw, allow_unicode=True)


LOAD_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from datasets import load_dataset
    from m5ser.train.data import load_shards
    repo, cache = sys.argv[1], sys.argv[2]
    out = {}
    for config in ("de", "fr", "all"):
        ds = load_dataset(repo, config, cache_dir=cache)
        a = ds["train"][0]["audio"]
        samples = a.get_all_samples() if hasattr(a, "get_all_samples") else None
        n = int(samples.data.shape[-1]) if samples is not None else len(a["array"])
        rate = int(samples.sample_rate) if samples is not None else int(a["sampling_rate"])
        out[config] = {s: len(ds[s]) for s in ds} | {"rate": rate, "samples": n}
    clips = load_shards(repo, ("neutral", "sad", "angry"), "dev", languages=["de"])
    out["train_loader_dev_de"] = len(clips)
    print(json.dumps(out))
    """
)


@pytest.mark.slow
def test_datasets_loads_every_pushed_config_and_decodes_audio(recipe: Recipe, hub, tmp_path: Path) -> None:
    endpoint, _ = hub
    push(recipe, PushOptions(REPO), say=_quiet)
    env = {**os.environ, **_hub_env(endpoint, tmp_path / "hf-load"), "HF_TOKEN": TOKEN}
    env.pop("HF_HUB_OFFLINE", None)
    env.pop("HF_DATASETS_OFFLINE", None)
    done = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, REPO, str(tmp_path / "ds-cache")],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    per_lang = {"train": 9, "validation": 3, "test": 3}  # 5 clips x 3 emotions, splits cycle 3:1:1
    assert {k: v for k, v in got["de"].items() if k in per_lang} == per_lang
    assert {k: v for k, v in got["fr"].items() if k in per_lang} == per_lang
    assert got["all"]["train"] == 18
    for config in ("de", "fr", "all"):
        assert got[config]["rate"] == 16000 and got[config]["samples"] > 0
    assert got["train_loader_dev_de"] == 3
    assert TOKEN not in done.stdout + done.stderr

"""The model store: assembly from package parts, verification, reuse, errors, CLI."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from m5ser.models import store
from m5ser.models.store import MARKER, ModelFile, ModelSpec, ModelStoreError, Source

PKG = "m5ser_fake_model_pkg"


@pytest.fixture
def fake_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModelSpec:
    """A package on sys.path carrying a model split in two parts, and a spec for it."""
    site = tmp_path / "site"
    data = site / PKG / "data"
    data.mkdir(parents=True)
    (site / PKG / "__init__.py").write_text("")
    part1, part2, cfg = b"A" * 1000, b"B" * 777, b'{"k": 1}'
    (data / "w.bin.part1").write_bytes(part1)
    (data / "w.bin.part2").write_bytes(part2)
    (data / "config.json").write_bytes(cfg)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("M5SER_MODELS", str(tmp_path / "cache"))
    sys.modules.pop(PKG, None)
    spec = ModelSpec(
        name="fake",
        description="two-part test model",
        license="MIT",
        format="test",
        pip=("fake-pkg==1",),
        extra="quality",
        files=(
            ModelFile(
                "w.bin",
                (Source(PKG, "data/w.bin.part1"), Source(PKG, "data/w.bin.part2")),
                len(part1 + part2),
                hashlib.sha256(part1 + part2).hexdigest(),
            ),
            ModelFile("config.json", (Source(PKG, "data/config.json"),), len(cfg), hashlib.sha256(cfg).hexdigest()),
        ),
    )
    monkeypatch.setitem(store.MODELS, "fake", spec)
    return spec


def test_cache_root_follows_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("M5SER_MODELS", str(tmp_path))
    assert store.cache_root() == tmp_path
    monkeypatch.delenv("M5SER_MODELS")
    assert store.cache_root() == Path.home() / ".cache" / "m5ser" / "models"


def test_assembles_concatenated_parts_once(fake_model: ModelSpec, tmp_path: Path) -> None:
    folder = store.model_path("fake")
    assert folder == tmp_path / "cache" / "fake"
    assert (folder / "w.bin").read_bytes() == b"A" * 1000 + b"B" * 777
    assert json.loads((folder / MARKER).read_text())["fingerprint"] == fake_model.fingerprint()
    assert store.is_ready("fake")
    mtime = (folder / "w.bin").stat().st_mtime_ns
    assert store.model_path("fake", verify=True) == folder
    assert (folder / "w.bin").stat().st_mtime_ns == mtime  # reused, not rebuilt
    assert [p.name for p in folder.parent.iterdir()] == ["fake"]  # no temp folders left


def test_truncated_folder_is_rebuilt(fake_model: ModelSpec) -> None:
    folder = store.model_path("fake")
    (folder / "w.bin").write_bytes(b"A" * 10)
    assert not store.is_ready("fake")
    assert (store.model_path("fake") / "w.bin").stat().st_size == 1777


def test_verify_detects_same_size_corruption(fake_model: ModelSpec) -> None:
    folder = store.model_path("fake")
    (folder / "w.bin").write_bytes(b"C" * 1777)
    assert store.model_path("fake") == folder  # sizes only: cheap check passes
    with pytest.raises(ModelStoreError, match=r"corrupt: w\.bin: sha256"):
        store.model_path("fake", verify=True)


def test_hash_mismatch_fails_and_leaves_nothing(fake_model: ModelSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = ModelFile("w.bin", fake_model.files[0].sources, 1777, "0" * 64)
    monkeypatch.setitem(store.MODELS, "fake", ModelSpec(**{**fake_model.__dict__, "files": (bad,)}))
    with pytest.raises(ModelStoreError, match=r"failed verification: w\.bin: sha256"):
        store.model_path("fake")
    assert list(store.cache_root().iterdir()) == []


def test_missing_package_names_the_extra(fake_model: ModelSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = ModelFile("x", (Source("m5ser_no_such_pkg", "data/x"),), 1, None)
    monkeypatch.setitem(store.MODELS, "fake", ModelSpec(**{**fake_model.__dict__, "files": (gone,)}))
    with pytest.raises(ModelStoreError, match=r"m5ser_no_such_pkg.*pip install 'm5ser\[quality\]'"):
        store.model_path("fake")


def test_unknown_model_lists_known() -> None:
    with pytest.raises(ModelStoreError, match=r"unknown model 'nope'; known: .*whisper-base"):
        store.model_path("nope")


def test_builder_runs_after_copy(fake_model: ModelSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    built = ModelFile("derived.txt")
    spec = ModelSpec(**{**fake_model.__dict__, "files": (*fake_model.files, built), "builder": f"{__name__}:_build"})
    monkeypatch.setitem(store.MODELS, "fake", spec)
    assert (store.model_path("fake") / "derived.txt").read_text() == "1777"


def _build(spec: ModelSpec, folder: Path) -> None:
    (folder / "derived.txt").write_text(str((folder / "w.bin").stat().st_size))


def test_cli_list_fetch_path(fake_model: ModelSpec) -> None:
    from m5ser.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["models", "path", "fake"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(store.cache_root() / "fake")
    listed = runner.invoke(app, ["models", "list"])
    assert listed.exit_code == 0 and "fake" in listed.output and "whisper-base" in listed.output
    assert runner.invoke(app, ["models", "fetch", "nope"]).exit_code == 1


def test_whisper_base_spec_matches_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real entry: package files exist and their sizes add up to the documented model.bin."""
    spec = store.MODELS["whisper-base"]
    model_bin = next(f for f in spec.files if f.name == "model.bin")
    assert model_bin.size == 145_217_532
    sizes = 0
    for src in model_bin.sources:
        sizes += (store._package_dir(spec, src.package) / src.path).stat().st_size
    assert sizes == model_bin.size

import json
from pathlib import Path

import pytest
import torch

from m5ser.train.checkpoint import load_stage1
from m5ser.train.trainer import Stage1Trainer, lr_at, train_stage1

from .conftest import tiny_config


@pytest.mark.parametrize(("step", "expected"), [(0, 0.1), (9, 1.0), (10, 1.0), (55, 0.55), (100, 0.1)])
def test_lr_schedule(step, expected):
    assert lr_at(step, 100, 1.0, 10, 0.1) == pytest.approx(expected)


def test_tiny_end_to_end_run_writes_checkpoint_and_report(trained):
    for name in ("model.pt", "config.yaml", "meta.json", "report.md", "metrics.json", "losses.png"):
        assert (trained / name).is_file(), name
    meta = json.loads((trained / "meta.json").read_text())
    assert meta["languages"] == ["de", "en"] and meta["holdout_languages"] == ["fr"]
    assert meta["trim"] is True and "trim_db" not in meta
    assert json.loads((trained.parent / "baseline" / "meta.json").read_text())["trim"] is True
    assert {"dev", "holdout"} <= set(meta["final_scores"])
    assert (trained.parent / "ckpt-003" / "optim.pt").is_file()
    log = [json.loads(x) for x in (trained.parent / "log.jsonl").read_text().splitlines()]
    assert {"infonce", "supcon", "ce", "adv", "total"} <= set(log[0])
    model, cfg, _ = load_stage1(trained, "cpu")
    assert not model.training and cfg.data.holdout_languages == ["fr"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "sections",
    [
        {},
        {"features": {"kind": "egemaps"}, "model": {"encoder": "mlp"}, "eval": {"predict": "fused"}},
    ],
    ids=["conformer-logmel", "mlp-egemaps"],
)
def test_learns_the_synthetic_cues_on_an_unseen_language(shards, tmp_path, sections):
    cfg = tiny_config(
        shards,
        tmp_path,
        data={"holdout_languages": ["fr"]},
        optim={"epochs": 12, "lr": 3e-3},
        augment={"enabled": False},
        **sections,
    )
    final = train_stage1(cfg, progress=False)
    scores = json.loads((final / "meta.json").read_text())["final_scores"]
    assert scores["holdout"]["ua"] > 0.45  # chance is 1/7


def test_seeded_runs_and_resume_are_deterministic(shards, tmp_path):
    straight = Stage1Trainer(tiny_config(shards, tmp_path / "a", optim={"epochs": 2}), progress=False)
    straight.run()
    interrupted = Stage1Trainer(tiny_config(shards, tmp_path / "b", optim={"epochs": 2}), progress=False)
    assert interrupted.run(stop_after=1).name == "ckpt-001"
    resumed = Stage1Trainer(
        tiny_config(shards, tmp_path / "b", optim={"epochs": 2}), resume=tmp_path / "b" / "ckpt-001", progress=False
    )
    assert resumed.epoch == 1
    resumed.run()
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)
    other = Stage1Trainer(tiny_config(shards, tmp_path / "c", seed=1, optim={"epochs": 1}), progress=False)
    other.run()
    assert not torch.allclose(other.model.head[-1].weight, straight.model.head[-1].weight)


def test_report_names_a_configured_corpus_that_is_missing(trained, tmp_path):
    import shutil

    from m5ser.train.config import load_config
    from m5ser.train.report import write_report

    final = Path(shutil.copytree(trained, tmp_path / "final"))
    cfg = load_config(final / "config.yaml", [f"out_dir={tmp_path}"])
    cfg.eval.corpora = [str(tmp_path / "nowhere")]
    report = write_report(final, cfg, None)
    assert f"not evaluated (no such folder): {tmp_path / 'nowhere'}" in report.read_text(encoding="utf-8")
    assert json.loads((final / "metrics.json").read_text())["real"] == {}


def test_weight_averaging_keeps_the_mean_of_the_last_epochs_across_a_resume(shards, tmp_path):
    def config(out):
        return tiny_config(shards, out, optim={"epochs": 3, "average_epochs": 2})

    straight = Stage1Trainer(config(tmp_path / "a"), progress=False)
    final = straight.run()
    epochs = [torch.load(tmp_path / "a" / f"ckpt-00{e}" / "model.pt", weights_only=True) for e in (2, 3)]
    averaged = torch.load(final / "model.pt", weights_only=True)
    name = "head.0.weight" if "head.0.weight" in averaged else next(k for k in averaged if k.endswith("weight"))
    assert not torch.allclose(epochs[0][name], epochs[1][name])
    assert torch.allclose(averaged[name], (epochs[0][name] + epochs[1][name]) / 2, atol=1e-6)
    assert json.loads((final / "meta.json").read_text())["averaged_epochs"] == 2
    assert not (tmp_path / "a" / "ckpt-001" / "average.pt").exists()

    interrupted = Stage1Trainer(config(tmp_path / "b"), progress=False)
    interrupted.run(stop_after=2)
    resumed = Stage1Trainer(config(tmp_path / "b"), resume=tmp_path / "b" / "ckpt-002", progress=False)
    again = torch.load(resumed.run() / "model.pt", weights_only=True)
    assert all(torch.allclose(again[k].float(), averaged[k].float(), atol=1e-6) for k in averaged)


def test_average_epochs_beyond_the_run_is_refused(shards, tmp_path):
    with pytest.raises(ValueError, match="average_epochs"):
        tiny_config(shards, tmp_path, optim={"epochs": 2, "average_epochs": 3})

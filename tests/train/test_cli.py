import json

import yaml
from typer.testing import CliRunner

from m5ser.train.cli import app


def test_train_then_eval_prints_one_json_object(shards, corpus, tmp_path):
    cfg = {
        "out_dir": str(tmp_path / "run"),
        "baseline": False,
        "data": {"source": str(shards), "languages": ["en"]},
        "model": {"d_model": 16, "n_layers": 1, "n_heads": 2, "embed_dim": 16, "joint_dim": 16},
        "optim": {"epochs": 1, "batch_size": 8},
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    runner = CliRunner()
    res = runner.invoke(app, ["train", "stage1", "--config", str(path), "--quiet", "--set", "text.encoder=e5"])
    assert res.exit_code == 0, res.output
    final = tmp_path / "run" / "final"
    res = runner.invoke(app, ["eval", "--checkpoint", str(final), "--corpus", str(corpus), "--norm", "speaker"])
    assert res.exit_code == 0, res.output
    result = json.loads(res.stdout.strip())
    assert result["norm"] == "speaker" and result["n_ignored"] == 6
    assert (final / "eval" / f"{corpus.name}_confusion.png").is_file()
    res = runner.invoke(app, ["eval", "--checkpoint", str(final), "--corpus", str(corpus), "--norm", "utterance"])
    assert res.exit_code != 0

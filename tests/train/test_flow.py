"""The Prefect flow `train-m5ser` on a tiny config, under a throw-away Prefect backend."""

import os

import pytest
import yaml

prefect = pytest.importorskip("prefect")


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    os.environ.setdefault("PREFECT_HOME", str(tmp_path_factory.mktemp("prefect")))
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness():
        yield


@pytest.mark.slow
def test_train_flow_runs_and_evaluates(harness, shards, corpus, tmp_path):
    from flows.train import train_m5ser

    cfg = {
        "out_dir": str(tmp_path / "run"),
        "data": {"source": str(shards), "languages": ["en"]},
        "model": {"d_model": 16, "n_layers": 1, "n_heads": 2, "embed_dim": 16, "joint_dim": 16},
        "optim": {"epochs": 1, "batch_size": 8},
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = train_m5ser(str(path), corpora=[str(corpus)], norms=["corpus", "speaker"])
    assert result["final"].endswith("final")
    assert {(r["system"], r["norm"]) for r in result["eval"]} == {
        ("model", "corpus"),
        ("model", "speaker"),
        ("baseline", "corpus"),
        ("baseline", "speaker"),
    }

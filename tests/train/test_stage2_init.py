"""Stage 2 starting from stage 1 (`init_from`) and the shared-prefix label scoring, on tiny models."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from m5ser.train.data import Clip
from m5ser.train.stage2.config import config_from_dict
from m5ser.train.stage2.init import init_from_stage1
from m5ser.train.stage2.train import build_model, evaluate_clips, evaluation_scores, train_stage2
from m5ser.train.testing import EMOTIONS_FILE, emotional_signal, repo_labels

from .conftest import tiny_config, with_sections

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = ROOT / "prompts" / "stage2"
LABELS = repo_labels()


@pytest.fixture(scope="module")
def stage1(tiny, shards, tmp_path_factory) -> Path:
    """A stage-1 checkpoint trained on the HF Whisper encoder path (tiny Whisper, frozen)."""
    from m5ser.train.trainer import train_stage1

    torch.manual_seed(0)
    cfg = tiny_config(
        shards,
        tmp_path_factory.mktemp("stage1"),
        data={"languages": ["en"]},
        features={"kind": "waveform"},
        augment={"enabled": False},
        model={"encoder": "whisper", "hf_path": str(tiny["whisper"]), "embed_dim": 16, "joint_dim": 16},
        text={"encoder": "none"},
        loss={"infonce": 0.0, "adv": 0.0},
        optim={"epochs": 2, "batch_size": 7, "lr": 5e-2, "warmup_steps": 0},
    )
    return train_stage1(cfg, progress=False)


def _cfg(tiny, arch="llama", **extra):
    raw = {
        "encoder": {"path": str(tiny["whisper"])},
        "llm": {"path": str(tiny[arch]), "mode": "lora"},
        "connector": {"kind": "projector", "hidden": 32, "dropout": 0.0},
        "prompts": {"dir": str(PROMPTS)},
        "data": {"emotions_file": str(EMOTIONS_FILE)},
        "optim": {"epochs": 1, "batch_size": 7},
    }
    return config_from_dict(with_sections(raw, extra))


def _stage1_weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint / "model.pt", map_location="cpu", weights_only=True)


def test_init_from_copies_stage1_layer_weighting_and_records_it(tiny, stage1, shards, tmp_path, caplog):
    theirs = _stage1_weights(stage1)["encoder.layer_weights"]
    assert not torch.allclose(theirs, torch.zeros_like(theirs))  # stage 1 moved its mix
    cfg = _cfg(
        tiny,
        out_dir=str(tmp_path / "run"),
        init_from=str(stage1),
        data={"source": str(shards), "languages": ["en"], "max_clips_per_lang": 7},
        optim={"max_steps": 1, "lr": 0.0, "llm_lr": 0.0},
    )
    with caplog.at_level(logging.INFO, logger="m5ser.train.stage2.init"):
        final = train_stage2(cfg)
    assert f"stage 2 starts from {stage1}" in caplog.text
    record = json.loads((final / "meta.json").read_text())["init_from"]
    assert record["checkpoint"] == str(stage1) and record["whisper"] == "weights in model.pt equal"
    assert record["copied"] == {"encoder.layer_weights": [3]}
    assert "encoder.out.weight" in record["skipped"] and "encoder.pool.att.0.weight" in record["skipped"]
    # lr 0: the saved stage-2 mix is stage 1's
    saved = torch.load(final / "connector.pt", map_location="cpu")["encoder.layer_weights"]
    assert torch.allclose(torch.softmax(saved, 0), torch.softmax(theirs, 0), atol=1e-6)
    # the checkpoint's label scores (for a closed-set evaluation) agree with its answers
    rng = np.random.default_rng(3)
    clips = [Clip(f"e{i}", emotional_signal(LABELS[i], 150.0, rng, 0.7), LABELS[i], "en", "s") for i in range(3)]
    scores, labels = evaluation_scores(final, clips, "cpu")
    assert scores.shape == (3, len(LABELS)) and labels == LABELS
    assert evaluate_clips(final, clips, "cpu") == [labels[i] for i in scores.argmax(1)]


def test_init_from_refuses_another_whisper_or_a_non_whisper_stage1(tiny, stage1, tmp_path):
    model = build_model(_cfg(tiny, encoder={"path": str(tiny["other"])}), LABELS, torch.device("cpu"))
    with pytest.raises(ValueError, match=r"its Whisper .* is not stage 2's encoder\.path=.*other.*differs"):
        init_from_stage1(model, stage1, str(tiny["other"]))
    model = build_model(_cfg(tiny), LABELS, torch.device("cpu"))
    logmel = _fake_stage1(tmp_path / "logmel", {"kind": "logmel"}, {"encoder": "conformer"}, {"encoder.x": 1})
    with pytest.raises(ValueError, match=r"stage 1 uses no Whisper \(model\.encoder='conformer'"):
        init_from_stage1(model, logmel, str(tiny["whisper"]))
    (tmp_path / "s2").mkdir()
    (tmp_path / "s2" / "meta.json").write_text('{"kind": "stage2"}')
    with pytest.raises(ValueError, match="a 'stage2' checkpoint, not a stage-1 one"):
        init_from_stage1(model, tmp_path / "s2", str(tiny["whisper"]))
    with pytest.raises(FileNotFoundError, match=r"no meta\.json"):
        init_from_stage1(model, tmp_path / "missing", str(tiny["whisper"]))


def _fake_stage1(folder: Path, features: dict, model: dict, state: dict[str, object]) -> Path:
    """The files of a stage-1 checkpoint that `init_from` reads (meta.json, config.yaml, model.pt)."""
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text('{"kind": "stage1"}')
    (folder / "config.yaml").write_text(yaml.safe_dump({"features": features, "model": model}))
    torch.save({k: torch.as_tensor(v, dtype=torch.float32) for k, v in state.items()}, folder / "model.pt")
    return folder


def test_init_from_cached_whisper_features_maps_the_chosen_layers(tiny, tmp_path):
    # the layout of a stage 1 on cached Whisper features: the Whisper is named, not stored
    model = build_model(_cfg(tiny), LABELS, torch.device("cpu"))
    weights = [0.5, -1.0]
    feats = {"kind": "whisper", "whisper_model": str(tiny["whisper"]), "layers": [2, 1]}
    ckpt = _fake_stage1(tmp_path / "a", feats, {"encoder": "mlp"}, {"encoder.layer_weights": weights})
    record = init_from_stage1(model, ckpt, str(tiny["whisper"]))
    assert record["whisper"] == f"same name {tiny['whisper']}" and record["layers"] == [2, 1]
    mix = torch.softmax(model.encoder.layer_weights.detach(), 0)
    expected = torch.softmax(torch.tensor(weights), 0)
    assert torch.allclose(mix[[2, 1]], expected, atol=1e-6) and float(mix[0]) < 1e-9
    # the same Whisper by another spelling of its folder: compared by folder
    record = init_from_stage1(model, ckpt, str(tiny["whisper"]) + "/")
    assert record["whisper"].startswith("same folder")
    other = _fake_stage1(
        tmp_path / "b", {**feats, "whisper_model": str(tiny["other"])}, {}, {"encoder.layer_weights": weights}
    )
    with pytest.raises(ValueError, match=r"\(features\.whisper_model\) is not stage 2's encoder\.path"):
        init_from_stage1(model, other, str(tiny["whisper"]))
    # concatenated (or single) layers: stage 2 starts on exactly those states, equally mixed
    concat = _fake_stage1(tmp_path / "c", feats, {"layer_mix": "concat"}, {"encoder.net.1.weight": [[1.0]]})
    record = init_from_stage1(model, concat, str(tiny["whisper"]))
    mix = torch.softmax(model.encoder.layer_weights.detach(), 0)
    assert record["copied"] == {"features.layers": [2, 1]}
    assert torch.allclose(mix[[1, 2]], torch.tensor([0.5, 0.5]), atol=1e-6) and float(mix[0]) < 1e-9
    every = {**feats, "layers": []}
    bad = _fake_stage1(tmp_path / "d", every, {"layer_mix": "concat"}, {"encoder.net.1.weight": [[1.0]]})
    with pytest.raises(ValueError, match=r"nothing to copy .*layer_mix='concat'"):
        init_from_stage1(model, bad, str(tiny["whisper"]))


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
@pytest.mark.parametrize("kind", ["qformer", "projector"])
def test_shared_prefix_scores_equal_per_label_scores(tiny, arch, kind):
    torch.manual_seed(0)
    cfg = _cfg(tiny, arch, connector={"kind": kind, "n_queries": 4, "n_heads": 2})
    model = build_model(cfg, LABELS, torch.device("cpu")).eval()
    rng = np.random.default_rng(0)
    # clips of different lengths and prompt languages: prefixes of different lengths (left padding)
    audios = [emotional_signal(LABELS[i], 150.0, rng, 0.5 + 0.4 * i) for i in range(3)]
    keys, langs = ["a", "b", "c"], ["en", "zh", "xx"]
    shared = model.label_scores(keys, audios, langs)
    per_label = model.label_scores(keys, audios, langs, shared_prefix=False)
    assert shared.shape == (3, len(LABELS)) and bool(torch.isfinite(shared).all())
    assert torch.allclose(shared, per_label, atol=1e-4), (shared - per_label).abs().max()
    assert max(len(a) for a in model.answers) >= 2  # the cached path scores answer tokens after the first

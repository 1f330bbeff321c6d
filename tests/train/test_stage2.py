"""Stage 2 on tiny random models built locally: the switches train, answers are labels, the
checkpoint round-trips through `m5ser train stage2` and `m5ser eval`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from m5ser.train.data import Clip
from m5ser.train.stage2.config import config_from_dict, load_config
from m5ser.train.stage2.prompts import load_prompts
from m5ser.train.stage2.train import build_model, fit, load_stage2
from m5ser.train.testing import EMOTIONS_FILE, emotional_signal, repo_labels

from .conftest import with_sections

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = ROOT / "prompts" / "stage2"
LABELS = repo_labels()


@pytest.fixture(scope="module")
def clips() -> list[Clip]:
    rng = np.random.default_rng(0)
    langs = ("en", "de", "zh")  # zh: a prompt language; xx below falls back to en
    return [
        Clip(f"c{i}", emotional_signal(LABELS[i % 7], 150.0, rng, 0.8), LABELS[i % 7], langs[i % 3], "s")
        for i in range(14)
    ]


def _cfg(tiny, arch="llama", mode="lora", kind="qformer", **extra):
    raw = {
        "encoder": {"path": str(tiny["whisper"])},
        "llm": {"path": str(tiny[arch]), "mode": mode},
        "connector": {"kind": kind, "n_queries": 4, "n_heads": 2, "hidden": 64, "dropout": 0.0},
        "prompts": {"dir": str(PROMPTS)},
        "data": {"emotions_file": str(EMOTIONS_FILE)},
        "optim": {"epochs": 4, "batch_size": 7, "lr": 1e-2, "llm_lr": 1e-2},
    }
    return config_from_dict(with_sections(raw, extra))


def _eval_loss(model, clips) -> float:
    model.eval()
    with torch.no_grad():
        return model.loss(
            [c.id for c in clips], [c.audio for c in clips], [c.emotion for c in clips], [c.lang for c in clips], None
        ).item()


def _llm_base_weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.llm.named_parameters() if "lora_" not in k}


@pytest.mark.parametrize("mode", ["frozen", "lora", "full"])
@pytest.mark.parametrize("kind", ["qformer", "projector"])
def test_steps_lower_the_loss_and_train_only_what_the_mode_says(tiny, clips, mode, kind):
    torch.manual_seed(0)
    epochs = 8 if mode == "frozen" else 4  # speech tokens alone move a random frozen LM slowly
    cfg = _cfg(tiny, mode=mode, kind=kind, optim={"epochs": epochs})
    model = build_model(cfg, LABELS, torch.device("cpu"))
    base = _llm_base_weights(model)
    connector = {k: v.clone() for k, v in model.connector.state_dict().items()}
    before = _eval_loss(model, clips)
    losses = fit(model, clips, cfg)
    after = _eval_loss(model, clips)
    assert len(losses) == 2 * epochs and after < before - 0.01, (before, after)
    changed = {k for k, v in _llm_base_weights(model).items() if not torch.equal(v, base[k])}
    lora = [p for k, p in model.llm.named_parameters() if "lora_" in k]
    assert (mode == "full") == bool(changed)  # frozen and LoRA leave the base LLM untouched
    assert (mode == "lora") == bool(lora) and all(p.requires_grad for p in lora)
    assert any(not torch.equal(v, model.connector.state_dict()[k]) for k, v in connector.items())
    tokens, tmask = model.speech_tokens([clips[0].id], [clips[0].audio])
    if kind == "qformer":
        assert tokens.shape[1] == cfg.connector.n_queries and bool(tmask.all())
    else:  # 0.8 s -> 40 Whisper frames -> 10 stacked tokens
        assert int(tmask.sum()) == 10
    assert tokens.shape[-1] == model.llm.get_input_embeddings().weight.shape[1]


def test_gemma3_architecture_trains_and_predicts_labels_only(tiny, clips):
    torch.manual_seed(0)
    cfg = _cfg(tiny, arch="gemma3", mode="lora")
    model = build_model(cfg, LABELS, torch.device("cpu"))
    before = _eval_loss(model, clips)
    fit(model, clips, cfg)
    assert _eval_loss(model, clips) < before
    preds = model.predict([c.id for c in clips], [c.audio for c in clips], ["en", "xx"] * 7)
    assert len(preds) == len(clips) and set(preds) <= set(LABELS)
    scores = model.label_scores([clips[0].id], [clips[0].audio], ["fr"])
    assert scores.shape == (1, len(LABELS)) and bool((scores < 0).all())
    # batching (left padding of prompts of other lengths) does not change a clip's scores
    long = np.concatenate([clips[1].audio, clips[2].audio])
    batched = model.label_scores([clips[0].id, "long"], [clips[0].audio, long], ["fr", "zh"])
    assert torch.allclose(batched[0], scores[0], atol=1e-4)


def test_config_errors_name_the_key(tmp_path, tiny):
    with pytest.raises(ValueError, match=r"llm\.mdoe: unknown key \(known: "):
        config_from_dict({"llm": {"mdoe": "lora"}})
    with pytest.raises(ValueError, match=r"connector\.kind='mlp'"):
        config_from_dict({"connector": {"kind": "mlp"}})
    with pytest.raises(ValueError, match="unknown stage-2 config key"):
        config_from_dict({"model": {}})
    path = tmp_path / "c.yaml"
    path.write_text("llm: {mode: half}\n")
    with pytest.raises(ValueError, match=r"c\.yaml: llm\.mode='half'"):
        load_config(path)
    assert load_config(ROOT / "manifests" / "train" / "stage2.yaml").llm.path == "store:gemma-3-270m"


def test_prompt_files_are_valid_and_errors_name_the_file(tmp_path):
    prompts = load_prompts(PROMPTS)
    assert {"en", "de", "fr", "es", "it", "zh"} <= set(prompts)
    (tmp_path / "xx.yaml").write_text("lang: xx\ninstructions: ['no placeholder']\n")
    with pytest.raises(ValueError, match=r"xx\.yaml: instructions\[0\]"):
        load_prompts(tmp_path)


def test_cli_train_then_eval_on_a_corpus(tiny, shards, corpus, tmp_path):
    from m5ser.train.cli import app

    raw = {
        "out_dir": str(tmp_path / "run"),
        "data": {
            "source": str(shards),
            "languages": ["en", "de"],
            "max_clips_per_lang": 7,
            "emotions_file": str(EMOTIONS_FILE),
        },
        "encoder": {"path": str(tiny["whisper"])},
        "llm": {"path": str(tiny["llama"]), "mode": "lora"},
        "connector": {"kind": "projector", "hidden": 32},
        "prompts": {"dir": str(PROMPTS)},
        "optim": {"epochs": 1, "batch_size": 7},
    }
    path = tmp_path / "s2.yaml"
    path.write_text(yaml.safe_dump(raw))
    runner = CliRunner()
    res = runner.invoke(app, ["train", "stage2", "--config", str(path), "--set", "optim.max_steps=2"])
    assert res.exit_code == 0, res.output
    final = tmp_path / "run" / "final"
    assert (final / "adapter").is_dir() and (final / "config.yaml").is_file()
    assert len((tmp_path / "run" / "log.jsonl").read_text().splitlines()) == 2
    res = runner.invoke(app, ["eval", "--checkpoint", str(final), "--corpus", str(corpus)])
    assert res.exit_code == 0, res.output
    result = json.loads(res.stdout.strip())
    assert result["predict"] == "llm" and result["n"] == 24 and result["n_ignored"] == 6
    assert set(result["labels"]) == set(LABELS) and np.asarray(result["confusion"]).sum() == result["n"]
    # the saved checkpoint reproduces the trained model's scores
    model, cfg, meta = load_stage2(final, "cpu")
    assert meta["kind"] == "stage2" and cfg.llm.mode == "lora"
    a = model.label_scores(["k"], [np.zeros(8000, np.float32) + 0.01], ["en"])
    b = load_stage2(final, "cpu")[0].label_scores(["k"], [np.zeros(8000, np.float32) + 0.01], ["en"])
    assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize(("mode", "freeze"), [("frozen", True), ("full", False)])
def test_checkpoint_round_trip_reproduces_scores(tiny, clips, tmp_path, mode, freeze):
    from m5ser.train.stage2.train import save_stage2

    cfg = _cfg(tiny, mode=mode, encoder={"freeze": freeze}, optim={"epochs": 1})
    model = build_model(cfg, LABELS, torch.device("cpu"))
    fit(model, clips, cfg)
    path = save_stage2(tmp_path / "ckpt", model, cfg, {"steps": 2})
    assert (path / "llm").is_dir() == (mode == "full") and not (path / "adapter").exists()
    loaded, _, meta = load_stage2(path, "cpu")
    keys, audios = [c.id for c in clips[:2]], [c.audio for c in clips[:2]]
    model.eval()
    assert meta["labels"] == list(LABELS)
    assert torch.allclose(
        model.label_scores(keys, audios, ["en", "de"]), loaded.label_scores(keys, audios, ["en", "de"]), atol=1e-4
    )


def test_resume_after_an_epoch_matches_an_uninterrupted_run(tiny, shards, tmp_path):
    from m5ser.train.stage2.train import resume_stage2, train_stage2

    def cfg(out, epochs):
        return _cfg(
            tiny,
            kind="projector",
            out_dir=str(out),
            data={"source": str(shards), "languages": ["en"], "max_clips_per_lang": 7},
            llm={"lora_dropout": 0.0},
            optim={"epochs": epochs},
        )

    straight = train_stage2(cfg(tmp_path / "a", 2))
    train_stage2(cfg(tmp_path / "b", 1))
    # the config of the interrupted run said 2 epochs: edit it as a user would, then resume
    last = tmp_path / "b" / "last"
    (last / "config.yaml").write_text((last / "config.yaml").read_text().replace("epochs: 1", "epochs: 2"))
    resumed = resume_stage2(last)
    assert json.loads((resumed / "meta.json").read_text())["steps"] == 2
    audio = [np.sin(np.arange(8000, dtype=np.float32) / 9)]
    a = load_stage2(straight, "cpu")[0].label_scores(["x"], audio, ["en"])
    b = load_stage2(resumed, "cpu")[0].label_scores(["x"], audio, ["en"])
    assert torch.allclose(a, b, atol=1e-4)
    with pytest.raises(ValueError, match=r"no optim\.pt"):
        resume_stage2(resumed)

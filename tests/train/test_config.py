from pathlib import Path

import pytest

from m5ser.train.config import Stage1Config, apply_overrides, config_from_dict, load_config, save_config

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_validate():
    assert Stage1Config().validate().features.kind == "logmel"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"features": {"kind": "mfcc"}}, "features.kind"),
        ({"features": {"norm": "utterance"}}, "features.norm"),
        ({"model": {"encoder": "wav2vec2"}}, "needs features.kind=waveform"),
        ({"model": {"encoder": "wav2vec2"}, "features": {"kind": "waveform"}}, "needs model.hf_path"),
        ({"model": {"encoder": "mlp"}}, "mlp needs features.kind in"),
        ({"text": {"encoder": "none"}}, "text.encoder=none"),
        ({"text": {"trainable": True}}, "only supported for text.encoder=minilm"),
        ({"data": {"languages": ["en"], "holdout_languages": ["en"]}}, "both trained on and held out"),
        ({"loss": {"adv": -1}}, "loss.adv"),
        ({"loss": {"ce": 0}}, "CE head"),
        ({"optim": {"batch_size": 1}}, "batch_size"),
        ({"augment": {"speed": [1.1, 0.9]}}, "augment.speed"),
        ({"bogus": 1}, r"unknown stage-1 config key\(s\): \[.bogus.\]"),
        ({"model": {"widht": 3}}, "unknown key"),
        ({"data": {"trim_db": 40.0}}, "data.trim_db was replaced by data.trim"),
        ({"data": {"trim": 40.0}}, r"data\.trim: expected true or false"),
    ],
)
def test_invalid_configs_raise(raw, message):
    with pytest.raises(ValueError, match=message):
        config_from_dict(raw)


def test_overrides_and_roundtrip(tmp_path):
    cfg = config_from_dict(apply_overrides({}, ["optim.epochs=3", "data.languages=[en, de]", "seed=7"]))
    assert (cfg.optim.epochs, cfg.data.languages, cfg.seed) == (3, ["en", "de"], 7)
    save_config(cfg, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == cfg


@pytest.mark.parametrize("path", sorted((ROOT / "manifests/train").glob("*.yaml")), ids=lambda p: p.name)
def test_checked_in_configs_load(path):
    if path.name.startswith("stage2"):  # a stage-2 config has its own sections
        from m5ser.train.stage2.config import load_config as load_stage2

        load_stage2(path)
    else:
        load_config(path)

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from m5ser.train.checkpoint import load_stage1
from m5ser.train.data import load_unlabeled
from m5ser.train.domain import band_limit
from m5ser.train.testing import emotional_signal
from m5ser.train.trainer import Stage1Trainer

from .conftest import tiny_config


def write_unlabeled(root: Path, rate: int, seconds: tuple[float, ...], seed: int = 0) -> Path:
    """Neutral tone clips at `rate` Hz, some in a subfolder, one FLAC, plus a file that is not audio."""
    rng = np.random.default_rng(seed)
    (root / "sub").mkdir(parents=True, exist_ok=True)
    for i, s in enumerate(seconds):
        x = emotional_signal("neutral", 180.0, rng, s, rate)
        path = root / ("sub" if i % 2 else "") / f"prompt-{i}.{'flac' if i == 1 else 'wav'}"
        sf.write(path, x, rate, subtype="PCM_16")
    (root / "README.txt").write_text("not audio", encoding="utf-8")
    return root


def test_unlabeled_folder_is_read_recursively_without_short_clips(tmp_path):
    root = write_unlabeled(tmp_path / "prompts", 8000, (1.5, 2.0, 0.4, 1.2))
    found = load_unlabeled(root)
    assert len(found.clips) == 3 and found.native_rate == 8000 and found.name == str(root) and found.n_short == 1
    assert all(c.dtype == np.float32 and len(c) >= 16000 for c in found.clips)
    assert len(load_unlabeled(root, max_clips=2, seed=3).clips) == 2
    with pytest.raises(ValueError, match="no audio file of at least 5"):
        load_unlabeled(root, min_duration_s=5.0)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_unlabeled(tmp_path / "nowhere")


def test_band_limit_removes_the_upper_band_and_keeps_the_length():
    x = np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32)
    y = band_limit(x, 8000)
    spectrum = lambda s: np.abs(np.fft.rfft(s)) ** 2  # noqa: E731
    upper = np.fft.rfftfreq(len(x), 1 / 16000) > 4400
    assert len(y) == len(x)
    assert spectrum(y)[upper].sum() < 1e-3 * spectrum(x)[upper].sum()
    assert np.array_equal(band_limit(x, 16000), x)


def test_domain_gradient_reaches_the_encoder_reversed(shards, tmp_path):
    cfg = tiny_config(
        shards,
        tmp_path,
        features={"kind": "egemaps"},
        model={"encoder": "mlp"},
        loss={"domain": 1.0},
        data={"unlabeled": [str(tmp_path)]},
    )
    from m5ser.train.checkpoint import build_stage1

    meta = {"in_dim": 8, "labels": ["a", "b"], "speakers": ["s1", "s2"], "text_dim": 0, "anchors": None}
    model = build_stage1(cfg, meta)
    x = torch.randn(6, 8)
    target = torch.tensor([0.0, 0, 0, 1, 1, 1])

    def grads(lam: float) -> tuple[torch.Tensor, torch.Tensor]:
        model.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model.domain_logits(x, None, lam), target)
        loss.backward()
        encoder = next(p for p in model.encoder.parameters() if p.grad is not None)
        return encoder.grad.clone(), model.domain_head[-1].weight.grad.clone()

    model.eval()  # no dropout: the two passes see the same network
    enc_plus, head_plus = grads(1.0)
    enc_minus, head_minus = grads(-1.0)
    assert enc_plus.abs().sum() > 0
    assert torch.allclose(enc_plus, -enc_minus) and torch.allclose(head_plus, head_minus)


def test_training_with_the_domain_adversary_logs_it_and_saves_a_loadable_model(shards, tmp_path):
    real = [write_unlabeled(tmp_path / "a", 8000, (1.5, 2.0, 1.2)), write_unlabeled(tmp_path / "b", 16000, (1.1, 1.3))]
    cfg = tiny_config(
        shards,
        tmp_path / "run",
        features={"kind": "egemaps"},
        model={"encoder": "mlp"},
        loss={"domain": 0.5},
        data={"unlabeled": [str(p) for p in real]},
    )
    final = Stage1Trainer(cfg, progress=False).run()
    meta = json.loads((final / "meta.json").read_text())
    assert meta["domain"] == {
        "unlabeled_clips": {str(real[0]): 3, str(real[1]): 2},
        "unlabeled_too_short": {str(real[0]): 0, str(real[1]): 0},
        "band_rate": 8000,
    }
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert all(0 < row["domain"] < 5 for row in log)
    model, _, _ = load_stage1(final, "cpu")
    assert model.domain_head is not None


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"loss": {"domain": 0.5}}, "data.unlabeled"),
        ({"loss": {"domain": 0.5}, "data": {"unlabeled": ["x"]}}, "loss.domain needs features.kind"),
    ],
)
def test_domain_adversary_settings_are_checked(shards, tmp_path, sections, message):
    with pytest.raises(ValueError, match=message):
        tiny_config(shards, tmp_path, **sections)

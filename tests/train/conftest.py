"""Fixtures for the training tests: tiny shards, a tiny corpus, a tiny trained checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from m5ser.train.config import config_from_dict
from m5ser.train.testing import write_corpus, write_shards

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shards(tmp_path_factory) -> Path:
    return write_shards(tmp_path_factory.mktemp("shards"), languages=("en", "de", "fr"), splits={"train": 3, "dev": 1})


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus"), missing=1)


def tiny_config(source: Path, out: Path, **sections) -> object:
    """A config small enough to train in a couple of seconds on one CPU thread."""
    raw = {
        "out_dir": str(out),
        "baseline": False,
        "data": {"source": str(source), "emotions_file": str(ROOT / "manifests/emotions.yaml")},
        "text": {"prompts_dir": str(ROOT / "prompts/emotions")},
        "model": {"d_model": 32, "n_layers": 1, "n_heads": 2, "embed_dim": 32, "joint_dim": 32},
        "optim": {"epochs": 2, "batch_size": 16, "warmup_steps": 2},
    }
    return config_from_dict(with_sections(raw, sections))


def with_sections(raw: dict, sections: dict) -> dict:
    """`raw` with each dict in `sections` merged into its section; other values replace."""
    for key, value in sections.items():
        if isinstance(value, dict):
            raw.setdefault(key, {}).update(value)
        else:
            raw[key] = value
    return raw


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> dict[str, Path]:
    """Tiny random stage-2 models built locally: two different Whispers, a Llama and a Gemma 3."""
    from m5ser.train.stage2.tiny import tiny_llm, tiny_whisper
    from m5ser.train.testing import repo_labels

    root = tmp_path_factory.mktemp("tiny2")
    prompts, labels = ROOT / "prompts" / "stage2", repo_labels()
    torch.manual_seed(1)
    paths = {"whisper": tiny_whisper(root / "whisper"), "other": tiny_whisper(root / "other")}
    paths["llama"] = tiny_llm(root / "llama", prompts, labels, "llama")
    paths["gemma3"] = tiny_llm(root / "gemma3", prompts, labels, "gemma3")
    return paths


@pytest.fixture(scope="session")
def trained(shards, tmp_path_factory) -> Path:
    """Final checkpoint of a tiny run with a held-out language and the eGeMAPS baseline."""
    from m5ser.train.trainer import train_stage1

    out = tmp_path_factory.mktemp("run")
    torch.set_num_threads(1)
    cfg = tiny_config(shards, out, baseline=True, data={"holdout_languages": ["fr"]}, optim={"epochs": 3})
    return train_stage1(cfg, progress=False)

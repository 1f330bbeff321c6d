"""Checkpoint folders: `config.yaml` + `meta.json` + `model.pt` (+ `optim.pt`, `rng.pt` for
resume, `encoder/` for HF encoders). A folder alone is enough to evaluate or resume.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import HF_ENCODERS, Stage1Config, load_config, save_config
from .encoders import build_encoder
from .model import Stage1Model

META = "meta.json"


def resolve_device(name: str) -> torch.device:
    """auto -> CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def load_meta(path: str | Path) -> dict[str, Any]:
    """The meta.json of a checkpoint folder, with a clear error when it is not one."""
    file = Path(path) / META
    if not file.is_file():
        raise FileNotFoundError(f"not a checkpoint folder (no {META}): {path}")
    return json.loads(file.read_text(encoding="utf-8"))


def save_stage1(
    path: str | Path,
    model: Stage1Model,
    cfg: Stage1Config,
    meta: dict[str, Any],
    optimizer: torch.optim.Optimizer | None = None,
    rng: np.random.Generator | None = None,
) -> Path:
    """Write a self-contained stage-1 checkpoint folder."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    save_config(cfg, path / "config.yaml")
    (path / META).write_text(json.dumps({"kind": "stage1", **meta}, indent=2), encoding="utf-8")
    torch.save(model.state_dict(), path / "model.pt")
    if cfg.model.encoder in HF_ENCODERS:
        model.encoder.save_pretrained(str(path / "encoder"))
    if optimizer is not None:
        torch.save(optimizer.state_dict(), path / "optim.pt")
    if rng is not None:
        torch.save(
            {
                "numpy": rng.bit_generator.state,
                "torch": torch.get_rng_state(),
                "python": random.getstate(),
            },
            path / "rng.pt",
        )
    return path


def build_stage1(cfg: Stage1Config, meta: dict[str, Any], text_encoder: torch.nn.Module | None = None) -> Stage1Model:
    """An untrained model with the shapes recorded in `meta` (input dim, labels, speakers, anchors)."""
    anchors = meta.get("anchors")
    anchor_emb = torch.zeros(len(anchors["text"]), meta["text_dim"]) if anchors else None
    anchor_label = torch.tensor(anchors["label"]) if anchors else None
    return Stage1Model(
        build_encoder(cfg, meta["in_dim"], meta.get("in_blocks", 1)),
        n_labels=len(meta["labels"]),
        n_speakers=len(meta["speakers"]),
        anchor_emb=anchor_emb,
        anchor_label=anchor_label,
        joint_dim=cfg.model.joint_dim,
        dropout=cfg.model.dropout,
        temperature=cfg.loss.temperature,
        text_encoder=text_encoder,
        domain_head=cfg.loss.domain > 0,
    )


def load_stage1(path: str | Path, device: str = "auto") -> tuple[Stage1Model, Stage1Config, dict[str, Any]]:
    """Model (eval mode, on `device`), config and meta of a stage-1 checkpoint; no text encoder
    is needed: the anchor embeddings are stored in the model.
    """
    path = Path(path)
    meta = load_meta(path)
    if meta.get("kind") != "stage1":
        raise ValueError(f"{path} holds a {meta.get('kind')!r} checkpoint, not a stage-1 model")
    cfg = load_config(path / "config.yaml")
    if cfg.model.encoder in HF_ENCODERS:
        cfg.model.hf_path = str(path / "encoder")
    model = build_stage1(cfg, meta)
    state = torch.load(path / "model.pt", map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.startswith("text_encoder.")}
    model.load_state_dict(state)
    return model.to(resolve_device(device)).eval(), cfg, meta

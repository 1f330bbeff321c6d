"""Stage-2 training: build the model, fit the connector (+ LoRA / the LLM), save a self-contained
checkpoint (config.yaml, meta.json, connector.pt, adapter/ or llm/), and load it back."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from m5ser.audio import SAMPLE_RATE
from m5ser.config import load_emotions
from m5ser.models.store import resolve

from ..checkpoint import resolve_device
from ..data import Clip, crop, load_shards
from .config import Stage2Config, config_from_dict, save_config
from .model import SpeechEncoder, SpeechLLM, load_llm

log = logging.getLogger(__name__)
META = "meta.json"


def build_model(
    cfg: Stage2Config,
    labels: tuple[str, ...],
    device: torch.device,
    adapter: str | None = None,
    llm_path: str | None = None,
) -> SpeechLLM:
    """Encoder, connector and LLM from the config's paths (`store:` names resolved offline);
    `adapter` / `llm_path` load a checkpoint's LoRA adapter / full LLM instead."""
    import transformers as tf

    llm_path = llm_path or resolve(cfg.llm.path)
    encoder = SpeechEncoder(resolve(cfg.encoder.path), cfg.encoder.freeze)
    tokenizer = tf.AutoTokenizer.from_pretrained(llm_path)
    llm = load_llm(llm_path, cfg.llm.mode, cfg, device, adapter)
    return SpeechLLM(cfg, labels, encoder, llm, tokenizer).to(device)


def _optimizer(model: SpeechLLM, cfg: Stage2Config) -> torch.optim.Optimizer:
    llm_ids = {id(p) for p in model.llm.parameters()}
    fast = [p for p in model.parameters() if p.requires_grad and id(p) not in llm_ids]
    slow = [p for p in model.llm.parameters() if p.requires_grad]
    groups = [{"params": fast, "lr": cfg.optim.lr}]
    if slow:
        groups.append({"params": slow, "lr": cfg.optim.llm_lr})
    return torch.optim.AdamW(groups, weight_decay=cfg.optim.weight_decay)


def fit(
    model: SpeechLLM,
    clips: Sequence[Clip],
    cfg: Stage2Config,
    log_path: Path | None = None,
    opt: torch.optim.Optimizer | None = None,
    start_epoch: int = 0,
    steps_done: int = 0,
    on_epoch: Callable[[int, int, torch.optim.Optimizer], None] | None = None,
) -> list[float]:
    """Train on `clips` for epochs `start_epoch`..`optim.epochs - 1` (or until `optim.max_steps`
    counting `steps_done`); the loss of every step. Each epoch's order and prompts come from
    its own seeded generator, so a resumed run sees the batches an uninterrupted one would.
    `on_epoch(epoch, steps, opt)` runs after every epoch (checkpointing)."""
    opt = opt or _optimizer(model, cfg)
    trainable = [p for g in opt.param_groups for p in g["params"]]
    losses: list[float] = []
    model.train()
    for epoch in range(start_epoch, cfg.optim.epochs):
        rng = random.Random(f"{cfg.seed}:{epoch}")
        order = list(range(len(clips)))
        rng.shuffle(order)
        for start in range(0, len(order), cfg.optim.batch_size):
            batch = [clips[i] for i in order[start : start + cfg.optim.batch_size]]
            loss = model.loss(
                [c.id for c in batch],
                [c.audio for c in batch],
                [c.emotion for c in batch],
                [c.lang for c in batch],
                rng,
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.optim.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(trainable, cfg.optim.grad_clip)
            opt.step()
            losses.append(loss.item())
            step = steps_done + len(losses)
            if log_path is not None:
                with log_path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps({"step": step, "epoch": epoch, "loss": losses[-1]}) + "\n")
            if cfg.optim.max_steps and step >= cfg.optim.max_steps:
                return losses
        if on_epoch is not None:
            on_epoch(epoch, steps_done + len(losses), opt)
    return losses


def load_clips(cfg: Stage2Config, labels: tuple[str, ...]) -> list[Clip]:
    """The training clips, centre-cropped to `data.max_duration_s`."""
    d = cfg.data
    clips = load_shards(
        d.source, labels, d.train_split, d.languages, d.holdout_languages, d.max_clips_per_lang, d.trim, cfg.seed
    )
    if not clips:
        raise ValueError(f"{d.source}: no {d.train_split} clip with a label in {list(labels)}")
    limit = int(d.max_duration_s * SAMPLE_RATE)
    for c in clips:
        c.audio = crop(c.audio, limit, None)
    return clips


def train_stage2(cfg: Stage2Config) -> Path:
    """Train stage 2 from `cfg`; return the final checkpoint folder (out_dir/final).

    A resumable checkpoint (with optimizer state) is written to out_dir/last after every epoch.
    """
    labels = load_emotions(cfg.data.emotions_file).labels
    clips = load_clips(cfg, labels)
    _seed(cfg)
    model = build_model(cfg, labels, resolve_device(cfg.device))
    init = None
    if cfg.init_from:
        from .init import init_from_stage1

        init = init_from_stage1(model, cfg.init_from, cfg.encoder.path)
    return _run(model, clips, cfg, None, 0, 0, init)


def resume_stage2(checkpoint: str | Path) -> Path:
    """Continue the run of a checkpoint written after an epoch (out_dir/last) to its configured end."""
    checkpoint = Path(checkpoint)
    model, cfg, meta = load_stage2(checkpoint, "auto")
    _seed(cfg)
    if not (checkpoint / "optim.pt").is_file():
        raise ValueError(f"{checkpoint}: no optim.pt; only an epoch checkpoint (out_dir/last) can be resumed")
    clips = load_clips(cfg, model.labels)
    opt = _optimizer(model, cfg)
    opt.load_state_dict(torch.load(checkpoint / "optim.pt", map_location=model.connector_device()))
    return _run(model, clips, cfg, opt, int(meta["epoch"]) + 1, int(meta["steps"]), meta.get("init_from"))


def _seed(cfg: Stage2Config) -> None:
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    if cfg.optim.threads:
        torch.set_num_threads(cfg.optim.threads)


def _run(
    model: SpeechLLM,
    clips: list[Clip],
    cfg: Stage2Config,
    opt,
    start_epoch: int,
    steps_done: int,
    init: dict[str, Any] | None,
) -> Path:
    """Fit, checkpointing to out_dir/last after each epoch; `init` (what `init_from` copied)
    is recorded in every meta.json."""
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if steps_done == 0:  # a fresh run: its log starts empty (a resumed one appends)
        (out / "log.jsonl").unlink(missing_ok=True)
    recorded = {"init_from": init} if init else {}

    def checkpoint(epoch: int, steps: int, optimizer: torch.optim.Optimizer) -> None:
        extra = {"epoch": epoch, "steps": steps, "n_clips": len(clips), **recorded}
        save_stage2(out / "last", model, cfg, extra, optimizer)

    losses = fit(model, clips, cfg, out / "log.jsonl", opt, start_epoch, steps_done, checkpoint)
    if losses:
        log.info("stage 2: %d steps, loss %.4f -> %.4f", len(losses), losses[0], losses[-1])
    extra = {"epoch": cfg.optim.epochs - 1, "steps": steps_done + len(losses), "n_clips": len(clips), **recorded}
    return save_stage2(out / "final", model, cfg, extra)


def save_stage2(
    path: Path,
    model: SpeechLLM,
    cfg: Stage2Config,
    extra: dict[str, Any],
    optimizer: torch.optim.Optimizer | None = None,
) -> Path:
    """A self-contained checkpoint: the LLM weights it changed, the connector, its config and meta
    (+ the optimizer state when given: a resumable checkpoint). meta.json is written last."""
    path.mkdir(parents=True, exist_ok=True)
    (path / META).unlink(missing_ok=True)  # overwritten in place: incomplete until meta.json is back
    save_config(cfg, path / "config.yaml")
    meta = {
        "kind": "stage2",
        "name": cfg.name,
        "labels": list(model.labels),
        "trim": cfg.data.trim,
        "max_duration_s": cfg.data.max_duration_s,
        **extra,
    }
    trained = {k: v for k, v in model.state_dict().items() if not k.startswith(("llm.", "encoder.encoder."))}
    if not cfg.encoder.freeze:
        trained.update({k: v for k, v in model.state_dict().items() if k.startswith("encoder.encoder.")})
    torch.save(trained, path / "connector.pt")
    if cfg.llm.mode == "lora":
        model.llm.save_pretrained(path / "adapter")
    elif cfg.llm.mode == "full":
        model.llm.save_pretrained(path / "llm")
        model.tokenizer.save_pretrained(path / "llm")
    if optimizer is not None:
        torch.save(optimizer.state_dict(), path / "optim.pt")
    (path / META).write_text(json.dumps(meta, indent=2), encoding="utf-8")  # last: marks it complete
    return path


def load_stage2(path: str | Path, device: str = "auto") -> tuple[SpeechLLM, Stage2Config, dict[str, Any]]:
    """A stage-2 checkpoint folder → (model in eval mode, config, meta)."""
    import yaml

    path = Path(path)
    meta = json.loads((path / META).read_text(encoding="utf-8"))
    if meta.get("kind") != "stage2":
        raise ValueError(f"{path}: not a stage-2 checkpoint (kind={meta.get('kind')!r})")
    cfg = config_from_dict(yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8")))
    adapter = str(path / "adapter") if cfg.llm.mode == "lora" else None
    llm_path = str(path / "llm") if cfg.llm.mode == "full" else None
    model = build_model(cfg, tuple(meta["labels"]), resolve_device(device), adapter, llm_path)
    missing = model.load_state_dict(torch.load(path / "connector.pt", map_location="cpu"), strict=False)
    if missing.unexpected_keys:
        raise ValueError(f"{path}/connector.pt: unexpected weights {missing.unexpected_keys[:5]}")
    return model.eval(), cfg, meta


def score_clips(model: SpeechLLM, clips: Sequence[Clip], batch_size: int = 4) -> np.ndarray:
    """(n_clips, n_labels) log-likelihood of each label's answer (columns in `model.labels` order)."""
    model.eval()
    rows = [
        model.label_scores([c.id for c in batch], [c.audio for c in batch], [c.lang for c in batch]).float().cpu()
        for batch in (clips[i : i + batch_size] for i in range(0, len(clips), batch_size))
    ]
    return torch.cat(rows).numpy() if rows else np.zeros((0, len(model.labels)), np.float32)


def predict_clips(model: SpeechLLM, clips: Sequence[Clip], batch_size: int = 4) -> list[str]:
    """Labels for `clips` (each always one of the model's labels)."""
    return [model.labels[i] for i in score_clips(model, clips, batch_size).argmax(1)]


def evaluation_scores(
    checkpoint: str | Path, clips: Sequence[Clip], device: str = "auto"
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Label scores and labels of a stage-2 checkpoint on `clips`, centre-cropped as in training:
    for a closed-set evaluation (the best label among those a corpus has)."""
    model, cfg, _ = load_stage2(checkpoint, device)
    limit = int(cfg.data.max_duration_s * SAMPLE_RATE)
    cropped = [
        Clip(f"{i}:{c.id}", crop(c.audio, limit, None), c.emotion, c.lang, c.speaker, c.text, c.split)
        for i, c in enumerate(clips)
    ]
    return score_clips(model, cropped), model.labels


def evaluate_clips(checkpoint: str | Path, clips: Sequence[Clip], device: str = "auto") -> list[str]:
    """`m5ser eval` for a stage-2 checkpoint: clips centre-cropped as in training, then predicted."""
    scores, labels = evaluation_scores(checkpoint, clips, device)
    return [labels[i] for i in scores.argmax(1)]

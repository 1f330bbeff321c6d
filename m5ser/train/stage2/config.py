"""Stage-2 training configuration: one dataclass per section, a comment on every field.

Same idiom as stage 1 (`m5ser.train.config`): read from YAML, unknown keys are errors,
validated, saved as config.yaml beside every checkpoint. A model path `store:NAME` is a
model-store entry (`m5ser models`), assembled offline on first use.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..config import _TOP_LEVEL, apply_overrides, sections_from_dict

CONNECTORS = ("qformer", "projector")
LLM_MODES = ("frozen", "lora", "full")


@dataclass
class DataConfig:
    # Folder holding <lang>/<split>-*.parquet shards, or a Hub dataset id.
    source: str = "out/m5ser/data"
    # Languages to read; empty = every language folder found.
    languages: list[str] = field(default_factory=list)
    # Languages removed from training (zero-shot evaluation).
    holdout_languages: list[str] = field(default_factory=list)
    # Emotions manifest: its `labels:` are the answers the LLM may give, in order.
    emotions_file: str = "manifests/emotions.yaml"
    # Split used for training.
    train_split: str = "train"
    # Cap on clips per language, 0 = no cap (seeded stratified sample).
    max_clips_per_lang: int = 0
    # Clips longer than this are centre-cropped (Whisper's window is 30 s).
    max_duration_s: float = 6.0
    # Trim leading/trailing silence with the build's rule (m5ser.audio.trim_silence).
    trim: bool = True


@dataclass
class EncoderConfig:
    # transformers Whisper folder or hub id; store:whisper-base-hf is the offline default.
    path: str = "store:whisper-base-hf"
    # Freeze the encoder; its per-layer states are then cached per clip (computed once).
    freeze: bool = True


@dataclass
class ConnectorConfig:
    # qformer: learned queries cross-attending encoder frames; projector: stacked frames -> MLP.
    kind: str = "qformer"
    # Q-Former: number of learned queries (= speech tokens given to the LLM), layers, heads.
    n_queries: int = 16
    n_layers: int = 2
    n_heads: int = 4
    # Projector: encoder frames stacked into one speech token (20 ms each in Whisper).
    stack: int = 4
    # Hidden width of the projector MLP and of the Q-Former feed-forward.
    hidden: int = 1024
    # Dropout in the connector.
    dropout: float = 0.1


@dataclass
class LLMConfig:
    # Causal LM folder or hub id (AutoModelForCausalLM); store:gemma-3-270m is the offline default.
    path: str = "store:gemma-3-270m"
    # frozen: train the connector only; lora: + LoRA adapters (peft); full: + every LLM weight.
    mode: str = "lora"
    # LoRA rank, alpha, dropout and the module names it adapts.
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])


@dataclass
class PromptConfig:
    # Folder with <lang>.yaml instruction templates ({speech} and {labels} placeholders).
    dir: str = "prompts/stage2"
    # Prompt language: "clip" = the clip's language (falling back to `fallback`), or a code.
    language: str = "clip"
    fallback: str = "en"


@dataclass
class OptimConfig:
    # Passes over the training clips.
    epochs: int = 1
    # Clips per step.
    batch_size: int = 8
    # AdamW learning rate of the connector (and layer weights) and of the LLM's trained weights.
    lr: float = 1e-3
    llm_lr: float = 1e-4
    weight_decay: float = 0.01
    # Gradient clipping norm (0 = off).
    grad_clip: float = 1.0
    # Stop after this many steps (0 = run all epochs).
    max_steps: int = 0
    # Torch CPU threads (0 = leave torch's default).
    threads: int = 0


@dataclass
class Stage2Config:
    # Run name, recorded in meta.json.
    name: str = "stage2"
    # Output folder: final/ checkpoint and log.jsonl.
    out_dir: str = "out/train/stage2"
    # Seed for sampling, prompts and initialisation.
    seed: int = 0
    # auto (CUDA + bf16 when present), cpu or cuda.
    device: str = "auto"
    # A stage-1 checkpoint folder on the same Whisper: its layer weighting (and same-name,
    # same-shape encoder tensors) start stage 2; "" = start from a uniform layer mix.
    init_from: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    connector: ConnectorConfig = field(default_factory=ConnectorConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    prompts: PromptConfig = field(default_factory=PromptConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def validate(self) -> Stage2Config:
        """Raise ValueError on the first inconsistent setting; return self."""
        for name, value, allowed in (
            ("connector.kind", self.connector.kind, CONNECTORS),
            ("llm.mode", self.llm.mode, LLM_MODES),
            ("device", self.device, ("auto", "cpu", "cuda")),
        ):
            if value not in allowed:
                raise ValueError(f"{name}={value!r}; expected one of {', '.join(allowed)}")
        for name in ("n_queries", "n_layers", "n_heads", "stack", "hidden"):
            if getattr(self.connector, name) < 1:
                raise ValueError(f"connector.{name} must be >= 1")
        if self.optim.epochs < 1 or self.optim.batch_size < 1:
            raise ValueError("optim.epochs and optim.batch_size must be >= 1")
        if self.data.max_duration_s <= 0 or self.data.max_duration_s > 30:
            raise ValueError("data.max_duration_s must be in (0, 30] (Whisper's window)")
        if self.llm.mode == "lora" and (self.llm.lora_r < 1 or not self.llm.lora_targets):
            raise ValueError("llm.mode=lora needs llm.lora_r >= 1 and llm.lora_targets")
        overlap = set(self.data.holdout_languages) & set(self.data.languages)
        if overlap:
            raise ValueError(f"languages both trained on and held out: {sorted(overlap)}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_SECTION_CLASSES = {
    "data": DataConfig,
    "encoder": EncoderConfig,
    "connector": ConnectorConfig,
    "llm": LLMConfig,
    "prompts": PromptConfig,
    "optim": OptimConfig,
}
_TOP_LEVEL["stage-2"] = tuple(f.name for f in dataclasses.fields(Stage2Config))


def config_from_dict(raw: dict[str, Any]) -> Stage2Config:
    """Build a config from nested dicts; unknown keys are an error (typos must not pass)."""
    return Stage2Config(**sections_from_dict(raw, _SECTION_CLASSES, "stage-2")).validate()


def load_config(path: str | Path, overrides: list[str] | None = None) -> Stage2Config:
    """Read a YAML config, apply `section.key=value` overrides, validate."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    try:
        return config_from_dict(apply_overrides(raw, overrides or []))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from exc


def save_config(cfg: Stage2Config, path: str | Path) -> None:
    """Write the full config (every default spelled out) as YAML."""
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")

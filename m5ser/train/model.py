"""The stage-1 model: speech encoder -> embedding -> (joint projection, emotion head,
speaker and domain adversaries behind gradient reversal), plus a projection of the text anchors.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .losses import grad_reverse


class Stage1Model(nn.Module):
    """Speech-emotion model aligned with emotion-description text anchors.

    The anchor embeddings (raw text-encoder output, one row per description) live in a
    buffer so a checkpoint can classify by text prototypes without the text encoder.
    """

    def __init__(
        self,
        encoder: nn.Module,
        n_labels: int,
        n_speakers: int,
        anchor_emb: Tensor | None,
        anchor_label: Tensor | None,
        joint_dim: int = 128,
        dropout: float = 0.2,
        temperature: float = 0.1,
        text_encoder: nn.Module | None = None,
        domain_head: bool = False,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        dim = encoder.out_dim
        self.temperature = temperature
        self.speech_proj = nn.Linear(dim, joint_dim)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, n_labels))
        self.speaker_head = (
            nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, n_speakers)) if n_speakers > 1 else None
        )
        # Synthetic (0) vs real (1) speech, trained through gradient reversal (`domain_logits`).
        self.domain_head = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, 1)) if domain_head else None
        self.text_encoder = text_encoder if getattr(text_encoder, "trainable", False) else None
        if anchor_emb is not None:
            self.register_buffer("anchor_emb", anchor_emb.float())
            self.register_buffer("anchor_label", anchor_label.long())
            self.text_proj = nn.Linear(anchor_emb.shape[1], joint_dim)
        else:
            self.anchor_emb = None
            self.text_proj = None

    def embed_text(self, anchor_idx: Tensor, texts: list[str] | None = None) -> Tensor:
        """Joint-space unit vectors of the chosen anchors (re-encoded when the text side trains)."""
        raw = (
            self.text_encoder(texts)
            if self.text_encoder is not None and texts is not None
            else self.anchor_emb[anchor_idx]
        )
        return nn.functional.normalize(self.text_proj(raw.to(self.speech_proj.weight.device)), dim=-1)

    def forward(
        self,
        x: Tensor,
        mask: Tensor | None = None,
        anchor_idx: Tensor | None = None,
        anchor_texts: list[str] | None = None,
        adv_lambda: float = 0.0,
    ) -> dict[str, Tensor]:
        h = self.encoder(x, mask)
        out = {
            "embed": nn.functional.normalize(h, dim=-1),
            "speech": nn.functional.normalize(self.speech_proj(h), dim=-1),
            "logits": self.head(h),
        }
        if anchor_idx is not None and self.text_proj is not None:
            out["text"] = self.embed_text(anchor_idx, anchor_texts)
        if self.speaker_head is not None:
            out["speaker_logits"] = self.speaker_head(grad_reverse(h, adv_lambda))
        return out

    def domain_logits(self, x: Tensor, mask: Tensor | None, adv_lambda: float) -> Tensor:
        """Real-vs-synthetic logits (B,) of inputs `x`, the gradient reversed into the encoder."""
        if self.domain_head is None:
            raise ValueError("this model has no domain head (loss.domain = 0)")
        return self.domain_head(grad_reverse(self.encoder(x, mask), adv_lambda)).squeeze(-1)

    def prototypes(self) -> Tensor:
        """One unit vector per label: the mean projected anchor over all languages."""
        joint = nn.functional.normalize(self.text_proj(self.anchor_emb), dim=-1)
        protos = torch.zeros(self.head[-1].out_features, joint.shape[1], device=joint.device, dtype=joint.dtype)
        protos.index_add_(0, self.anchor_label, joint)
        return nn.functional.normalize(protos, dim=-1)

    @torch.no_grad()
    def refresh_anchors(self, texts: list[str]) -> None:
        """Re-encode all anchor texts with the (trained) text encoder into the buffer."""
        if self.text_encoder is not None:
            self.anchor_emb.copy_(self.text_encoder(texts).to(self.anchor_emb.device))

    def predict_proba(self, x: Tensor, mask: Tensor | None, mode: str = "head") -> Tensor:
        """Class probabilities (B, C) from the CE head, the text prototypes, or their mean."""
        h = self.encoder(x, mask)
        probs = []
        if mode in ("head", "fused"):
            probs.append(torch.softmax(self.head(h), dim=-1))
        if mode in ("text", "fused"):
            if self.text_proj is None:
                raise ValueError("this checkpoint has no text anchors; use predict mode 'head'")
            speech = nn.functional.normalize(self.speech_proj(h), dim=-1)
            probs.append(torch.softmax(speech @ self.prototypes().T / self.temperature, dim=-1))
        if not probs:
            raise ValueError(f"unknown predict mode {mode!r}")
        return torch.stack(probs).mean(0)

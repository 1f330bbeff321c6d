"""Stage-1 losses. Each is a pure function of tensors; `stage1_losses` returns them as a dict
so every term is logged apart.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .config import LossConfig


def symmetric_infonce(speech: Tensor, text: Tensor, labels: Tensor | None, temperature: float) -> Tensor:
    """CLIP-style InfoNCE in both directions between row-paired unit vectors.

    With `labels`, every pair sharing an emotion counts as a positive (the target mass is
    spread uniformly over them), so a batch holding several clips of one emotion is not
    punished for matching them all; without, only the diagonal is positive.
    """
    logits = speech @ text.T / temperature
    if labels is None:
        target = torch.eye(len(speech), device=speech.device, dtype=logits.dtype)
    else:
        target = (labels[:, None] == labels[None, :]).to(logits.dtype)
    target = target / target.sum(1, keepdim=True)
    s2t = -(target * torch.log_softmax(logits, dim=1)).sum(1).mean()
    t2s = -(target.T * torch.log_softmax(logits.T, dim=1)).sum(1).mean()
    return 0.5 * (s2t + t2s)


def supcon(
    z: Tensor,
    labels: Tensor,
    langs: Tensor | None = None,
    temperature: float = 0.1,
    cross_lang_weight: float = 1.0,
) -> Tensor:
    """Supervised contrastive loss (Khosla et al. 2020, L_out) with language-aware weights.

    For anchor i with positives P(i) (same label, j != i):
    L_i = -sum_p w_ip log(exp(z_i.z_p/t) / sum_{a != i} exp(z_i.z_a/t)) / sum_p w_ip,
    w_ip = `cross_lang_weight` when i and p differ in language, else 1. Weighting
    cross-language positives up pushes one emotion's clips together across languages.
    Anchors without positives are skipped; with none at all the loss is 0.
    """
    n = len(z)
    sim = z @ z.T / temperature
    self_mask = torch.eye(n, dtype=torch.bool, device=z.device)
    log_prob = sim - torch.logsumexp(sim.masked_fill(self_mask, float("-inf")), dim=1, keepdim=True)
    pos = (labels[:, None] == labels[None, :]) & ~self_mask
    weight = pos.to(z.dtype)
    if langs is not None and cross_lang_weight != 1.0:
        cross = langs[:, None] != langs[None, :]
        weight = weight * torch.where(cross, cross_lang_weight, 1.0).to(z.dtype)
    norm = weight.sum(1)
    has_pos = norm > 0
    if not bool(has_pos.any()):
        return z.sum() * 0.0
    per_anchor = -(weight * log_prob.masked_fill(self_mask, 0.0)).sum(1)
    return (per_anchor[has_pos] / norm[has_pos]).mean()


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, lam: float) -> Tensor:
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        return -ctx.lam * grad, None


def grad_reverse(x: Tensor, lam: float = 1.0) -> Tensor:
    """Identity forward; multiplies the gradient by -lam backward (Ganin & Lempitsky 2015)."""
    return _GradReverse.apply(x, lam)


def adversary_lambda(progress: float, ramp: float) -> float:
    """DANN schedule 2 / (1 + exp(-10 p)) - 1 with p = progress / ramp, capped at 1.

    >>> adversary_lambda(0.0, 0.5)
    0.0
    >>> round(adversary_lambda(1.0, 0.5), 4)
    0.9999
    """
    p = 1.0 if ramp <= 0 else min(1.0, max(0.0, progress / ramp))
    return 2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0


def stage1_losses(out: dict[str, Tensor], batch: dict[str, Tensor], cfg: LossConfig) -> dict[str, Tensor]:
    """All stage-1 terms and their weighted sum `total`.

    `out` (from `Stage1Model.forward`): `speech` joint (B, D) unit, `text` joint (B, D) unit
    or absent, `embed` (B, E) unit, `logits` (B, C), `speaker_logits` (B, S) or absent, and
    `domain_logits` (N,) from `Stage1Model.domain_logits` when the domain adversary trains.
    `batch`: `label` (B,), `lang` (B,), `speaker` (B,) integer tensors; `domain` (N,) 0/1 targets.
    """
    zero = out["logits"].sum() * 0.0
    terms: dict[str, Tensor] = {}
    y = batch["label"]
    terms["infonce"] = (
        symmetric_infonce(out["speech"], out["text"], y, cfg.temperature) if cfg.infonce > 0 and "text" in out else zero
    )
    terms["supcon"] = (
        supcon(out["embed"], y, batch.get("lang"), cfg.temperature, cfg.cross_lang_weight) if cfg.supcon > 0 else zero
    )
    terms["ce"] = (
        nn.functional.cross_entropy(out["logits"], y, label_smoothing=cfg.label_smoothing) if cfg.ce > 0 else zero
    )
    terms["adv"] = (
        nn.functional.cross_entropy(out["speaker_logits"], batch["speaker"])
        if cfg.adv > 0 and "speaker_logits" in out
        else zero
    )
    terms["domain"] = (
        nn.functional.binary_cross_entropy_with_logits(out["domain_logits"], batch["domain"])
        if cfg.domain > 0 and "domain_logits" in out
        else zero
    )
    terms["total"] = (
        cfg.infonce * terms["infonce"]
        + cfg.supcon * terms["supcon"]
        + cfg.ce * terms["ce"]
        + cfg.adv * terms["adv"]
        + cfg.domain * terms["domain"]
    )
    return terms

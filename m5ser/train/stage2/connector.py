"""Connectors from Whisper frames to LLM input embeddings: a Q-Former or a stacked-frame projector."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import ConnectorConfig


class QFormer(nn.Module):
    """Learned queries that self-attend and cross-attend the encoder frames (padding masked);
    each query becomes one speech token in the LLM's embedding space."""

    def __init__(self, d_enc: int, d_llm: int, cfg: ConnectorConfig):
        super().__init__()
        if d_enc % cfg.n_heads:
            raise ValueError(f"connector.n_heads={cfg.n_heads} does not divide the encoder width {d_enc}")
        self.queries = nn.Parameter(torch.randn(cfg.n_queries, d_enc) * 0.02)
        layer = nn.TransformerDecoderLayer(
            d_enc, cfg.n_heads, cfg.hidden, cfg.dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerDecoder(layer, cfg.n_layers)
        self.out = nn.Sequential(nn.LayerNorm(d_enc), nn.Linear(d_enc, d_llm))

    def forward(self, frames: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        q = self.queries.expand(frames.shape[0], -1, -1)
        h = self.blocks(q, frames, memory_key_padding_mask=~mask)
        tokens = self.out(h)
        return tokens, torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)


class Projector(nn.Module):
    """`stack` consecutive frames concatenated → MLP → one speech token (a token is kept when
    any of its frames is real)."""

    def __init__(self, d_enc: int, d_llm: int, cfg: ConnectorConfig):
        super().__init__()
        self.stack = cfg.stack
        self.net = nn.Sequential(
            nn.Linear(d_enc * cfg.stack, cfg.hidden), nn.GELU(), nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden, d_llm)
        )

    def forward(self, frames: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        b, t, d = frames.shape
        pad = (-t) % self.stack
        frames, mask = F.pad(frames, (0, 0, 0, pad)), F.pad(mask, (0, pad))
        x = frames.reshape(b, -1, self.stack * d)
        return self.net(x), mask.reshape(b, -1, self.stack).any(-1)


def build_connector(cfg: ConnectorConfig, d_enc: int, d_llm: int) -> nn.Module:
    """The connector named by `cfg.kind`."""
    if cfg.kind == "qformer":
        return QFormer(d_enc, d_llm, cfg)
    if cfg.kind == "projector":
        return Projector(d_enc, d_llm, cfg)
    raise NotImplementedError(f"stage-2 connector {cfg.kind!r} is not implemented")

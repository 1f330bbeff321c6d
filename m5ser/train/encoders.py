"""Speech encoders behind one interface: `forward(x, mask) -> (batch, out_dim)` embeddings.

- `ConformerEncoder` / `CNNEncoder`: small models on log-mel, trained from scratch
  (the offline default).
- `MLPEncoder`: on one vector per clip (eGeMAPS functionals, pooled Whisper layer
  statistics, whose layers it mixes with learned softmax weights).
- `HFEncoder`: Whisper encoder, wav2vec 2.0, WavLM or HuBERT loaded with transformers'
  `from_pretrained` from a local folder or hub id, frozen or fine-tuned, with a learned
  weighted sum over hidden layers.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from m5ser.schema import SAMPLE_RATE

from .config import HF_ENCODERS, POOLED_KINDS, Stage1Config


class AttentiveStatsPool(nn.Module):
    """Attention-weighted mean and standard deviation over valid frames."""

    def __init__(self, dim: int, hidden: int = 64) -> None:
        super().__init__()
        self.att = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, h: Tensor, mask: Tensor | None) -> Tensor:
        """h: (B, T, D), mask: (B, T) True on valid frames -> (B, 2D)."""
        score = self.att(h).squeeze(-1)
        if mask is not None:
            score = score.masked_fill(~mask, float("-inf"))
        w = torch.softmax(score, dim=1).unsqueeze(-1)
        mean = (w * h).sum(1)
        var = (w * h.pow(2)).sum(1) - mean.pow(2)
        return torch.cat([mean, var.clamp_min(1e-6).sqrt()], dim=-1)


class ConformerBlock(nn.Module):
    """Macaron feed-forward, self-attention, depthwise convolution, feed-forward."""

    def __init__(self, d: int, heads: int, kernel: int, dropout: float) -> None:
        super().__init__()
        self.ff1 = self._ff(d, dropout)
        self.ff2 = self._ff(d, dropout)
        self.att_norm = nn.LayerNorm(d)
        self.att = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.conv_norm = nn.LayerNorm(d)
        self.pointwise_in = nn.Conv1d(d, 2 * d, 1)
        self.depthwise = nn.Conv1d(d, d, kernel, padding=kernel // 2, groups=d)
        self.conv_bn = nn.BatchNorm1d(d)
        self.pointwise_out = nn.Conv1d(d, d, 1)
        self.drop = nn.Dropout(dropout)
        self.out_norm = nn.LayerNorm(d)

    @staticmethod
    def _ff(d: int, dropout: float) -> nn.Module:
        return nn.Sequential(
            nn.LayerNorm(d),
            nn.Linear(d, 4 * d),
            nn.SiLU(),
            nn.Dropout(dropout),
            nn.Linear(4 * d, d),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = x + 0.5 * self.ff1(x)
        h = self.att_norm(x)
        h, _ = self.att(h, h, h, key_padding_mask=~mask, need_weights=False)
        x = x + self.drop(h)
        h = self.conv_norm(x).masked_fill(~mask.unsqueeze(-1), 0.0).transpose(1, 2)
        h = nn.functional.glu(self.pointwise_in(h), dim=1).masked_fill(~mask.unsqueeze(1), 0.0)
        h = self.pointwise_out(nn.functional.silu(self.conv_bn(self.depthwise(h))))
        x = x + self.drop(h.transpose(1, 2))
        x = x + 0.5 * self.ff2(x)
        return self.out_norm(x)


def _subsampled_mask(mask: Tensor, factor: int, frames: int) -> Tensor:
    lengths = mask.sum(1)
    lengths = torch.div(lengths + factor - 1, factor, rounding_mode="floor").clamp(min=1, max=frames)
    return torch.arange(frames, device=mask.device)[None, :] < lengths[:, None]


class ConformerEncoder(nn.Module):
    """Log-mel (B, T, n_mels) -> 4x time subsampling -> conformer blocks -> pooled embedding."""

    def __init__(
        self, n_mels: int, d_model: int, n_layers: int, n_heads: int, kernel: int, out_dim: int, dropout: float
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(32, 32, 3, stride=2, padding=1)
        self.inp = nn.Linear(32 * math.ceil(math.ceil(n_mels / 2) / 2), d_model)
        self.blocks = nn.ModuleList(ConformerBlock(d_model, n_heads, kernel, dropout) for _ in range(n_layers))
        self.pool = AttentiveStatsPool(d_model)
        self.out = nn.Linear(2 * d_model, out_dim)
        self.out_dim = out_dim

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if mask is None:
            mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        x = x.masked_fill(~mask.unsqueeze(-1), 0.0).unsqueeze(1)
        h = nn.functional.silu(self.conv1(x))  # (B, C, T/2, F/2)
        h = h.masked_fill(~_subsampled_mask(mask, 2, h.shape[2])[:, None, :, None], 0.0)
        h = nn.functional.silu(self.conv2(h))  # (B, C, T/4, F/4)
        b, c, t, f = h.shape
        h = self.inp(h.permute(0, 2, 1, 3).reshape(b, t, c * f))
        m = _subsampled_mask(mask, 4, t)
        for block in self.blocks:
            h = block(h, m)
        return self.out(self.pool(h, m))


class CNNEncoder(nn.Module):
    """Log-mel -> 1-D convolutions over time (mels as channels) -> pooled embedding."""

    def __init__(self, n_mels: int, d_model: int, n_layers: int, out_dim: int, dropout: float):
        super().__init__()
        self.layers = nn.ModuleList()
        self.strides: list[int] = []
        ch = n_mels
        for i in range(max(1, n_layers)):
            stride = 2 if i < 2 else 1
            self.layers.append(
                nn.Sequential(nn.Conv1d(ch, d_model, 5, stride=stride, padding=2), nn.BatchNorm1d(d_model), nn.SiLU())
            )
            self.strides.append(stride)
            ch = d_model
        self.drop = nn.Dropout(dropout)
        self.pool = AttentiveStatsPool(d_model)
        self.out = nn.Linear(2 * d_model, out_dim)
        self.out_dim = out_dim

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if mask is None:
            mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        h = x.masked_fill(~mask.unsqueeze(-1), 0.0).transpose(1, 2)  # (B, F, T)
        factor = 1
        for layer, stride in zip(self.layers, self.strides, strict=True):
            h = self.drop(layer(h))
            factor *= stride
            m = _subsampled_mask(mask, factor, h.shape[2])
            h = h.masked_fill(~m.unsqueeze(1), 0.0)
        return self.out(self.pool(h.transpose(1, 2), m))


class MLPEncoder(nn.Module):
    """One vector per clip (B, F) -> two-layer MLP embedding.

    With `blocks` > 1 the vector is that many equal blocks (one per Whisper layer) mixed by
    a learned softmax-weighted sum (`layer_weights`) before the MLP.
    """

    def __init__(self, in_dim: int, hidden: int, out_dim: int, dropout: float, blocks: int = 1):
        super().__init__()
        if in_dim % blocks:
            raise ValueError(f"input of {in_dim} values does not split into {blocks} layer blocks")
        self.blocks = blocks
        self.layer_weights = nn.Parameter(torch.zeros(blocks)) if blocks > 1 else None
        in_dim //= blocks
        self.net = nn.Sequential(
            nn.Dropout(dropout / 2),
            nn.Linear(in_dim, hidden),
            nn.LayerNorm(hidden),
            nn.SiLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, out_dim),
        )
        self.out_dim = out_dim

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if self.layer_weights is not None:
            w = torch.softmax(self.layer_weights, 0)
            x = (w[:, None] * x.view(x.shape[0], self.blocks, -1)).sum(1)
        return self.net(x)


def _load_hf(kind: str, path: str):
    """Load (model, feature_extractor) of an HF speech encoder with from_pretrained."""
    try:
        import transformers as tf
    except ImportError as exc:
        raise ImportError(f"the {kind} encoder needs the `hf` extra: pip install transformers") from exc
    classes = {
        "wav2vec2": tf.Wav2Vec2Model,
        "wavlm": tf.WavLMModel,
        "hubert": tf.HubertModel,
    }
    if kind == "whisper":
        model = tf.WhisperModel.from_pretrained(path).get_encoder()
        extractor = tf.WhisperFeatureExtractor.from_pretrained(path)
    elif kind in classes:
        model = classes[kind].from_pretrained(path)
        extractor = tf.Wav2Vec2FeatureExtractor.from_pretrained(path)
    else:
        raise NotImplementedError(f"HF speech encoder {kind!r} is not implemented")
    return model, extractor


class HFEncoder(nn.Module):
    """A pretrained transformers speech encoder + layer weighting + attentive pooling."""

    def __init__(self, kind: str, path: str, freeze: bool, out_dim: int, dropout: float):
        super().__init__()
        self.kind = kind
        self.model, self.extractor = _load_hf(kind, path)
        self.freeze = freeze
        if freeze:
            self.model.requires_grad_(False)
            self.model.eval()
        hidden = self.model.config.d_model if kind == "whisper" else self.model.config.hidden_size
        n_layers = self.model.config.num_hidden_layers + 1
        self.layer_weights = nn.Parameter(torch.zeros(n_layers))
        self.pool = AttentiveStatsPool(hidden)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden, out_dim)
        self.out_dim = out_dim

    def train(self, mode: bool = True) -> HFEncoder:
        super().train(mode)
        if self.freeze:
            self.model.eval()
        return self

    def _whisper_states(self, x: Tensor, mask: Tensor) -> tuple[tuple[Tensor, ...], Tensor]:
        audio = [a[: int(n)].cpu().numpy() for a, n in zip(x, mask.sum(1), strict=True)]
        feats = self.extractor(audio, sampling_rate=SAMPLE_RATE, return_tensors="pt", padding="max_length")
        inp = feats.input_features.to(x.device, dtype=next(self.model.parameters()).dtype)
        out = self.model(inp, output_hidden_states=True)
        frames = out.last_hidden_state.shape[1]
        hop = self.extractor.hop_length * 2  # conv2 has stride 2
        lengths = torch.div(mask.sum(1) + hop - 1, hop, rounding_mode="floor").clamp(1, frames)
        return out.hidden_states, torch.arange(frames, device=x.device)[None] < lengths[:, None]

    def _ssl_states(self, x: Tensor, mask: Tensor) -> tuple[tuple[Tensor, ...], Tensor]:
        if getattr(self.extractor, "do_normalize", True):
            m = mask.to(x.dtype)
            n = m.sum(1, keepdim=True).clamp_min(1)
            mean = (x * m).sum(1, keepdim=True) / n
            var = ((x - mean).pow(2) * m).sum(1, keepdim=True) / n
            x = ((x - mean) / torch.sqrt(var + 1e-7)) * m
        use_mask = getattr(self.extractor, "return_attention_mask", True)
        out = self.model(x, attention_mask=mask.long() if use_mask else None, output_hidden_states=True)
        frames = out.last_hidden_state.shape[1]
        lengths = self.model._get_feat_extract_output_lengths(mask.sum(1)).clamp(1, frames)
        return out.hidden_states, torch.arange(frames, device=x.device)[None] < lengths[:, None]

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if mask is None:
            mask = torch.ones(x.shape, dtype=torch.bool, device=x.device)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze):
            states, fmask = self._whisper_states(x, mask) if self.kind == "whisper" else self._ssl_states(x, mask)
        w = torch.softmax(self.layer_weights, 0)
        h = sum(wi * s for wi, s in zip(w, states, strict=True))
        return self.out(self.drop(self.pool(h, fmask)))

    def save_pretrained(self, path: str) -> None:
        """Write the HF config, weights and feature extractor so a checkpoint is self-contained."""
        self.model.save_pretrained(path)
        self.extractor.save_pretrained(path)


def build_encoder(cfg: Stage1Config, in_dim: int, blocks: int = 1) -> nn.Module:
    """The speech encoder named by `cfg.model.encoder`; `in_dim` = n_mels or the input vector's
    size, made of `blocks` equal layer blocks (pooled Whisper statistics)."""
    m = cfg.model
    if m.encoder == "conformer":
        return ConformerEncoder(in_dim, m.d_model, m.n_layers, m.n_heads, m.conv_kernel, m.embed_dim, m.dropout)
    if m.encoder == "cnn":
        return CNNEncoder(in_dim, m.d_model, m.n_layers, m.embed_dim, m.dropout)
    if m.encoder == "mlp":
        mixed = blocks if m.layer_mix == "weighted" else 1
        return MLPEncoder(in_dim, 4 * m.d_model, m.embed_dim, m.dropout, mixed)
    if m.encoder in HF_ENCODERS:
        if m.encoder == "whisper" and m.hf_path is None:
            raise ValueError("whisper encoder needs model.hf_path")
        return HFEncoder(m.encoder, str(m.hf_path), m.freeze_encoder, m.embed_dim, m.dropout)
    raise NotImplementedError(f"speech encoder {m.encoder!r} is not implemented")


def pad_batch(items: list[np.ndarray]) -> tuple[Tensor, Tensor]:
    """Stack variable-length (T, ...) arrays into (B, T_max, ...) with a (B, T_max) valid mask."""
    lengths = [len(a) for a in items]
    t = max(lengths)
    out = np.zeros((len(items), t, *items[0].shape[1:]), dtype=np.float32)
    for i, a in enumerate(items):
        out[i, : len(a)] = a
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    return torch.from_numpy(out), mask


def collate(items: list[np.ndarray], kind: str) -> tuple[Tensor, Tensor | None]:
    """Batch model inputs of one feature kind: functionals stack, sequences pad with a mask."""
    if kind in POOLED_KINDS:
        return torch.from_numpy(np.stack(items).astype(np.float32)), None
    if kind == "waveform":
        x, mask = pad_batch([a[:, None] for a in items])
        return x[..., 0], mask
    return pad_batch(items)

"""CTranslate2 Whisper → transformers `WhisperModel`: the `whisper-base-hf` builder, and unpadded encoding.

The CTranslate2 `model.bin` layout (ctranslate2/specs/model_spec.py, MIT): a version, the spec
name and revision, then each variable as name, rank, dims, dtype id, byte count and raw bytes,
then aliases. Attention projections are fused (self-attention q|k|v, cross-attention k|v; the
key has no bias in Whisper), layer norms are `gamma`/`beta`. Weights are written in float32.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

_DTYPES = (np.float32, np.int8, np.int16, np.int32, np.float16, None)  # None: bfloat16 (unsupported)


def read_ct2(path: Path) -> dict[str, np.ndarray]:
    """Every variable of a CTranslate2 `model.bin` (aliases resolved) as numpy arrays."""

    def string(f: BinaryIO) -> str:
        (n,) = struct.unpack("<H", f.read(2))
        return f.read(n)[:-1].decode("utf-8")

    out: dict[str, np.ndarray] = {}
    with path.open("rb") as f:
        (version,) = struct.unpack("<I", f.read(4))
        if version < 5:
            raise ValueError(f"{path}: CTranslate2 binary version {version} is not supported (need >= 5)")
        string(f)  # spec name
        f.read(4)  # spec revision
        (count,) = struct.unpack("<I", f.read(4))
        for _ in range(count):
            name = string(f)
            (rank,) = struct.unpack("<B", f.read(1))
            dims = struct.unpack(f"<{rank}I", f.read(4 * rank))
            (dtype_id,) = struct.unpack("<B", f.read(1))
            (nbytes,) = struct.unpack("<I", f.read(4))
            dtype = _DTYPES[dtype_id] if dtype_id < len(_DTYPES) else None
            if dtype is None:
                raise ValueError(f"{path}: variable {name} has unsupported dtype id {dtype_id}")
            out[name] = np.frombuffer(f.read(nbytes), dtype=dtype).reshape(dims)
        (aliases,) = struct.unpack("<I", f.read(4))
        for _ in range(aliases):
            alias = string(f)
            out[alias] = out[string(f)]
    return out


def _state_dict(v: dict[str, np.ndarray], enc_layers: int, dec_layers: int, d: int) -> dict[str, Any]:
    import torch

    sd: dict[str, Any] = {}

    def put(hf: str, ct: str) -> None:
        sd[hf] = torch.from_numpy(v[ct].astype(np.float32))

    def norm(hf: str, ct: str) -> None:
        put(f"{hf}.weight", f"{ct}/gamma")
        put(f"{hf}.bias", f"{ct}/beta")

    def linear(hf: str, ct: str) -> None:
        put(f"{hf}.weight", f"{ct}/weight")
        put(f"{hf}.bias", f"{ct}/bias")

    def split(hf: str, ct: str, names: tuple[str, ...]) -> None:
        w, b = v[f"{ct}/weight"].astype(np.float32), v[f"{ct}/bias"].astype(np.float32)
        for i, proj in enumerate(names):
            sd[f"{hf}.{proj}.weight"] = torch.from_numpy(w[i * d : (i + 1) * d].copy())
            if proj != "k_proj":  # Whisper's key projection has no bias (CTranslate2 stores zeros)
                sd[f"{hf}.{proj}.bias"] = torch.from_numpy(b[i * d : (i + 1) * d].copy())

    for side, n in (("encoder", enc_layers), ("decoder", dec_layers)):
        norm(f"{side}.layer_norm", f"{side}/layer_norm")
        put(f"{side}.embed_positions.weight", f"{side}/position_encodings/encodings")
        for i in range(n):
            hf, ct = f"{side}.layers.{i}", f"{side}/layer_{i}"
            norm(f"{hf}.self_attn_layer_norm", f"{ct}/self_attention/layer_norm")
            split(f"{hf}.self_attn", f"{ct}/self_attention/linear_0", ("q_proj", "k_proj", "v_proj"))
            linear(f"{hf}.self_attn.out_proj", f"{ct}/self_attention/linear_1")
            norm(f"{hf}.final_layer_norm", f"{ct}/ffn/layer_norm")
            linear(f"{hf}.fc1", f"{ct}/ffn/linear_0")
            linear(f"{hf}.fc2", f"{ct}/ffn/linear_1")
            if side == "decoder":
                norm(f"{hf}.encoder_attn_layer_norm", f"{ct}/attention/layer_norm")
                linear(f"{hf}.encoder_attn.q_proj", f"{ct}/attention/linear_0")
                split(f"{hf}.encoder_attn", f"{ct}/attention/linear_1", ("k_proj", "v_proj"))
                linear(f"{hf}.encoder_attn.out_proj", f"{ct}/attention/linear_2")
    linear("encoder.conv1", "encoder/conv1")
    linear("encoder.conv2", "encoder/conv2")
    put("decoder.embed_tokens.weight", "decoder/embeddings/weight")
    return sd


def convert_ct2_whisper(src: Path, dst: Path) -> None:
    """Write a transformers `WhisperModel` + `WhisperFeatureExtractor` folder from a CTranslate2 Whisper folder."""
    import transformers as tf

    v = read_ct2(src / "model.bin")
    n_mels, d = v["encoder/conv1/weight"].shape[1], v["encoder/conv1/weight"].shape[0]
    count = {
        side: sum(1 for k in v if k.startswith(f"{side}/layer_") and k.endswith("ffn/linear_0/weight"))
        for side in ("encoder", "decoder")
    }
    ct2_cfg = json.loads((src / "config.json").read_text(encoding="utf-8"))
    config = tf.WhisperConfig(
        vocab_size=v["decoder/embeddings/weight"].shape[0],
        num_mel_bins=n_mels,
        d_model=d,
        encoder_layers=count["encoder"],
        decoder_layers=count["decoder"],
        encoder_attention_heads=int(v["encoder/num_heads"]),
        decoder_attention_heads=int(v["decoder/num_heads"]),
        encoder_ffn_dim=v["encoder/layer_0/ffn/linear_0/weight"].shape[0],
        decoder_ffn_dim=v["decoder/layer_0/ffn/linear_0/weight"].shape[0],
        max_source_positions=v["encoder/position_encodings/encodings"].shape[0],
        max_target_positions=v["decoder/position_encodings/encodings"].shape[0],
        suppress_tokens=ct2_cfg.get("suppress_ids", []),
        begin_suppress_tokens=ct2_cfg.get("suppress_ids_begin", []),
    )
    model = tf.WhisperModel(config)
    missing, unexpected = model.load_state_dict(_state_dict(v, count["encoder"], count["decoder"], d), strict=False)
    if missing or unexpected:
        raise ValueError(f"{src}: conversion left weights unset {missing} or unused {unexpected}")
    model.save_pretrained(dst)
    tf.WhisperFeatureExtractor(feature_size=n_mels).save_pretrained(dst)
    for file in dst.iterdir():  # safetensors writes 0600; the store is shared
        file.chmod(0o644)


def build_whisper_hf(spec: Any, folder: Path) -> None:
    """Model-store builder: convert the store's `whisper-base` (its first `requires`) into `folder`."""
    from .store import model_path

    convert_ct2_whisper(model_path(spec.requires[0]), folder)


def clip_states(encoder: Any, extractor: Any, audio: np.ndarray, sample_rate: int) -> Any:
    """Every hidden state of one clip, a (layers + 1, frames, width) tensor on the encoder's
    device and dtype: its unpadded log-mel (an even number of frames) through `encode_unpadded`."""
    import torch

    mel = extractor(audio, sampling_rate=sample_rate, return_tensors="pt", padding="longest").input_features
    mel = mel[..., : max(2, mel.shape[-1] // 2 * 2)]
    p = next(encoder.parameters())
    return torch.stack(encode_unpadded(encoder, mel.to(p.device, p.dtype)))[:, 0]


def encode_unpadded(encoder: Any, mel: Any) -> tuple[Any, ...]:
    """Every layer's hidden states (embeddings first, final layer-normed last) of a transformers
    Whisper encoder on an unpadded log-mel batch (B, n_mels, T); positions are cut to T // 2.

    transformers' own `forward` insists on 30 s inputs; Whisper itself does not.
    """
    import torch.nn.functional as F

    x = F.gelu(encoder.conv1(mel))
    x = F.gelu(encoder.conv2(x)).permute(0, 2, 1)
    if x.shape[1] > encoder.embed_positions.weight.shape[0]:
        raise ValueError(f"log-mel of {mel.shape[-1]} frames is longer than Whisper's 30 s window")
    x = x + encoder.embed_positions.weight[: x.shape[1]]
    states = [x]
    for layer in encoder.layers:
        x = layer(x, None)
        states.append(x)
    states[-1] = encoder.layer_norm(x)
    return tuple(states)

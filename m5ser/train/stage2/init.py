"""Start stage 2 from a stage-1 checkpoint (`init_from`): the same Whisper, its learned layer mix.

A stage-1 model sees Whisper either through an HF encoder (`model.encoder: whisper`: the Whisper
weights are in model.pt under `encoder.model.`) or through cached per-layer Whisper features
(`features.kind: whisper`, `features.whisper_model`, `features.layers`). Either way its
`encoder.layer_weights` is a softmax weighting of Whisper's hidden states; stage 2 mixes the same
states with its own `encoder.layer_weights`. The Whisper model must be the same one (checked by
name, folder or weights); every other stage-1 `encoder.*` tensor is copied when stage 2 has a
trainable tensor of the same name and shape, and listed as skipped otherwise.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
import yaml

from m5ser.models.store import resolve

from ..checkpoint import load_meta
from .model import SpeechLLM

log = logging.getLogger(__name__)

OFF = 30.0
"""Hidden states stage 1 did not use start this far (in logits) below its smallest weight:
a factor e^-30 in the softmax, so stage 2 starts from stage 1's mix."""


def init_from_stage1(model: SpeechLLM, checkpoint: str | Path, encoder_path: str) -> dict[str, Any]:
    """Copy stage 1's layer weighting (and same-name, same-shape encoder tensors) into `model`.

    `encoder_path` is stage 2's `encoder.path` (as configured). Raises ValueError when the
    checkpoint is not a stage-1 one, uses no Whisper, uses another Whisper, or has nothing to
    copy. Returns the record saved in the stage-2 meta (`init_from`).
    """
    checkpoint = Path(checkpoint)
    meta = load_meta(checkpoint)
    if meta.get("kind") != "stage1":
        raise ValueError(f"init_from={checkpoint}: a {meta.get('kind')!r} checkpoint, not a stage-1 one")
    raw = yaml.safe_load((checkpoint / "config.yaml").read_text(encoding="utf-8")) or {}
    state = torch.load(checkpoint / "model.pt", map_location="cpu", weights_only=True)
    feats, arch = raw.get("features") or {}, raw.get("model") or {}
    whisper = model.encoder.encoder.state_dict()
    n_states = model.encoder.layer_weights.numel()

    if any(k.startswith("encoder.model.") for k in state):  # HF Whisper encoder inside stage 1
        if arch.get("encoder") != "whisper":
            raise ValueError(f"init_from={checkpoint}: model.encoder={arch.get('encoder')!r} is not Whisper")
        theirs = {k.removeprefix("encoder.model."): v for k, v in state.items() if k.startswith("encoder.model.")}
        _same_weights(theirs, whisper, f"{checkpoint}/model.pt (encoder.model.*)", encoder_path, checkpoint)
        checked, layers = "weights in model.pt equal", list(range(n_states))
    elif feats.get("kind") == "whisper":  # cached Whisper features
        name = str(feats.get("whisper_model") or "")
        checked = _same_model(name, encoder_path, whisper, checkpoint)
        layers = [int(i) for i in (feats.get("layers") or range(n_states))]
    else:
        raise ValueError(
            f"init_from={checkpoint}: stage 1 uses no Whisper (model.encoder={arch.get('encoder')!r}, "
            f"features.kind={feats.get('kind')!r}); stage 2 can start only from a Whisper stage 1"
        )
    if any(not 0 <= i < n_states for i in layers):
        raise ValueError(f"init_from={checkpoint}: features.layers={layers} outside 0..{n_states - 1}")

    ours = dict(model.named_parameters())
    copied: dict[str, list[int]] = {}
    skipped: dict[str, str] = {}
    for key, value in state.items():
        if not key.startswith("encoder.") or key.startswith("encoder.model."):
            continue
        if key == "encoder.layer_weights":
            if value.numel() != len(layers):
                raise ValueError(
                    f"init_from={checkpoint}: encoder.layer_weights has {value.numel()} entries "
                    f"for {len(layers)} Whisper states {layers}"
                )
            full = torch.full((n_states,), float(value.min()) - OFF)
            full[layers] = value.float()
            with torch.no_grad():
                ours[key].copy_(full)
            copied[key] = list(value.shape)
        elif key in ours and ours[key].requires_grad and ours[key].shape == value.shape:
            with torch.no_grad():
                ours[key].copy_(value)
            copied[key] = list(value.shape)
        else:
            skipped[key] = "no stage-2 tensor of that name" if key not in ours else "shape or role differs"
    if "encoder.layer_weights" not in state and feats.get("kind") == "whisper" and feats.get("layers"):
        # One layer (or concatenated layers): stage 1 used exactly these states, equally.
        full = torch.full((n_states,), -OFF)
        full[layers] = 0.0
        with torch.no_grad():
            ours["encoder.layer_weights"].copy_(full)
        copied["features.layers"] = list(layers)
    if not copied:
        raise ValueError(
            f"init_from={checkpoint}: nothing to copy (no encoder.layer_weights: "
            f"model.layer_mix={arch.get('layer_mix')!r}?)"
        )
    record = {"checkpoint": str(checkpoint), "whisper": checked, "layers": layers, "copied": copied}
    record["skipped"] = skipped
    mix = torch.softmax(model.encoder.layer_weights.detach(), 0)
    log.info(
        "stage 2 starts from %s: Whisper %s; copied %s; layer mix %s; skipped %d stage-1 encoder tensors",
        checkpoint,
        checked,
        sorted(copied),
        [round(float(w), 3) for w in mix],
        len(skipped),
    )
    return record


def _same_model(name: str, encoder_path: str, whisper: dict[str, torch.Tensor], checkpoint: Path) -> str:
    """How stage 1's `features.whisper_model` was found equal to stage 2's `encoder.path`."""
    if not name:
        raise ValueError(f"init_from={checkpoint}: features.whisper_model is empty in its config.yaml")
    if name == encoder_path:
        return f"same name {name}"
    theirs_dir, ours_dir = Path(resolve(name)), Path(resolve(encoder_path))
    if theirs_dir.is_dir() and ours_dir.is_dir() and theirs_dir.resolve() == ours_dir.resolve():
        return f"same folder {ours_dir}"
    import transformers as tf

    try:
        theirs = tf.WhisperModel.from_pretrained(str(theirs_dir)).get_encoder().state_dict()
    except OSError as exc:
        raise ValueError(f"init_from={checkpoint}: cannot load its Whisper {name!r}: {exc}") from exc
    _same_weights(theirs, whisper, f"{name} (features.whisper_model)", encoder_path, checkpoint)
    return f"weights of {name} equal"


def _same_weights(
    theirs: dict[str, torch.Tensor], ours: dict[str, torch.Tensor], what: str, encoder_path: str, checkpoint: Path
) -> None:
    """Refuse unless both Whisper encoders have the same tensors (names, shapes, values)."""
    why = ""
    if set(theirs) != set(ours):
        why = f"different tensors (e.g. {sorted(set(theirs) ^ set(ours))[:3]})"
    else:
        for key in sorted(ours):
            if theirs[key].shape != ours[key].shape:
                why = f"{key} has shape {list(theirs[key].shape)}, stage 2's {list(ours[key].shape)}"
                break
            if not torch.allclose(theirs[key].float(), ours[key].float(), atol=1e-6):
                why = f"{key} differs (fine-tuned in stage 1? then point encoder.path at {checkpoint}/encoder)"
                break
    if why:
        raise ValueError(
            f"init_from={checkpoint}: its Whisper {what} is not stage 2's encoder.path={encoder_path!r}: {why}"
        )

"""Stage-2 training throughput on CPU (or GPU): clips/s with the frozen encoder's cache cold
(Whisper runs inside each step) and warm (connector + LLM only), side by side in one run, the
peak memory, and the parameter counts behind the 1B-on-one-GPU estimate.

    .venv/bin/python bench/stage2.py [--config manifests/train/stage2.yaml] [--clips 16]
        [--batch 4] [--seconds 2.4] [--threads 2] [--set llm.mode=frozen]

Clips are synthetic (m5ser.train.testing.emotional_signal): throughput does not depend on
their content, only on their length. The real offline run (UA on RAVDESS beside stage 1) is
`m5ser train stage2` + `m5ser eval`; this script measures speed only.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from m5ser.train.checkpoint import resolve_device
from m5ser.train.data import Clip
from m5ser.train.stage2.config import load_config
from m5ser.train.stage2.train import build_model, fit
from m5ser.train.testing import emotional_signal, repo_labels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="manifests/train/stage2.yaml")
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=2.4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    cfg = load_config(args.config, [*args.overrides, f"optim.batch_size={args.batch}", "optim.epochs=1"])
    labels = repo_labels()
    rng = np.random.default_rng(0)
    clips = [
        Clip(
            f"b{i}",
            emotional_signal(labels[i % len(labels)], 150.0, rng, args.seconds),
            labels[i % len(labels)],
            "en",
            "s",
        )
        for i in range(args.clips)
    ]
    device = resolve_device(cfg.device)
    t0 = time.perf_counter()
    model = build_model(cfg, labels, device)
    load_s = time.perf_counter() - t0

    rates = {}
    for phase in ("cold", "warm"):  # cold: the cache fills during the epoch; warm: cached states
        t0 = time.perf_counter()
        losses = fit(model, clips, cfg)
        rates[phase] = len(clips) / (time.perf_counter() - t0)
        print(f"{phase}: {rates[phase]:.3f} clips/s, loss {losses[0]:.3f} -> {losses[-1]:.3f}")

    llm_params = sum(p.numel() for p in model.llm.parameters())
    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    enc_params = sum(p.numel() for p in model.encoder.encoder.parameters())
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"| stage 2 | {cfg.llm.path} {cfg.llm.mode} + {cfg.connector.kind} | {device.type} x{args.threads} threads "
        f"| batch {args.batch}, {args.seconds:.1f} s clips | warm {rates['warm']:.3f} clips/s "
        f"| cold {rates['cold']:.3f} clips/s | warm/cold {rates['warm'] / rates['cold']:.2f}x "
        f"| peak RSS {peak_gib:.2f} GiB | load {load_s:.1f} s |"
    )
    print(f"params: encoder {enc_params / 1e6:.1f} M, LLM {llm_params / 1e6:.1f} M, trained {trained / 1e6:.2f} M")
    # Arithmetic, not a measurement: bf16 weights (2 B/param) for a 1B LLM and the same encoder;
    # `full` adds fp32 master weights + AdamW moments (12 B/param) and bf16 gradients (2 B/param).
    one_b = 1.0e9
    frozen_gb = (2 * one_b + 2 * enc_params) / 1e9
    print(
        f"estimate, 1B LLM on one GPU: weights {frozen_gb:.1f} GB (frozen/LoRA), "
        f"full ~{frozen_gb + 14:.1f} GB + activations"
    )


if __name__ == "__main__":
    main()

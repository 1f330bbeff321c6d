"""Stage 2 on this machine, two modes.

speed (default): training clips/s with the frozen encoder's cache cold (Whisper runs inside
each step) and warm (connector + LLM only), label scoring clips/s with one forward per label vs
the shared prompt prefix (its key/value cache reused by every label), each pair side by side in
one run; the peak memory; the parameter counts behind the 1B-on-one-GPU estimate. Clips are
synthetic (m5ser.train.testing.emotional_signal): speed depends on their length only.

    .venv/bin/python bench/stage2.py [--config manifests/train/stage2.yaml] [--clips 16]
        [--batch 4] [--seconds 2.4] [--threads 2] [--set llm.mode=frozen]

real (--real): the offline run of acceptance 2. Trains the config (Whisper base + Gemma 3 270M
by default) for one epoch on a seeded per-language subsample of a training build, saves the
loss curve (loss_curve.png + loss_curve.json), then runs `m5ser eval` with its defaults on a
real corpus (development only: never trained on), and on a stage-1 checkpoint when given.

    .venv/bin/python bench/stage2.py --real [--source out/m5ser-train/data] [--per-lang 50]
        [--out out/train/stage2-real] [--corpus ../shared/data/speech/ravdess_subset]
        [--stage1 out/train/stage1/final]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch

from m5ser.train.checkpoint import resolve_device
from m5ser.train.data import Clip
from m5ser.train.stage2.config import load_config
from m5ser.train.stage2.train import build_model, fit, train_stage2
from m5ser.train.testing import emotional_signal, repo_labels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="manifests/train/stage2.yaml")
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=2.4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--real", action="store_true", help="the offline training run + m5ser eval")
    ap.add_argument("--source", default="out/m5ser-train/data")
    ap.add_argument("--per-lang", type=int, default=50)
    ap.add_argument("--out", default="out/train/stage2-real")
    ap.add_argument("--corpus", default="../shared/data/speech/ravdess_subset")
    ap.add_argument("--stage1", default="out/train/stage1/final")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    if args.real:
        real_run(args)
        return
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

    model.eval()
    keys, audios, langs = [c.id for c in clips], [c.audio for c in clips], [c.lang for c in clips]
    scores, score_rates = {}, {False: 0.0, True: 0.0}
    # the encoder cache is warm: both time the connector + LLM only; alternated twice, best kept
    for shared in (False, True, False, True):
        t0 = time.perf_counter()
        parts = [
            model.label_scores(keys[i : i + args.batch], audios[i : i + args.batch], langs[i : i + args.batch], shared)
            for i in range(0, len(clips), args.batch)
        ]
        score_rates[shared] = max(score_rates[shared], len(clips) / (time.perf_counter() - t0))
        scores[shared] = torch.cat(parts)
    diff = (scores[True] - scores[False]).abs().max().item()
    print(
        f"| stage 2 scoring | {len(model.labels)} labels | per-label {score_rates[False]:.3f} clips/s "
        f"| shared prefix {score_rates[True]:.3f} clips/s | speed-up {score_rates[True] / score_rates[False]:.2f}x "
        f"| max |score diff| {diff:.1e} |"
    )

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
    # The connector and LoRA sizes are this run's (they grow with the LLM's width).
    one_b = 1.0e9
    frozen_gb = (2 * one_b + 2 * enc_params + 16 * trained) / 1e9
    print(
        f"estimate, 1B LLM on one GPU: {frozen_gb:.1f} GB frozen/LoRA (bf16 weights 2 B x "
        f"{(one_b + enc_params) / 1e9:.2f} B params + 16 B x {trained / 1e6:.1f} M trained), "
        f"full ~{frozen_gb + 14 * one_b / 1e9:.1f} GB (+14 B x 1 B LLM params); + activations"
    )


def real_run(args: argparse.Namespace) -> None:
    """Acceptance 2: one epoch on a subsample of the training build, the loss curve, `m5ser eval`."""
    from m5ser.train.evaluate import evaluate_corpus

    out = Path(args.out)
    sets = [
        f"data.source={args.source}",
        f"data.max_clips_per_lang={args.per_lang}",
        f"out_dir={out}",
        "optim.epochs=1",
        f"optim.batch_size={args.batch}",
        f"optim.threads={args.threads}",
    ]
    cfg = load_config(args.config, [*sets, *args.overrides])
    t0 = time.perf_counter()
    final = train_stage2(cfg)
    train_min = (time.perf_counter() - t0) / 60
    meta = json.loads((final / "meta.json").read_text(encoding="utf-8"))
    losses = [json.loads(line)["loss"] for line in (out / "log.jsonl").read_text(encoding="utf-8").splitlines()]
    curve = _loss_curve(losses, out, f"{cfg.llm.path} {cfg.llm.mode} + {cfg.connector.kind}, {meta['n_clips']} clips")
    t0 = time.perf_counter()
    results = {"stage2": evaluate_corpus(final, args.corpus)}
    eval_min = (time.perf_counter() - t0) / 60
    if args.stage1 and Path(args.stage1, "meta.json").is_file():
        results["stage1"] = evaluate_corpus(args.stage1, args.corpus)
    summary = {
        "config": cfg.to_dict(),
        "n_clips": meta["n_clips"],
        "steps": meta["steps"],
        "train_minutes": train_min,
        "eval_minutes": eval_min,
        "loss_first10": float(np.mean(losses[:10])),
        "loss_last10": float(np.mean(losses[-10:])),
        **curve,
        "eval": {
            k: {m: r[m] for m in ("checkpoint", "ua", "wa", "macro_f1", "n", "recall")} for k, r in results.items()
        },
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(
        f"trained {meta['n_clips']} clips, {meta['steps']} steps in {train_min:.1f} min; loss (mean of 10 steps) "
        f"{summary['loss_first10']:.3f} -> {summary['loss_last10']:.3f}; eval {eval_min:.1f} min"
    )
    for name, r in results.items():
        recall = ", ".join(f"{k} {v:.2f}" for k, v in r["recall"].items())
        print(
            f"| {name} | {Path(args.corpus).name} n={r['n']} | UA {r['ua']:.3f} | WA {r['wa']:.3f} "
            f"| F1 {r['macro_f1']:.3f} | recall: {recall} |"
        )
    print(f"written: {out / 'summary.json'}, {curve['loss_curve_png']}")


def _loss_curve(losses: list[float], out: Path, title: str) -> dict[str, str]:
    """loss_curve.json (every step's loss) and loss_curve.png (steps + a 10-step moving mean)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (out / "loss_curve.json").write_text(json.dumps({"step_loss": losses}), encoding="utf-8")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(1, len(losses) + 1), losses, lw=0.8, alpha=0.5, label="step")
    w = min(10, len(losses))
    ax.plot(range(w, len(losses) + 1), np.convolve(losses, np.ones(w) / w, "valid"), lw=2, label=f"mean of {w}")
    ax.set(xlabel="step", ylabel="answer NLL per token", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "loss_curve.png", dpi=120)
    plt.close(fig)
    return {"loss_curve_png": str(out / "loss_curve.png"), "loss_curve_json": str(out / "loss_curve.json")}


if __name__ == "__main__":
    main()

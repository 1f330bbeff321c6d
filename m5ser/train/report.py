"""The training report beside the final checkpoint: report.md, metrics.json, loss curves."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from .config import Stage1Config

log = logging.getLogger(__name__)


def plot_losses(log_file: Path, png: Path) -> Path | None:
    """Loss terms per step (running mean over 20 steps) from log.jsonl."""
    if not log_file.is_file():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = [json.loads(line) for line in log_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.5))
    steps = np.array([r["step"] for r in rows])
    for key in ("total", "ce", "infonce", "supcon", "adv"):
        v = np.array([r.get(key, 0.0) for r in rows])
        if not v.any():
            continue
        k = min(20, len(v))
        ax.plot(steps[k - 1 :], np.convolve(v, np.ones(k) / k, mode="valid"), label=key)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


def _fmt(x: Any) -> str:
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def write_report(final: Path, cfg: Stage1Config, baseline_dir: Path | None) -> Path:
    """Evaluate the configured real corpora with model and baseline; write report.md + metrics.json."""
    from .evaluate import evaluate_corpus

    meta = json.loads((final / "meta.json").read_text(encoding="utf-8"))
    real: dict[str, dict[str, Any]] = {}
    missing = [c for c in cfg.eval.corpora if not Path(c).is_dir()]
    for corpus in missing:
        log.warning("eval.corpora: %s is not a folder; not evaluated", corpus)
    for corpus in (c for c in cfg.eval.corpora if c not in missing):
        name = Path(corpus).name
        emotions = cfg.data.emotions_file
        real[name] = {
            "model": evaluate_corpus(
                final, corpus, final / "eval" / f"{name}.json", cfg.eval.norm, emotions_file=emotions
            )
        }
        if baseline_dir is not None:
            real[name]["baseline"] = evaluate_corpus(
                baseline_dir, corpus, final / "eval" / f"{name}_baseline.json", cfg.eval.norm, emotions_file=emotions
            )
    baseline_meta = json.loads((baseline_dir / "meta.json").read_text()) if baseline_dir else {}
    metrics = {
        "name": cfg.name,
        "final_scores": meta.get("final_scores", {}),
        "baseline_holdout": baseline_meta.get("holdout"),
        "real": {
            k: {
                m: {
                    f: r[f]
                    for f in ("ua", "ua_open_set", "wa", "macro_f1", "n", "n_ignored", "chance", "recall", "norm")
                }
                for m, r in v.items()
            }
            for k, v in real.items()
        },
        "history": meta.get("history", []),
    }
    (final / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    png = plot_losses(Path(cfg.out_dir) / "log.jsonl", final / "losses.png")
    lines = [
        f"# Stage-1 report: {cfg.name}",
        "",
        f"- train languages: {', '.join(meta['languages'])}; "
        f"held out: {', '.join(meta['holdout_languages']) or 'none'}",
        f"- clips: {meta['n_train']} train ({meta['train_counts']}); speakers {len(meta['speakers'])}",
        f"- encoder `{cfg.model.encoder}` on `{cfg.features.kind}`, text `{cfg.text.encoder}`, "
        f"train norm `{meta['train_norm']}`, predict `{cfg.eval.predict}`",
        f"- loss weights: infonce {cfg.loss.infonce}, "
        f"supcon {cfg.loss.supcon} (cross-lang x{cfg.loss.cross_lang_weight}), "
        f"ce {cfg.loss.ce}, adversary {cfg.loss.adv}",
        f"- {meta['epoch']} epochs, {meta['step']} steps",
        *([f"- not evaluated (no such folder): {', '.join(missing)}"] if missing else []),
        "",
        "## Synthetic data (UA)",
        "",
        "| set | model UA | model WA | baseline UA |",
        "|---|---|---|---|",
    ]
    for name, s in metrics["final_scores"].items():
        b = baseline_meta.get("holdout", {}).get("ua") if name == "holdout" else None
        lines.append(f"| {name} | {_fmt(s['ua'])} | {_fmt(s['wa'])} | {_fmt(b) if b is not None else '-'} |")
    if real:
        lines += ["", f"## Real corpora (never trained on; test-time norm `{cfg.eval.norm}`)", ""]
        lines += [
            "| corpus | system | UA | WA | macro-F1 | n | ignored | chance |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for corpus, systems in real.items():
            for system, r in systems.items():
                lines.append(
                    f"| {corpus} | {system} | {_fmt(r['ua'])} | {_fmt(r['wa'])} | {_fmt(r['macro_f1'])} "
                    f"| {r['n']} | {r['n_ignored']} | {_fmt(r['chance'])} |"
                )
        lines += [""] + [f"![{c}]({Path(s['model']['confusion_png']).relative_to(final)})" for c, s in real.items()]
    lines += [
        "",
        "## Epochs",
        "",
        "| epoch | steps | s | total loss | dev UA | holdout UA |",
        "|---|---|---|---|---|---|",
    ]
    for h in metrics["history"]:
        lines.append(
            f"| {h['epoch']} | {h['step']} | {h['seconds']} | {_fmt(h['loss'].get('total', 0.0))} "
            f"| {_fmt(h.get('dev_ua', '-'))} | {_fmt(h.get('holdout_ua', '-'))} |"
        )
    if png:
        lines += ["", f"![losses]({png.name})"]
    report = final / "report.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return report

"""Leave-one-language-out and loss ablations for stage 1, side by side with the eGeMAPS baseline.

For each held-out language L: train on the other languages, report UA on L's synthetic dev
clips and on the real corpora of the config (never trained on). Then, for one held-out
language, the ablation grid with/without SupCon and with/without the speaker adversary.
Prints markdown tables and writes them to <out>/ablations.md (+ results.json).

    .venv/bin/python bench/train_ablations.py --config manifests/train/stage1.yaml \
        --out out/train/bench [--langs en de fr es it zh] [--ablate-on de] [--set optim.epochs=20]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from m5ser.train.config import load_config
from m5ser.train.data import languages_available
from m5ser.train.evaluate import evaluate_corpus
from m5ser.train.trainer import train_stage1

ABLATIONS = {
    "full": [],
    "no-supcon": ["loss.supcon=0"],
    "no-adversary": ["loss.adv=0"],
    "no-supcon-no-adversary": ["loss.supcon=0", "loss.adv=0"],
}


def run(config: str, out: Path, name: str, overrides: list[str]) -> dict:
    """One training run; returns holdout UA and real-corpus UA for model and baseline."""
    cfg = load_config(config, [*overrides, f"out_dir={out / name}", f"name={name}"])
    t0 = time.time()
    final = train_stage1(cfg, progress=False)
    meta = json.loads((final / "meta.json").read_text())
    base = json.loads((Path(cfg.out_dir) / "baseline" / "meta.json").read_text()) if cfg.baseline else {}
    row = {
        "name": name,
        "seconds": round(time.time() - t0),
        "holdout_ua": meta["final_scores"].get("holdout", {}).get("ua"),
        "dev_ua": meta["final_scores"].get("dev", {}).get("ua"),
        "baseline_holdout_ua": (base.get("holdout") or {}).get("ua"),
    }
    metrics = json.loads((final / "metrics.json").read_text())
    for corpus, systems in metrics["real"].items():
        for system, r in systems.items():
            row[f"{corpus}:{system}"] = r["ua"]
        row[f"{corpus}:chance"] = systems["model"]["chance"]
    for corpus in cfg.eval.corpora:  # the other test-time normalization, for the record
        out = final / "eval" / f"{Path(corpus).name}-speaker.json"
        r = evaluate_corpus(final, corpus, out, norm="speaker", emotions_file=cfg.data.emotions_file)
        row[f"{Path(corpus).name}:model(speaker-norm)"] = r["ua"]
    print(json.dumps(row), flush=True)
    return row


def table(rows: list[dict]) -> str:
    keys = [k for k in rows[0] if k != "name"]
    lines = ["| run | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for r in rows:
        cells = [f"{r.get(k):.3f}" if isinstance(r.get(k), float) else str(r.get(k, "-")) for k in keys]
        lines.append(f"| {r['name']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="manifests/train/stage1.yaml")
    ap.add_argument("--out", type=Path, default=Path("out/train/bench"))
    ap.add_argument("--langs", nargs="*", default=None, help="languages to hold out in turn (default: all)")
    ap.add_argument("--ablate-on", default="de", help="held-out language of the ablation grid")
    ap.add_argument("--no-lolo", action="store_true")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    torch.set_num_threads(2)
    cfg = load_config(args.config, args.overrides)
    langs = args.langs or languages_available(cfg.data.source)
    sections = []
    lolo = []
    if not args.no_lolo:
        for lang in langs:
            lolo.append(
                run(args.config, args.out, f"lolo-{lang}", [*args.overrides, f"data.holdout_languages=[{lang}]"])
            )
        sections.append("## Leave-one-language-out (UA)\n\n" + table(lolo))
    ablations = []
    for name, extra in ABLATIONS.items():
        existing = next((r for r in lolo if r["name"] == f"lolo-{args.ablate_on}"), None)
        if name == "full" and existing is not None:
            ablations.append({**existing, "name": "full"})
            continue
        hold = [f"data.holdout_languages=[{args.ablate_on}]"]
        ablations.append(run(args.config, args.out, f"ablate-{name}", [*args.overrides, *hold, *extra]))
    sections.append(f"## Ablations (held-out language: {args.ablate_on})\n\n" + table(ablations))
    text = f"# Stage-1 bench: {args.config}\n\n" + "\n\n".join(sections) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ablations.md").write_text(text)
    (args.out / "results.json").write_text(json.dumps({"lolo": lolo, "ablations": ablations}, indent=2))
    print(text)


if __name__ == "__main__":
    main()

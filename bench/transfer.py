"""Synthetic -> real transfer: build (or reuse) a recipe's dataset, train stage 1 with a config,
score it on real development speech with `m5ser eval` defaults, append one row to
docs/transfer.md. `--scaling` trains the same config on growing subsets (clips per language,
then speakers per language) and redraws docs/transfer_scaling.png.

    .venv/bin/python bench/transfer.py manifests/recipes/train.yaml manifests/train/stage1.yaml \
        [--set features.layers=[4]] [--note "..."] [--corpus ../shared/data/speech/ravdess_subset]
    .venv/bin/python bench/transfer.py RECIPE CONFIG --scaling 100,250,500,0

Real speech is for choosing between variants only: nothing here trains on it or fits any
parameter on it (its features are normalized with its own statistics, as `m5ser eval` does).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from m5ser.config import load_recipe
from m5ser.train.config import load_config
from m5ser.train.evaluate import evaluate_corpus
from m5ser.train.trainer import train_stage1

DOC = Path("docs/transfer.md")
PNG = Path("docs/transfer_scaling.png")
RAVDESS = "../shared/data/speech/ravdess_subset"
HEADER = """# Synthetic -> real transfer: every experiment

Each row: `bench/transfer.py RECIPE CONFIG [--set ...]` trained stage 1 on the recipe's build only
and scored it on the real RAVDESS development subset (English, 7 classes, chance .143) with
`m5ser eval` defaults (per-corpus test-time normalization, answers among the corpus' labels;
`UA open` lets the model answer with any label). RAVDESS is never trained on and no parameter
is fitted on it; it is used to choose between rows, so its numbers are optimistic for the chosen
row: the acceptance corpora are other languages.

"""
COLUMNS = (
    "date | recipe (hash) | engines | clips | voices | features / layers | norm (train/test) | losses | overrides"
    " | UA | WA | F1 | UA open | recall (ne ha sa an fe di su) | min | note"
)


def build(recipe: str) -> None:
    """`m5ser build RECIPE` (resumes; nothing is redone when the build is complete)."""
    subprocess.run([sys.executable, "-m", "m5ser.cli", "build", recipe], check=True)


def experiment(recipe_path: str, config: str, overrides: list[str], corpus: str, note: str) -> dict:
    """Train one variant and score it; returns the table row's values."""
    recipe = load_recipe(recipe_path)
    tag = hashlib.sha256(json.dumps([recipe.fingerprint(), config, overrides]).encode()).hexdigest()[:10]
    out = Path("out/transfer") / tag
    cfg = load_config(config, [*overrides, f"out_dir={out}", f"name=transfer-{tag}", "baseline=false"])
    cfg.eval.corpora = []
    t0 = time.time()
    final = train_stage1(cfg, progress=False)
    minutes = (time.time() - t0) / 60
    result = evaluate_corpus(final, corpus, out / "eval.json", cfg.eval.norm, emotions_file=cfg.data.emotions_file)
    meta = json.loads((final / "meta.json").read_text(encoding="utf-8"))
    weights = ("infonce", "supcon", "ce", "adv", "domain")
    losses = ", ".join(f"{k} {v:g}" for k, v in vars(cfg.loss).items() if k in weights and v)
    return {
        "recipe": f"{Path(recipe_path).name} ({recipe.fingerprint()[:8]})",
        "engines": "+".join(recipe.build.engines),
        "clips": meta["n_train"],
        "voices": len(meta["speakers"]),
        "features": _features(cfg),
        "norm": f"{cfg.features.norm}/{cfg.eval.norm}",
        "losses": losses,
        "overrides": " ".join(overrides) or "-",
        "result": result,
        "minutes": minutes,
        "note": note,
    }


def _features(cfg) -> str:
    f = cfg.features
    if f.kind != "whisper":
        return f.kind
    layers = f.layers or "all"
    mix = f" {cfg.model.layer_mix}" if len(f.layers) != 1 else ""
    return f"whisper {layers} {f.pooling}{mix}"


def row(r: dict) -> str:
    res = r["result"]
    recall = " ".join(f"{res['recall'].get(lab, float('nan')):.2f}" for lab in res["labels"])
    cells = [
        date.today().isoformat(),
        r["recipe"],
        r["engines"],
        str(r["clips"]),
        str(r["voices"]),
        r["features"].strip(),
        r["norm"],
        r["losses"],
        f"`{r['overrides']}`",
        f"{res['ua']:.3f}",
        f"{res['wa']:.3f}",
        f"{res['macro_f1']:.3f}",
        f"{res['ua_open_set']:.3f}",
        recall,
        f"{r['minutes']:.1f}",
        r["note"],
    ]
    return "| " + " | ".join(cells) + " |\n"


def append(line: str) -> None:
    DOC.parent.mkdir(parents=True, exist_ok=True)
    table_head = f"| {COLUMNS} |\n|{'---|' * len(COLUMNS.split(' | '))}\n"
    text = DOC.read_text(encoding="utf-8") if DOC.is_file() else HEADER + table_head
    marker = "\n## "  # rows go at the end of the table, before any later section
    head, sep, tail = text.partition(marker)
    DOC.write_text(head.rstrip("\n") + "\n" + line + (sep + tail if sep else ""), encoding="utf-8")


def plot_scaling(points: list[tuple[str, int, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, axis in zip(axes, ("clips", "voices"), strict=True):
        xs = [(n, ua) for kind, n, ua in points if kind == axis]
        if xs:
            ax.plot([x for x, _ in xs], [u for _, u in xs], "o-")
        ax.axhline(1 / 7, color="grey", ls=":", label="chance")
        ax.set_xlabel(f"training {axis}")
        ax.set_ylabel("RAVDESS UA")
        ax.legend()
    fig.tight_layout()
    fig.savefig(PNG, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recipe")
    ap.add_argument("config")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="config override a.b=value")
    ap.add_argument("--corpus", default=RAVDESS)
    ap.add_argument("--note", default="")
    ap.add_argument("--no-build", action="store_true", help="use the existing build as it is")
    ap.add_argument("--scaling", default="", help="clips per language, e.g. 100,250,500,0 (0 = all)")
    ap.add_argument("--voices", default="", help="speakers per language for the voices curve, e.g. 2,4,8")
    args = ap.parse_args()
    if not args.no_build:
        build(args.recipe)
    if not args.scaling and not args.voices:
        r = experiment(args.recipe, args.config, args.overrides, args.corpus, args.note)
        append(row(r))
        print(row(r), end="")
        return
    points: list[tuple[str, int, float]] = []
    for n in [int(x) for x in args.scaling.split(",") if x]:
        over = [*args.overrides, f"data.max_clips_per_lang={n}"]
        r = experiment(args.recipe, args.config, over, args.corpus, args.note or "scaling: clips")
        append(row(r))
        points.append(("clips", r["clips"], r["result"]["ua"]))
    for k in [int(x) for x in args.voices.split(",") if x]:
        over = [*args.overrides, f"data.max_speakers_per_lang={k}"]
        r = experiment(args.recipe, args.config, over, args.corpus, args.note or "scaling: voices")
        append(row(r))
        points.append(("voices", r["voices"], r["result"]["ua"]))
    plot_scaling(points)
    print(json.dumps(points))


if __name__ == "__main__":
    main()

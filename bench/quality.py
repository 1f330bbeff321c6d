"""Cost and yield of the quality checks, side by side on the same clips in one run.

    python bench/quality.py [--recipe manifests/recipes/mini.yaml] [--per-lang 12] [--langs en de ...]

Plans each language with the recipe's own plan steps (in a temporary work folder), takes the
first `--per-lang` planned clips, then runs synthesis and each check of the recipe's clip steps
on them in order, timing every step. Prints per step the seconds per clip and the ratio to
synthesis, the fraction of the clips reaching the step that it keeps, and the WER/CER per
engine × language from the `asr` step (when the recipe has one). Single process: the ratios,
not the absolute seconds, are what carries over to the parallel build.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from m5ser.config import load_recipe
from m5ser.pipeline.assemble import language_pipeline
from m5ser.steps import chain

ROOT = Path(__file__).resolve().parents[1]


def run(recipe_path: Path, per_lang: int, langs: list[str] | None) -> None:
    recipe = load_recipe(recipe_path, root=ROOT)
    work = Path(tempfile.mkdtemp(prefix="m5ser-bench-quality-"))
    recipe = dataclasses.replace(recipe, work_dir=work)
    seconds: Counter[str] = Counter()
    entered: Counter[str] = Counter()
    kept: Counter[str] = Counter()
    order: list[str] = []
    reasons: Counter[str] = Counter()
    rates: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for lang in langs or list(recipe.languages):
        pipe = language_pipeline(recipe, lang)
        clips = [u for u in chain([], pipe.plan) if u.drop_reason is None][:per_lang]
        for step in pipe.clips:
            if step.name not in order:
                order.append(step.name)
            alive = [u for u in clips if u.drop_reason is None]
            start = time.perf_counter()
            clips = list(step(clips))
            seconds[step.name] += time.perf_counter() - start
            entered[step.name] += len(alive)
            kept[step.name] += sum(u.drop_reason is None for u in clips)
        for utt in clips:
            reasons[utt.drop_reason or "kept"] += 1
            if "wer" in utt.metrics:
                rates[(utt.tts_backend, lang)].append((utt.metrics["wer"], utt.metrics["cer"]))
    _print(order, seconds, entered, kept, reasons, rates)


def _print(
    order: list[str],
    seconds: Counter[str],
    entered: Counter[str],
    kept: Counter[str],
    reasons: Counter[str],
    rates: dict[tuple[str, str], list[tuple[float, float]]],
) -> None:
    synth = seconds["synthesize"] / max(entered["synthesize"], 1)
    print(f"{'step':<16}{'clips':>7}{'s/clip':>10}{'x synth':>9}{'kept':>8}")
    for name in order:
        n = entered[name]
        per = seconds[name] / n if n else 0.0
        ratio = f"{per / synth:.2f}" if synth else "-"
        frac = f"{kept[name] / n:.2f}" if n else "-"
        print(f"{name:<16}{n:>7}{per:>10.4f}{ratio:>9}{frac:>8}")
    print("\noutcome per reason: " + ", ".join(f"{r} {c}" for r, c in reasons.most_common()))
    if rates:
        print(f"\n{'engine':<10}{'lang':<6}{'clips':>6}{'WER med':>9}{'CER med':>9}")
        for (engine, lang), pairs in sorted(rates.items()):
            wer = statistics.median(p[0] for p in pairs)
            cer = statistics.median(p[1] for p in pairs)
            print(f"{engine:<10}{lang:<6}{len(pairs):>6}{wer:>9.2f}{cer:>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=ROOT / "manifests/recipes/mini.yaml")
    parser.add_argument("--per-lang", type=int, default=12)
    parser.add_argument("--langs", nargs="*")
    args = parser.parse_args()
    run(args.recipe, args.per_lang, args.langs)


if __name__ == "__main__":
    main()

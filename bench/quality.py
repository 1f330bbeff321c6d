"""Cost and yield of the quality checks, side by side on the same clips in one run.

    python bench/quality.py [--recipe manifests/recipes/mini.yaml] [--per-lang 12] [--langs en de ...]
                            [--add dnsmos speaker]   # steps appended to the recipe's, default parameters

Plans each language with the recipe's own plan steps (in a temporary work folder), takes the
first `--per-lang` planned clips, then runs synthesis and each check of the recipe's clip and
language-pass steps on them in order, timing every step (wall, and CPU seconds of this process and its children: on a
shared machine the CPU ratio is the fairer one; a step's first call includes its model load
and any JIT compilation, e.g. librosa's numba kernels for DNSMOS). Prints per step the seconds per clip and the ratio to
synthesis, the fraction of the clips reaching the step that it keeps, and the WER/CER per
engine × language from the `asr` step (when the recipe has one). Single process: the ratios,
not the absolute seconds, are what carries over to the parallel build.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from m5ser.config import StepConfig, load_recipe
from m5ser.pipeline.assemble import language_pipeline
from m5ser.steps import chain

ROOT = Path(__file__).resolve().parents[1]


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (espeak-ng renders in a fork)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def run(recipe_path: Path, per_lang: int, langs: list[str] | None, add: list[str]) -> None:
    recipe = load_recipe(recipe_path, root=ROOT)
    work = Path(tempfile.mkdtemp(prefix="m5ser-bench-quality-"))
    recipe = dataclasses.replace(recipe, work_dir=work, steps=recipe.steps + tuple(StepConfig(n) for n in add))
    seconds: Counter[str] = Counter()
    cpu: Counter[str] = Counter()
    entered: Counter[str] = Counter()
    kept: Counter[str] = Counter()
    order: list[str] = []
    reasons: Counter[str] = Counter()
    rates: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for lang in langs or list(recipe.languages):
        pipe = language_pipeline(recipe, lang)
        clips = [u for u in chain([], pipe.plan) if u.drop_reason is None][:per_lang]
        for step in pipe.clips + pipe.language:  # the language pass too (run here on the sample)
            if step.name not in order:
                order.append(step.name)
            alive = [u for u in clips if u.drop_reason is None]
            start, start_cpu = time.perf_counter(), _cpu()
            clips = list(step(clips))
            seconds[step.name] += time.perf_counter() - start
            cpu[step.name] += _cpu() - start_cpu
            entered[step.name] += len(alive)
            kept[step.name] += sum(u.drop_reason is None for u in clips)
        for utt in clips:
            reasons[utt.drop_reason or "kept"] += 1
            if "wer" in utt.metrics:
                rates[(utt.tts_backend, lang)].append((utt.metrics["wer"], utt.metrics["cer"]))
    _print(order, seconds, cpu, entered, kept, reasons, rates)


def _print(
    order: list[str],
    seconds: Counter[str],
    cpu: Counter[str],
    entered: Counter[str],
    kept: Counter[str],
    reasons: Counter[str],
    rates: dict[tuple[str, str], list[tuple[float, float]]],
) -> None:
    synth = seconds["synthesize"] / max(entered["synthesize"], 1)
    synth_cpu = cpu["synthesize"] / max(entered["synthesize"], 1)
    print(f"{'step':<16}{'clips':>7}{'wall s/clip':>12}{'x synth':>9}{'cpu s/clip':>11}{'x synth':>9}{'kept':>7}")
    for name in order:
        n = entered[name]
        per, per_cpu = (seconds[name] / n, cpu[name] / n) if n else (0.0, 0.0)
        ratio = f"{per / synth:.2f}" if synth else "-"
        ratio_cpu = f"{per_cpu / synth_cpu:.2f}" if synth_cpu else "-"
        frac = f"{kept[name] / n:.2f}" if n else "-"
        print(f"{name:<16}{n:>7}{per:>12.4f}{ratio:>9}{per_cpu:>11.4f}{ratio_cpu:>9}{frac:>7}")
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
    parser.add_argument("--add", nargs="*", default=[], help="steps appended to the recipe's (default parameters)")
    args = parser.parse_args()
    run(args.recipe, args.per_lang, args.langs, args.add)


if __name__ == "__main__":
    main()

"""Pipeline throughput vs the bare espeak-ng engine on the same sentences, side by side.

Usage: .venv/bin/python bench/throughput.py [--recipe manifests/recipes/mini.yaml] [--lang de]
                                            [--n 120] [--repeat 3] [--no-all]

Each repeat measures, on the same planned clips and in this order:
  bare        libespeak-ng in-process, one call per sentence, no prosody (no fork)
  fork-worker the design before the zygote: a fork of this (large) process per clip, emotion SSML
  zygote-only the zygote without voice zygotes: each clip a child of the small zygote, which
              selects the voice (loads its dictionary) in every child (emotion SSML)
  as called   the espeak backend as the pipeline calls it (a child of the clip's voice zygote per
              clip, emotion SSML, pauses as separate phrases)
  render      voice-quality rendering of the synthesized clips (`dsp.apply_voice_quality`)
  pipeline-signal   the whole per-language build with the recipe's steps up to the signal
                    checks (plan, synth, voice quality, trim, signal metrics, signal filter, shards)
  pipeline-signal, plan pro-rated   the same run with the plan's time counted for the n
                    clips built only (the plan covers all of the language's sentences; a
                    build without --limit plans exactly the clips it builds)
  pipeline-all      the whole build with every step of the recipe (quality checks included;
                    `--no-all` leaves it out, for quick comparisons of two versions of the code)
Prints clips/s and ratios (to bare, and pipeline-signal / as called; render / synthesis per
clip) per repeat, then the median and the spread (min-max) over repeats. Other processes
share the cores, so only ratios measured in the same repeat mean anything.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

from m5ser.config import Recipe, load_emotions, load_recipe, voices_for
from m5ser.pipeline.build import build_language
from m5ser.pipeline.plan import plan_language, planned_clips
from m5ser.schema import SAMPLE_RATE, Prosody
from m5ser.tts import dsp
from m5ser.tts.engines import libespeak
from m5ser.tts.engines.espeak import EspeakSynthesizer
from m5ser.tts.engines.libespeak import LibEspeak
from m5ser.tts.ssml import build_ssml

SIGNAL_STEPS = ("synthesize", "signal", "signal_filter")
"""Clip steps kept in the `pipeline-signal` variant (every plan step is kept too)."""


def scratch(recipe: Recipe, folder: Path, *, signal_only: bool) -> Recipe:
    """`recipe` writing into `folder`; with `signal_only`, clip steps other than SIGNAL_STEPS removed."""
    steps = recipe.steps
    if signal_only:
        last_plan = max(i for i, s in enumerate(steps) if s.name == "cast")
        steps = steps[: last_plan + 1] + tuple(s for s in steps[last_plan + 1 :] if s.name in SIGNAL_STEPS)
    return dataclasses.replace(recipe, output=folder / "m5ser", work_dir=folder / "work", steps=steps)


def timed(fn, n: int) -> float:
    """Clips per second of `fn()` over `n` clips."""
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def one_repeat(recipe: Recipe, lang: str, n: int, with_all: bool = True) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        planned = planned_clips(plan_language(scratch(recipe, Path(tmp) / "plan", signal_only=False), lang), n)
        voices = {v.id: v for v in voices_for(recipe, lang)}
        spec = load_emotions(recipe.emotions)
        engine = LibEspeak.get()
        synth = EspeakSynthesizer()
        docs = [(build_ssml(u.text, Prosody(**u.prosody), []), voices[u.speaker_id].voice) for u in planned]
        out: dict[str, float] = {}
        out["bare"] = timed(lambda: [engine.synthesize_here(u.text, voices[u.speaker_id].voice) for u in planned], n)
        out["fork-worker"] = timed(lambda: [engine.fork_synthesize(d, v) for d, v in docs], n)
        zygote = libespeak._Zygote(max_voice_zygotes=0)
        zygote.request(*docs[0])  # started before timing, as the pipeline's zygote below
        out["zygote-only"] = timed(lambda: [zygote.request(d, v) for d, v in docs], n)
        zygote.close()
        synth.synthesize(planned[0].text, voices[planned[0].speaker_id], Prosody(**planned[0].prosody))
        clips = []

        def as_called() -> None:
            for u in planned:
                x, sr = synth.synthesize(u.text, voices[u.speaker_id], Prosody(**u.prosody))
                clips.append((u, x, sr))

        out["as called"] = timed(as_called, n)
        from m5ser import audio

        resampled = [(u, audio.resample(x, sr, SAMPLE_RATE)) for u, x, sr in clips]

        def render() -> None:
            for u, x in resampled:
                q = dsp.voice_quality_for(u.emotion, u.intensity, spec.voice_quality)
                dsp.apply_voice_quality(x, SAMPLE_RATE, q, seed=int(u.id[:8], 16))

        out["render"] = timed(render, n)
        for name, signal_only in (("pipeline-signal", True), ("pipeline-all", False))[: 2 if with_all else 1]:
            r = scratch(recipe, Path(tmp) / name, signal_only=signal_only)
            start = time.perf_counter()
            plan = plan_language(r, lang)
            plan_s = time.perf_counter() - start
            result = build_language(r, lang, limit=n, progress=False)  # reuses the plan just made
            wall = time.perf_counter() - start
            out[name] = result.planned / wall
            if name == "pipeline-signal":  # the plan covers every sentence of the language, not only n
                share = result.planned / len(planned_clips(plan))
                out["pipeline-signal, plan pro-rated"] = result.planned / (wall - plan_s * (1 - share))
    return out


def clip_bench_parser() -> argparse.ArgumentParser:
    """The arguments of the per-clip benches (this one, clip_cost.py, jitter_pass.py): recipe,
    language, clips per repeat, repeats."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipe", default="manifests/recipes/mini.yaml")
    parser.add_argument("--lang", default="de")
    parser.add_argument("--n", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=3)
    return parser


def main() -> None:
    parser = clip_bench_parser()
    parser.add_argument("--no-all", action="store_true", help="leave out pipeline-all (the quality checks)")
    args = parser.parse_args()

    recipe = load_recipe(args.recipe)
    clip_steps = [s.name for s in recipe.steps[[s.name for s in recipe.steps].index("cast") + 1 :]]
    print(f"{args.n} '{args.lang}' clips from {args.recipe}; clip steps {clip_steps}; {args.repeat} repeats")
    runs = []
    for i in range(args.repeat):
        r = one_repeat(recipe, args.lang, args.n, with_all=not args.no_all)
        ratios = {
            "pipeline-signal / as called": r["pipeline-signal"] / r["as called"],
            "pipeline-signal, plan pro-rated / as called": r["pipeline-signal, plan pro-rated"] / r["as called"],
            "render / synthesis (time per clip)": r["as called"] / r["render"],
            "as called / fork-worker": r["as called"] / r["fork-worker"],
            "as called / zygote-only": r["as called"] / r["zygote-only"],
        }
        runs.append((r, ratios))
        cells = "  ".join(f"{k} {v:.1f}" for k, v in r.items())
        print(f"repeat {i + 1}: clips/s  {cells}")
    print(f"\n{'stage':<34}{'clips/s median':>16}{'min-max':>16}{'ratio to bare':>16}")
    for key in runs[0][0]:
        vals = [r[key] for r, _ in runs]
        bare = statistics.median(r[key] / r["bare"] for r, _ in runs)
        print(f"{key:<34}{statistics.median(vals):>16.1f}{f'{min(vals):.1f}-{max(vals):.1f}':>16}{bare:>16.3f}")
    print()
    for key in runs[0][1]:
        vals = [q[key] for _, q in runs]
        print(f"{key:<46} median {statistics.median(vals):.2f}  (min {min(vals):.2f}, max {max(vals):.2f})")


if __name__ == "__main__":
    main()

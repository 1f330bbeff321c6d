"""The jitter/creak pass of voice-quality rendering with its pitch analysis before and after
issue 15, side by side on the same synthesized clips.

Usage: .venv/bin/python bench/jitter_pass.py [--recipe manifests/recipes/mini.yaml] [--lang de]
                                             [--n 120] [--repeat 3]

The pass (`dsp.manipulate` with the clip's jitter and creak) is run on every planned clip whose
emotion has jitter or creak, two ways:
  before   Praat pitch analysis with a 60 Hz floor at a 10 ms step (`dsp.PITCH_FLOOR`)
  v5       as rendering version 5 ran it: a 75 Hz floor at a 20 ms step with 4 pitch candidates
  after    the pass as `dsp.apply_voice_quality` runs it: a 75 Hz floor at a 40 ms step with 4
           pitch candidates (`VOICE_QUALITY_PITCH_FLOOR`, `VOICE_QUALITY_PITCH_STEP`,
           `VOICE_QUALITY_PITCH_CANDIDATES`), the F0 track filled back to 10 ms points
Prints ms per pass for each (median over repeats) and its ratio to `before` and to `v5` (in the
same repeat), then per
emotion the acoustic effect of each against the unrendered clip: the rise of Praat's local
jitter (percent points), and the mean F0 and 5-95 % F0 range (`dsp.measure`) of the output.
Other processes share the cores: only the ratio measured in one repeat means anything.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from throughput import clip_bench_parser

from m5ser import audio
from m5ser.config import load_emotions, load_recipe, voices_for
from m5ser.pipeline.plan import plan_language, planned_clips
from m5ser.registry import require
from m5ser.schema import SAMPLE_RATE, Prosody
from m5ser.tts import dsp
from m5ser.tts.engines.espeak import EspeakSynthesizer

VARIANTS = {
    "before": {"pitch_floor": dsp.PITCH_FLOOR, "pitch_step": dsp.KNOT_STEP},
    "v5": {
        "pitch_floor": dsp.VOICE_QUALITY_PITCH_FLOOR,
        "pitch_step": 0.02,
        "pitch_candidates": dsp.VOICE_QUALITY_PITCH_CANDIDATES,
    },
    "after": {
        "pitch_floor": dsp.VOICE_QUALITY_PITCH_FLOOR,
        "pitch_step": dsp.VOICE_QUALITY_PITCH_STEP,
        "pitch_candidates": dsp.VOICE_QUALITY_PITCH_CANDIDATES,
    },
}


def local_jitter(x: np.ndarray) -> float:
    """Praat's local jitter of `x` (16 kHz), percent."""
    praat = require("parselmouth", "tts")
    snd = praat.Sound(x.astype(np.float64), sampling_frequency=float(SAMPLE_RATE))
    pulses = praat.praat.call(snd, "To PointProcess (periodic, cc)", 75, 600)
    return 100 * praat.praat.call(pulses, "Get jitter (local)", 0, 0, 0.0001, 0.02, 1.3)


def main() -> None:
    args = clip_bench_parser().parse_args()

    recipe = load_recipe(args.recipe)
    spec = load_emotions(recipe.emotions)
    voices = {v.id: v for v in voices_for(recipe, args.lang)}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        plan = plan_language(dataclasses.replace(recipe, output=work / "m5ser", work_dir=work / "work"), args.lang)
        planned = planned_clips(plan, args.n)
    synth = EspeakSynthesizer()
    clips = []
    for u in planned:
        q = dsp.voice_quality_for(u.emotion, u.intensity, spec.voice_quality)
        if q.jitter > 0 or q.creak > 0:
            x, sr = synth.synthesize(u.text, voices[u.speaker_id], Prosody(**u.prosody))
            clips.append((u.emotion, audio.resample(x, sr, SAMPLE_RATE), q, int(u.id[:8], 16)))
    print(f"{len(clips)} of {len(planned)} '{args.lang}' clips have jitter or creak ({args.recipe})")

    def run(kw: dict[str, float]) -> list[np.ndarray]:
        return [dsp.manipulate(x, SAMPLE_RATE, jitter=q.jitter, creak=q.creak, seed=s, **kw) for _, x, q, s in clips]

    ms: dict[str, list[float]] = defaultdict(list)
    outs: dict[str, list[np.ndarray]] = {}
    for _ in range(args.repeat):
        for name, kw in VARIANTS.items():
            start = time.perf_counter()
            outs[name] = run(kw)
            ms[name].append((time.perf_counter() - start) / len(clips) * 1000)
    for name, vals in ms.items():
        print(f"{name:<8} {statistics.median(vals):6.2f} ms per pass  (min {min(vals):.2f}, max {max(vals):.2f})")
    for base in ("before", "v5"):
        ratios = [a / b for a, b in zip(ms["after"], ms[base], strict=True)]
        print(f"after / {base} (time per pass, same repeat): median {statistics.median(ratios):.2f}  "
              f"(min {min(ratios):.2f}, max {max(ratios):.2f})")  # fmt: skip

    jit_in = [local_jitter(x) for _, x, _, _ in clips]
    print(
        f"\n{'emotion':<10}{'n':>4}"
        + "".join(f"{v + ' ' + m:>20}" for v in VARIANTS for m in ("jitter+", "F0 Hz", "range st"))
    )
    by_emotion: dict[str, list[int]] = defaultdict(list)
    for i, (emotion, _, _, _) in enumerate(clips):
        by_emotion[emotion].append(i)
    for emotion, idx in sorted(by_emotion.items()):
        cells = []
        for name in VARIANTS:
            ys = [outs[name][i] for i in idx]
            measured = [dsp.measure(y, SAMPLE_RATE) for y in ys]
            cells += [
                np.mean([local_jitter(y) - jit_in[i] for y, i in zip(ys, idx, strict=True)]),
                np.mean([m.f0_mean_hz for m in measured]),
                np.mean([m.f0_range_st for m in measured]),
            ]
        print(f"{emotion:<10}{len(idx):>4}" + "".join(f"{c:>20.2f}" for c in cells))


if __name__ == "__main__":
    main()

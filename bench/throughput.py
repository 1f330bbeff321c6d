"""Demo pipeline throughput vs the bare espeak-ng engine on the same sentences, side by side.

Usage: .venv/bin/python bench/throughput.py [--recipe manifests/recipes/mini.yaml] [--lang de] [--n 200]
Prints clips/s of (a) the bare engine (libespeak-ng, one call per sentence, no prosody),
(b) the engine as the pipeline calls it (fresh fork per clip, emotion SSML) and (c) the
whole per-language build (plan, synth, voice quality, trim, metrics, filters, shards), and
their ratios. Each run writes into a temporary folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from m5ser.config import load_recipe, voices_for
from m5ser.pipeline.build import build_language
from m5ser.pipeline.plan import plan_language, planned_clips
from m5ser.schema import Prosody, Voice
from m5ser.tts.engines.espeak import EspeakSynthesizer
from m5ser.tts.engines.libespeak import LibEspeak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipe", default="manifests/recipes/mini.yaml")
    parser.add_argument("--lang", default="de")
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        recipe = load_recipe(args.recipe)
        recipe = dataclasses.replace(recipe, output=Path(tmp) / "m5ser", work_dir=Path(tmp) / "work")
        planned = planned_clips(plan_language(recipe, args.lang), args.n)
        voices = {v.id: v for v in voices_for(recipe, args.lang)}

        engine = LibEspeak.get()
        start = time.perf_counter()
        for utt in planned:
            engine.synthesize_here(utt.text, voices[utt.speaker_id].voice)  # the bare library call, in-process
        bare = len(planned) / (time.perf_counter() - start)

        synth = EspeakSynthesizer()
        start = time.perf_counter()
        for utt in planned:
            voice: Voice = voices[utt.speaker_id]
            synth.synthesize(utt.text, voice, Prosody(**utt.prosody))
        forked = len(planned) / (time.perf_counter() - start)

        start = time.perf_counter()
        result = build_language(recipe, args.lang, limit=len(planned), progress=False)
        pipeline = result.planned / (time.perf_counter() - start)

    print(f"{len(planned)} '{args.lang}' sentences from {args.recipe}")
    print(f"{'stage':<42}{'clips/s':>10}{'ratio to bare':>16}")
    for name, rate in [
        ("bare libespeak-ng (no prosody, in-process)", bare),
        ("espeak backend (fork per clip, emotion SSML)", forked),
        ("full pipeline (synth+quality+filters+shards)", pipeline),
    ]:
        print(f"{name:<42}{rate:>10.1f}{rate / bare:>16.3f}")


if __name__ == "__main__":
    main()

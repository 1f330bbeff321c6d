"""Where a clip's time goes: the pipeline-signal build of bench/throughput.py, item by item.

Usage: .venv/bin/python bench/clip_cost.py [--recipe manifests/recipes/mini.yaml] [--lang de]
                                           [--n 120] [--repeat 3]

Builds `--n` clips of one language with the recipe's plan steps and the signal checks
(`throughput.scratch(..., signal_only=True)`), `--repeat` times in one process into fresh
folders (the plan is made before the clock starts), and prints per repeat the wall time per
clip, the engine's share (the synthesizer as the pipeline calls it) and the rest (the
pipeline's own work); then, for the last repeat (a warm process: one-off imports are paid by
then), the time per clip of each item below. Items are timed by wrapping the functions where
the pipeline looks them up; nested items (indented) are part of the item above them. Other
processes share the cores: compare items measured in the same run only.
"""

from __future__ import annotations

import functools
import importlib
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from throughput import clip_bench_parser, scratch

from m5ser.config import load_recipe
from m5ser.pipeline.build import build_language
from m5ser.pipeline.plan import plan_language

ENGINE = "engine (espeak as called)"
ITEMS: tuple[tuple[str, str, str | None, str], ...] = (
    # (module, function, class or None, label)
    ("m5ser.tts.engines.espeak", "synthesize", "EspeakSynthesizer", ENGINE),
    ("m5ser.tts.synthesize", "audio_key", "Synthesize", "audio key"),
    ("m5ser.audio", "resample", None, "resample to 16 kHz"),
    ("m5ser.audio", "trim_silence", None, "edge trim (twice)"),
    ("m5ser.tts.dsp", "apply_voice_quality", None, "voice quality"),
    ("m5ser.tts.dsp", "manipulate", None, "  jitter/creak (Praat pitch + PSOLA)"),
    ("m5ser.tts.dsp", "spectral_tilt", None, "  spectral tilt"),
    ("m5ser.tts.dsp", "add_breathiness", None, "  breathiness"),
    ("m5ser.tts.dsp", "add_shimmer", None, "  shimmer"),
    ("m5ser.audio", "write_wav", None, "work WAV write"),
    ("m5ser.quality.signal", "measure", "SignalAnnotator", "signal metrics"),
    ("m5ser.pipeline.units", "write_manifest", None, "part manifest"),
    ("m5ser.pipeline.build", "finalize_language", None, "merge"),
    ("m5ser.pipeline.merge", "write_removed", None, "  removed/"),
    ("m5ser.pipeline.merge", "write_language", None, "  shards + manifest"),
    ("m5ser.shards.parquet", "encode_audio", None, "    audio column (read WAV, FLAC)"),
)


def instrument(totals: dict[str, float]) -> None:
    """Wrap every function of ITEMS so that its calls add their wall time to `totals[label]`."""
    for module, name, owner, label in ITEMS:
        target: Any = importlib.import_module(module)
        if owner is not None:
            target = getattr(target, owner)
        fn = getattr(target, name)

        def timed(*args: Any, _fn: Any = fn, _label: str = label, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return _fn(*args, **kwargs)
            finally:
                totals[_label] += time.perf_counter() - start

        wrapped = functools.wraps(fn)(timed)
        is_static = owner is not None and isinstance(target.__dict__.get(name), staticmethod)
        setattr(target, name, staticmethod(wrapped) if is_static else wrapped)


def main() -> None:
    args = clip_bench_parser().parse_args()

    recipe = load_recipe(args.recipe)
    totals: dict[str, float] = defaultdict(float)
    instrument(totals)
    clips = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            r = scratch(recipe, Path(tmp) / str(i), signal_only=True)
            plan_language(r, args.lang)
            totals.clear()
            start = time.perf_counter()
            clips = build_language(r, args.lang, limit=args.n, progress=False).planned
            wall = (time.perf_counter() - start) * 1000 / clips
            engine = totals[ENGINE] * 1000 / clips
            own = wall - engine
            print(f"repeat {i + 1}: {clips} clips, ms per clip: wall {wall:.2f}, engine {engine:.2f}, own {own:.2f}")
    print(f"\nlast repeat, ms per clip ({args.lang}, {args.recipe}):")
    for _, _, _, label in ITEMS:
        print(f"  {label:<42}{totals[label] * 1000 / clips:8.2f}")


if __name__ == "__main__":
    main()

"""Per-engine emotion rendering bench: real-time factor, sample rate, and per emotion the
measured mean F0, F0 range and speaking rate relative to neutral (plus the spectral balance
after voice-quality rendering), with a check that each moves the way its rule says.

    python bench/engines.py [--engines espeak kokoro ...] [--lang en] [--out out/bench]

One speaker per engine (the first of the engine in the language's speaker bank, falling back
to the first core language the engine has), one sentence, every emotion at intensity 1
without jitter. Prints a table per engine and saves `engines.png` and `engines.json`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from m5ser import audio
from m5ser import registry as base
from m5ser.config import EmotionSpec, load_emotions, load_voices
from m5ser.schema import SAMPLE_RATE, Voice
from m5ser.testing import PROBE_SENTENCES
from m5ser.tts import dsp
from m5ser.tts.prosody import render as render_prosody

ROOT = Path(__file__).resolve().parents[1]
ENGINES = ("espeak", "mbrola", "pico", "rhvoice", "festival", "piper", "kokoro")
LANGS = ("en", "de", "fr", "es", "it", "zh", "ru", "ja")
SENTENCES = PROBE_SENTENCES


def band_ratio_db(x: np.ndarray, sr: int) -> float:
    """Energy 1–5 kHz over 50 Hz–1 kHz in dB (the eGeMAPS alpha ratio, inverted sign)."""
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / sr)
    return float(10 * np.log10(spec[(f >= 1000) & (f < 5000)].sum() / spec[(f > 50) & (f < 1000)].sum()))


def pick_voice(engine: str, lang: str) -> Voice | None:
    for candidate in (lang, *LANGS):
        path = ROOT / "manifests/voices" / f"{candidate}.yaml"
        voices = [v for v in load_voices(path) if v.engine == engine] if path.exists() else []
        if voices:
            return voices[0]
    return None


def bench_engine(engine: str, lang: str, spec: EmotionSpec) -> dict | None:
    try:
        synth = base.create("synthesizer", engine)
    except (base.MissingDependencyError, NotImplementedError) as e:
        print(f"[{engine}] skipped: {e}")
        return None
    voice = pick_voice(engine, lang)
    if voice is None:
        print(f"[{engine}] skipped: no speaker in the bank")
        return None
    text = SENTENCES[voice.lang]
    synth.synthesize(text, voice, render_prosody(spec, "neutral", 1.0, voice, np.random.default_rng(0)))  # warm-up
    rows, synth_s, audio_s, sr = {}, 0.0, 0.0, 0
    for emotion in spec.labels:
        prosody = render_prosody(spec, emotion, 1.0, voice, np.random.default_rng(0))
        t0 = time.perf_counter()
        samples, sr = synth.synthesize(text, voice, prosody)
        synth_s += time.perf_counter() - t0
        audio_s += len(samples) / sr
        x = audio.resample(samples, sr, SAMPLE_RATE)
        m = dsp.measure(x, SAMPLE_RATE)
        vq = dsp.apply_voice_quality(x, SAMPLE_RATE, dsp.voice_quality_for(emotion, 1.0, spec.voice_quality))
        rows[emotion] = {"m": m, "balance": band_ratio_db(vq, SAMPLE_RATE)}
    neutral = rows["neutral"]
    table = {}
    for emotion, r in rows.items():
        m, n = r["m"], neutral["m"]
        table[emotion] = {
            "f0_hz": round(m.f0_mean_hz, 1),
            "f0_ratio": round(m.f0_mean_hz / n.f0_mean_hz, 3) if n.f0_mean_hz else float("nan"),
            "range_st": round(m.f0_range_st, 2),
            "range_diff_st": round(m.f0_range_st - n.f0_range_st, 2),
            "rate_ratio": round(n.speech_s / m.speech_s, 3) if m.speech_s else float("nan"),
            "balance_diff_db": round(r["balance"] - neutral["balance"], 2),
        }
    return {"engine": engine, "voice": voice.id, "lang": voice.lang, "sample_rate": sr,
            "rtf": round(synth_s / audio_s, 3), "emotions": table}  # fmt: skip


def _mark(value: float, rule: float) -> str:
    if rule == 0 or not np.isfinite(value):
        return " "
    return "ok" if np.sign(value) == np.sign(rule) else "NO"


def print_table(result: dict, spec: EmotionSpec) -> int:
    """Print one engine's table; returns the number of cues moving against their rule."""
    print(f"\n## {result['engine']}  voice={result['voice']} ({result['lang']})  "
          f"sr={result['sample_rate']} Hz  RTF={result['rtf']}")  # fmt: skip
    print(f"{'emotion':9} {'F0 Hz':>7} {'F0/neu':>7}    {'range Δst':>9}    {'rate/neu':>8}    {'tilt ΔdB':>8}")
    wrong = 0
    for emotion, row in result["emotions"].items():
        rule = spec.rendering[emotion]
        vq = spec.voice_quality.get(emotion, {})
        marks = [
            _mark(row["f0_ratio"] - 1, rule.get("pitch", 0)),
            _mark(row["range_diff_st"], rule.get("range", 0)),
            _mark(row["rate_ratio"] - 1, rule.get("rate", 0)),
            _mark(row["balance_diff_db"], vq.get("tilt_db", 0)),
        ]
        wrong += marks.count("NO")
        cells = [
            f"{row['f0_ratio']:7.2f} {marks[0]:>2}",
            f"{row['range_diff_st']:+9.2f} {marks[1]:>2}",
            f"{row['rate_ratio']:8.2f} {marks[2]:>2}",
            f"{row['balance_diff_db']:+8.2f} {marks[3]:>2}",
        ]
        print(f"{emotion:9} {row['f0_hz']:7.1f} " + " ".join(cells))
    return wrong


def plot(results: list[dict], labels: tuple[str, ...], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [
        ("f0_ratio", "mean F0 / neutral", 1.0),
        ("range_diff_st", "F0 range − neutral (st)", 0.0),
        ("rate_ratio", "speaking rate / neutral", 1.0),
        ("balance_diff_db", "1–5 kHz balance Δ (dB)", 0.0),
    ]
    emotions = [e for e in labels if e != "neutral"]
    fig, axes = plt.subplots(len(metrics), 1, figsize=(11, 11), sharex=True)
    width = 0.8 / max(1, len(results))
    for ax, (key, title, ref) in zip(axes, metrics, strict=True):
        for i, r in enumerate(results):
            vals = [r["emotions"][e][key] - ref for e in emotions]
            ax.bar(np.arange(len(emotions)) + i * width, vals, width, bottom=ref,
                   label=f"{r['engine']} (RTF {r['rtf']})")  # fmt: skip
        ax.axhline(ref, color="k", lw=0.8)
        ax.set_ylabel(title)
    axes[-1].set_xticks(np.arange(len(emotions)) + width * (len(results) - 1) / 2, emotions)
    axes[0].legend(ncol=4, fontsize=8)
    fig.suptitle("M5SER engines: measured emotion shifts against neutral (intensity 1, no jitter)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engines", nargs="*", default=list(ENGINES))
    ap.add_argument("--lang", default="en", help="preferred language of the speaker per engine")
    ap.add_argument("--out", type=Path, default=ROOT / "out/bench")
    args = ap.parse_args()
    spec = dataclasses.replace(load_emotions(ROOT / "manifests/emotions.yaml"), jitter={})
    results = [r for e in args.engines if (r := bench_engine(e, args.lang, spec)) is not None]
    wrong = sum(print_table(r, spec) for r in results)
    print(f"\ncues moving against their rule: {wrong}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "engines.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    plot(results, spec.labels, args.out / "engines.png")
    print(f"saved {args.out / 'engines.png'} and engines.json")


if __name__ == "__main__":
    main()

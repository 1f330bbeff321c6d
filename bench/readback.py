"""Why a language reads back badly: the audio condition × the ASR set-up, on the same clips.

    python bench/readback.py [--recipe manifests/recipes/mini.yaml] [--per-lang 12] [--langs de fr]
                             [--setups w10 w30 pad30 beam5]

Plans each language with the recipe's plan steps (temporary work folder), takes `--per-lang`
planned clips spread over the emotions, and renders each one with the espeak engine four ways:
``demo`` (the clip's emotion prosody, its speaker's voice variant, voice-quality cues: what the
build makes), ``no_vq`` (without the cues), ``neutral`` (no emotion prosody, the speaker's
offsets only) and ``plain`` (the language's base voice, no variant, no prosody). Each rendering
is heard by Whisper (the model store's ``whisper-base``) with each set-up: ``w10``/``w30`` (the
`asr` step's decoding forced into the clip's language, the log-mel padded to a 10/30 s window),
``pad30`` (the audio padded with zeros before the log-mel, as OpenAI's Whisper does) and
``beam5`` (pad30 with beam search 5). Prints per language × condition × set-up the CER median
(the `asr` step's scoring, spoken-form rules included), the share of clips with CER <= 0.5 and
how often Whisper names the clip's own language. Then, per language on the ``demo``/``w10``
cell, the CER of each transcript against another clip's text of about the same length: what
`asr_filter` has to tell apart from a clip that says its text.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from m5ser import audio
from m5ser.config import load_recipe
from m5ser.pipeline.assemble import language_pipeline
from m5ser.quality.asr import AsrAnnotator, AsrParams, error_rates
from m5ser.quality.whisper import WhisperCT2
from m5ser.schema import Prosody, Utterance, Voice
from m5ser.steps import chain
from m5ser.tts import dsp
from m5ser.tts.engines.espeak import EspeakSynthesizer

ROOT = Path(__file__).resolve().parents[1]
CONDITIONS = ("demo", "no_vq", "neutral", "plain")
SR = 16_000


class AudioPadded(WhisperCT2):
    """OpenAI Whisper's padding: the clip's audio padded with zeros, then the window's log-mel."""

    def _features(self, samples: np.ndarray) -> np.ndarray:
        padded = np.pad(np.asarray(samples, dtype=np.float32), (0, self.frames * 160))
        return self.model.feature_extractor(padded, padding=0)[:, : self.frames]


SETUPS = {
    "w10": lambda: WhisperCT2(window_s=10.0),
    "w30": lambda: WhisperCT2(window_s=30.0),
    "pad30": lambda: AudioPadded(window_s=30.0),
    "beam5": lambda: AudioPadded(window_s=30.0, beam_size=5),
}


def spread(clips: list[Utterance], n: int, seed: int = 7) -> list[Utterance]:
    """`n` clips dealt round-robin over the emotions (seeded)."""
    by: dict[str, list[Utterance]] = defaultdict(list)
    for utt in random.Random(seed).sample(clips, len(clips)):
        by[utt.emotion].append(utt)
    out: list[Utterance] = []
    while len(out) < min(n, len(clips)):
        for emotion in sorted(by):
            if by[emotion] and len(out) < n:
                out.append(by[emotion].pop())
    return out


def render(engine: EspeakSynthesizer, utt: Utterance, voice: Voice, cond: str, vq: dict) -> np.ndarray:
    """One clip rendered in condition `cond` (see the module docstring)."""
    prosody = (
        Prosody(**utt.prosody)
        if cond in ("demo", "no_vq")
        else Prosody(pitch=voice.pitch_offset, rate=voice.rate_offset)
    )
    if cond == "plain":
        voice, prosody = dataclasses.replace(voice, voice=voice.voice.split("+")[0]), Prosody()
    samples, sr = engine.synthesize(utt.text, voice, prosody)
    samples = audio.resample(samples, sr, SR)
    if cond == "demo":
        quality = dsp.voice_quality_for(utt.emotion, utt.intensity, vq)
        samples = dsp.apply_voice_quality(samples, SR, quality, seed=int(utt.id[:8], 16))
    return audio.trim_silence(samples, SR)


def run(recipe_path: Path, per_lang: int, langs: list[str], setups: list[str]) -> None:
    recipe = load_recipe(recipe_path, root=ROOT)
    recipe = dataclasses.replace(recipe, work_dir=Path(tempfile.mkdtemp(prefix="m5ser-bench-readback-")))
    engine = EspeakSynthesizer()
    ears = {name: SETUPS[name]() for name in setups}
    print(f"{'lang':<5}{'condition':<9}" + "".join(f"{s + ' CER p50 / ok / own':>26}" for s in setups))
    for lang in langs:
        pipe = language_pipeline(recipe, lang)
        rules = AsrAnnotator(AsrParams(), pipe.context).rules(lang)
        voices = {v.id: v for v in pipe.context.voices}
        clips = spread(
            [u for u in chain([], pipe.plan) if u.kept and voices[u.speaker_id].engine == "espeak"], per_lang
        )
        heard: dict[tuple[str, str], list[tuple[float, str, str]]] = defaultdict(list)
        for utt in clips:
            for cond in CONDITIONS:
                samples = render(engine, utt, voices[utt.speaker_id], cond, pipe.context.spec.voice_quality)
                for name, ear in ears.items():
                    h = ear.hear([samples], [lang], [min(220, 16 + 3 * len(utt.text))])[0]
                    heard[(cond, name)].append((error_rates(utt.text, h.text, rules, lang)["cer"], h.lang, h.text))
        for cond in CONDITIONS:
            cells = []
            for name in setups:
                rows = heard[(cond, name)]
                cer = [r[0] for r in rows]
                own = sum(r[1] == lang for r in rows) / len(rows)
                cells.append(f"{statistics.median(cer):.2f} / {np.mean(np.array(cer) <= 0.5):.2f} / {own:.2f}")
            print(f"{lang:<5}{cond:<9}" + "".join(f"{c:>26}" for c in cells))
        # Own text vs another clip's text of about the same length (demo rendering, first set-up).
        rows = heard[("demo", setups[0])]
        order = sorted(range(len(clips)), key=lambda i: len(clips[i].text))
        wrong = []
        for k, i in enumerate(order):
            j = order[k + 1] if k + 1 < len(order) else order[k - 1]
            wrong.append(error_rates(clips[j].text, rows[i][2], rules, lang)["cer"])
        own_cer = np.array([r[0] for r in rows])
        line = f"{lang}: CER own text vs another clip's text ({setups[0]}, demo):"
        for t in (0.5, 0.6, 0.7):
            line += f" <= {t}: {np.mean(own_cer <= t):.2f} vs {np.mean(np.array(wrong) <= t):.2f};"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=ROOT / "manifests/recipes/mini.yaml")
    parser.add_argument("--per-lang", type=int, default=12)
    parser.add_argument("--langs", nargs="*", default=["de", "fr"])
    parser.add_argument("--setups", nargs="*", default=list(SETUPS), choices=list(SETUPS))
    args = parser.parse_args()
    run(args.recipe, args.per_lang, args.langs, args.setups)


if __name__ == "__main__":
    main()

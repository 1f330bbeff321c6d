"""Rendered emotions move F0 and rate in the directions the rules in emotions.yaml say."""

from __future__ import annotations

import numpy as np
import pytest

from m5ser.audio import trim_silence
from m5ser.config import load_emotions
from m5ser.schema import Voice
from m5ser.tts.engines.espeak import EspeakSynthesizer
from m5ser.tts.prosody import clip_rng, render

from ..conftest import ROOT

parselmouth = pytest.importorskip("parselmouth")
SPEC = load_emotions(ROOT / "manifests/emotions.yaml")
SENTENCES = {
    "en": "I told you we would leave the house at seven this evening.",
    "de": "Ich habe dir gesagt, dass wir heute Abend um sieben gehen.",
    "zh": "我告诉过你我们今天晚上七点离开家。",
}
VOICES = {"en": "en-us+m1", "de": "de+f1", "zh": "cmn+m3"}


def measure(samples: np.ndarray, sr: int) -> tuple[float, float, float]:
    """Median F0 (Hz), F0 range (p90/p10 in semitones) and speech duration without edge silence (s)."""
    pitch = parselmouth.Sound(samples.astype(np.float64), sampling_frequency=sr).to_pitch(pitch_floor=60)
    f0 = pitch.selected_array["frequency"]
    f0 = f0[f0 > 0]
    f0_range = 12 * np.log2(np.percentile(f0, 90) / np.percentile(f0, 10))
    return float(np.median(f0)), float(f0_range), len(trim_silence(samples, sr)) / sr


@pytest.fixture(scope="module")
def measured() -> dict[tuple[str, str], tuple[float, float, float]]:
    synth = EspeakSynthesizer()
    out = {}
    for lang, text in SENTENCES.items():
        voice = Voice(f"{lang}-v", lang, "espeak", VOICES[lang], "male", "GPL-3.0-or-later")
        for emotion in ("neutral", "angry", "happy", "sad", "fear", "disgust", "surprise"):
            values = []
            for k in range(3):  # average over jitter draws
                prosody = render(SPEC, emotion, 1.0, voice, clip_rng(k, f"{lang}-{emotion}"))
                values.append(measure(*synth.synthesize(text, voice, prosody)))
            out[lang, emotion] = tuple(np.mean(values, axis=0))
    return out


@pytest.mark.parametrize("lang", sorted(SENTENCES))
@pytest.mark.parametrize(
    ("emotion", "f0", "rng", "rate"),
    [  # +1: higher than neutral, -1: lower, 0: not checked (Murray & Arnott 1993, Table I)
        ("angry", +1, +1, +1),
        ("happy", +1, +1, 0),
        ("sad", -1, -1, -1),
        ("fear", +1, 0, +1),
        ("disgust", -1, 0, -1),
        ("surprise", +1, 0, 0),  # range: espeak-ng en measured narrower in semitones at +45 % pitch
    ],
)
def test_direction_against_neutral(measured, lang, emotion, f0, rng, rate):
    base_f0, base_range, base_dur = measured[lang, "neutral"]
    got_f0, got_range, got_dur = measured[lang, emotion]
    if f0:
        assert np.sign(got_f0 - base_f0) == f0, (got_f0, base_f0)
    if rng:
        assert np.sign(got_range - base_range) == rng, (got_range, base_range)
    if rate:  # faster speech = shorter voiced duration for the same sentence
        assert np.sign(base_dur - got_dur) == rate, (got_dur, base_dur)


def test_intensity_scales_the_shift():
    voice = Voice("v", "en", "espeak", "en-us", "male", "GPL-3.0-or-later")
    spec = SPEC
    weak = render(spec, "angry", 0.2, voice, np.random.default_rng(0))
    strong = render(spec, "angry", 1.0, voice, np.random.default_rng(0))
    assert strong.pitch > weak.pitch and strong.rate > weak.rate

"""Shared checks for the synthesizer backends: one sentence per core language, non-silent,
16 kHz after resampling, and angry/happy measured higher in F0 than sad."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest

from m5ser import audio
from m5ser import registry as base
from m5ser.config import load_emotions, load_voices
from m5ser.registry import MissingDependencyError, Synthesizer
from m5ser.schema import SAMPLE_RATE, Prosody, Voice
from m5ser.testing import PROBE_SENTENCES
from m5ser.tts import dsp
from m5ser.tts.prosody import render as render_prosody

from ...conftest import ROOT

CORE = ("en", "de", "fr", "es", "it", "zh")
SENTENCES = PROBE_SENTENCES


def engine_or_skip(name: str) -> Synthesizer:
    """The registered engine, or a skip naming the missing package."""
    try:
        return base.create("synthesizer", name)
    except MissingDependencyError as e:
        pytest.skip(str(e))


def bank_voice(engine: str, lang: str) -> Voice:
    """The first speaker of `engine` in the language's speaker bank."""
    voices = [v for v in load_voices(ROOT / "manifests/voices" / f"{lang}.yaml") if v.engine == engine]
    assert voices, f"no {engine} speaker in manifests/voices/{lang}.yaml"
    return voices[0]


def emotion_prosody(emotion: str, voice: Voice) -> Prosody:
    """The emotion's preset at full intensity, without jitter."""
    spec = dataclasses.replace(load_emotions(ROOT / "manifests/emotions.yaml"), jitter={})
    return render_prosody(spec, emotion, 1.0, voice, np.random.default_rng(0))


@pytest.fixture
def check_language() -> Callable[[str, str], None]:
    def check(engine: str, lang: str) -> None:
        synth = engine_or_skip(engine)
        voice = bank_voice(engine, lang)
        f0: dict[str, float] = {}
        for emotion in ("sad", "angry", "happy"):
            samples, sr = synth.synthesize(SENTENCES[lang], voice, emotion_prosody(emotion, voice))
            assert samples.dtype == np.float32 and samples.ndim == 1
            x = audio.resample(samples, sr, SAMPLE_RATE)
            assert abs(len(x) - len(samples) * SAMPLE_RATE / sr) <= 2
            rms_db = 20 * np.log10(float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) + 1e-12)
            assert rms_db > -40, f"{engine}/{lang}/{emotion}: near-silent ({rms_db:.1f} dBFS)"
            assert len(x) / SAMPLE_RATE > 1.0
            f0[emotion] = dsp.measure(x, SAMPLE_RATE).f0_mean_hz
        assert f0["angry"] > f0["sad"] and f0["happy"] > f0["sad"], f"{engine}/{lang}: {f0}"

    return check

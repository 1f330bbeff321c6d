"""VAD speech ratio, F0 sanity and DNSMOS: speech vs tones and noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from m5ser import audio
from m5ser.quality.f0 import F0Params, f0_metrics
from m5ser.schema import Prosody, Voice
from m5ser.testing import make_utterance

SR = 16_000


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    from m5ser.tts.engines.espeak import EspeakSynthesizer

    samples, sr = EspeakSynthesizer().synthesize(
        "I can't believe you did that to me.", Voice("t", "en", "espeak", "en-us", "male", "GPL-3.0"), Prosody()
    )
    return audio.condition(samples, sr)


def _tone(f0: float, seconds: float) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * f0 * np.arange(round(seconds * SR)) / SR)).astype(np.float32)


def test_f0_octave_jump_and_voicing(speech: np.ndarray) -> None:
    steady = f0_metrics(_tone(150, 1.0), F0Params())
    assert steady["f0_octave_jumps"] == 0.0 and steady["f0_median_hz"] == pytest.approx(150, abs=2)
    jump = f0_metrics(np.concatenate([_tone(150, 0.5), _tone(320, 0.5)]), F0Params())
    assert jump["f0_octave_jumps"] > 0.0
    noise = f0_metrics(0.1 * np.random.default_rng(0).standard_normal(SR).astype(np.float32), F0Params())
    assert noise["f0_voiced_fraction"] < 0.1
    assert 0.3 < f0_metrics(speech, F0Params())["f0_voiced_fraction"] < 1.0


def test_vad_tells_speech_from_tone_and_noise(speech: np.ndarray, tmp_path: Path) -> None:
    pytest.importorskip("silero_vad")
    from m5ser.quality.vad import VadAnnotator

    step = VadAnnotator()
    clips = {"speech": speech, "tone": _tone(220, 2.0), "noise": 0.1 * np.random.default_rng(1).standard_normal(2 * SR)}
    ratios = {}
    for name, samples in clips.items():
        sf.write(str(tmp_path / f"{name}.wav"), np.asarray(samples, dtype=np.float32), SR, subtype="PCM_16")
        ratios[name] = step.measure(make_utterance(audio_path=str(tmp_path / f"{name}.wav")))["vad_speech_ratio"]
    assert ratios["speech"] > 0.5 and ratios["tone"] < 0.1 and ratios["noise"] < 0.1, ratios


@pytest.mark.slow
def test_dnsmos_rates_speech_above_noise(speech: np.ndarray) -> None:
    pytest.importorskip("speechmos")
    from m5ser.quality.dnsmos import dnsmos_metrics

    clean = dnsmos_metrics(speech)
    noisy = dnsmos_metrics(0.1 * np.random.default_rng(0).standard_normal(2 * SR).astype(np.float32))
    assert set(clean) == {"dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"}
    assert clean["dnsmos_ovrl"] > noisy["dnsmos_ovrl"] + 0.5, (clean, noisy)
    with pytest.raises(ValueError, match="all-zero"):
        dnsmos_metrics(np.zeros(SR, dtype=np.float32))

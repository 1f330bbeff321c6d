"""Kokoro-82M backend: a sentence per language it claims, 16 kHz, non-silent, angry/happy above sad in F0."""

from __future__ import annotations

import dataclasses

import pytest

from m5ser.tts.engines.kokoro import KokoroSynthesizer

from .conftest import bank_voice, engine_or_skip

pytestmark = pytest.mark.slow  # ~20 s per language on 2 shared cores (ONNX inference)

LANGS = ["en", "de", "fr", "es", "it", "zh"]  # core languages this engine speaks
EXTRA = ["ja", "ru"]  # further languages of its speaker bank


@pytest.mark.parametrize("lang", LANGS + EXTRA)
def test_synthesizes_with_emotion_f0_order(check_language, lang):
    check_language("kokoro", lang)


def test_english_notation_is_a_voice_option():
    synth = engine_or_skip("kokoro")
    assert isinstance(synth, KokoroSynthesizer)
    english = bank_voice("kokoro", "en")
    assert english.options["phoneme_notation"] == "english"
    plain = dataclasses.replace(english, options={"g2p": "espeak:en-us"})  # default notation: ipa
    assert synth.phonemize("Today, my friend.", english) == "tədˈA, mI fɹˈɛnd."
    assert synth.phonemize("Today, my friend.", plain) == "tədˈeɪ, maɪ fɹˈɛnd."
    with pytest.raises(ValueError, match="phoneme_notation"):
        synth.phonemize("Today.", dataclasses.replace(english, options={"phoneme_notation": "klingon"}))

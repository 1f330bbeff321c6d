"""Kokoro-82M backend: a sentence per language it claims, 16 kHz, non-silent, angry/happy above sad in F0."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow  # ~20 s per language on 2 shared cores (ONNX inference)

LANGS = ["en", "de", "fr", "es", "it", "zh"]  # core languages this engine speaks
EXTRA = ["ja", "ru"]  # further languages of its speaker bank


@pytest.mark.parametrize("lang", LANGS + EXTRA)
def test_synthesizes_with_emotion_f0_order(check_language, lang):
    check_language("kokoro", lang)

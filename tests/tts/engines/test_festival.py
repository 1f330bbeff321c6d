"""Festival backend: a sentence per language it claims, 16 kHz, non-silent, angry/happy above sad in F0."""

from __future__ import annotations

import pytest

LANGS = ["en", "es", "it"]  # core languages this engine speaks
EXTRA = ["ru"]  # further languages of its speaker bank


@pytest.mark.parametrize("lang", LANGS + EXTRA)
def test_synthesizes_with_emotion_f0_order(check_language, lang):
    check_language("festival", lang)

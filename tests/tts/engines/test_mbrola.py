"""MBROLA backend: a sentence per language it claims, 16 kHz, non-silent, angry/happy above sad in F0;
the language options reach its SSML."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from m5ser.schema import Prosody, Voice
from m5ser.tts.engines import mbrola

from .conftest import engine_or_skip

LANGS = ["en", "de", "fr", "es", "it"]  # core languages this engine speaks
EXTRA = []  # further languages of its speaker bank


@pytest.mark.parametrize("lang", LANGS + EXTRA)
def test_synthesizes_with_emotion_f0_order(check_language, lang):
    check_language("mbrola", lang)


@pytest.mark.parametrize(
    ("options", "text", "expected"),
    [
        ({"script": "hiragana"}, "東京です", ">とうきょうです<"),
        ({}, "東京です", ">東京です<"),
        ({"text_units": "characters"}, "我很  高兴", ">我很  高兴<"),  # characters keep the text as it is
        ({}, "我很  高兴", ">我很 高兴<"),  # words are joined by one space
    ],
)
def test_language_options_reach_the_ssml(monkeypatch, options, text, expected):
    synth = engine_or_skip("mbrola")
    sent: list[bytes] = []

    def fake_run(cmd: list[str], *, stdin: bytes) -> bytes:
        sent.append(stdin)
        buf = io.BytesIO()
        sf.write(buf, np.zeros(1600, dtype=np.float32), 16000, format="WAV", subtype="PCM_16")
        return buf.getvalue()

    monkeypatch.setattr(mbrola, "run", fake_run)
    voice = Voice("v", "xx", "mbrola", "mb-de1", "male", "MBROLA-non-commercial", options=options)
    try:
        synth.synthesize(text, voice, Prosody())
    except mbrola.MissingDependencyError as e:
        pytest.skip(str(e))
    assert expected in sent[0].decode()

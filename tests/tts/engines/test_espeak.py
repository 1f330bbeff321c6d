"""espeak-ng backend: real Mandarin, kana for Japanese, and clips independent of history."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest

from m5ser.schema import Prosody, Voice
from m5ser.tts.engines.espeak import EspeakSynthesizer, _Engine, split_phrases

SNIPPET = """
import hashlib
from m5ser.schema import Prosody, Voice
from m5ser.tts.engines.espeak import EspeakSynthesizer
x, _ = EspeakSynthesizer().synthesize("Nein, tut mir leid.", Voice("v", "de", "espeak", "de+f3", "female", "GPL"),
                                      Prosody(pitch=-6, range=-40, pause_ms=150))
print(hashlib.sha256(x.tobytes()).hexdigest())
"""


def digest(x: np.ndarray) -> str:
    return hashlib.sha256(x.tobytes()).hexdigest()


def test_a_clip_does_not_depend_on_what_was_synthesized_before():
    synth = EspeakSynthesizer()
    voice = Voice("v", "de", "espeak", "de+f3", "female", "GPL")  # a breathy variant: uses rand()
    prosody = Prosody(pitch=-6, range=-40, pause_ms=150)
    first = digest(synth.synthesize("Nein, tut mir leid.", voice, prosody)[0])
    synth.synthesize("Etwas ganz anderes, bitte.", Voice("w", "en", "espeak", "en-us+m3", "male", "GPL"), Prosody())
    assert digest(synth.synthesize("Nein, tut mir leid.", voice, prosody)[0]) == first
    other_process = subprocess.run([sys.executable, "-c", SNIPPET], capture_output=True, text=True, check=True)
    assert other_process.stdout.strip() == first


def test_mandarin_is_read_with_tones():
    engine = _Engine.get()
    import ctypes

    engine.lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    engine.lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
    assert engine.lib.espeak_SetVoiceByName(b"cmn") == 0
    text = ctypes.c_char_p("我们今天很高兴".encode())
    phonemes = engine.lib.espeak_TextToPhonemes(ctypes.byref(text), 1, 2).decode()
    assert any(tone in phonemes for tone in "12345"), phonemes  # tone numbers, not English letter names


@pytest.mark.parametrize(("lang", "voice", "text"), [("ja", "ja", "今日はとても嬉しいです"), ("zh", "cmn", "我很高兴")])
def test_cjk_languages_speak(lang, voice, text):
    x, sr = EspeakSynthesizer().synthesize(text, Voice("v", lang, "espeak", voice, "male", "GPL"), Prosody())
    assert sr == 22050 and len(x) > 0.5 * sr and np.abs(x).max() > 0.05


def test_unknown_voice_is_a_value_error():
    with pytest.raises(ValueError, match="no voice 'xx-nope'"):
        EspeakSynthesizer().synthesize("hi", Voice("v", "en", "espeak", "xx-nope", "male", "GPL"), Prosody())


def test_phrases():
    assert split_phrases("Ja. Nein, danke!") == ["Ja.", "Nein,", "danke!"]
    assert split_phrases("no punctuation") == ["no punctuation"]

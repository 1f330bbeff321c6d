"""espeak-ng backend: real Mandarin, language options from the speaker bank, clips independent of history."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from m5ser.config import load_voices
from m5ser.schema import Prosody, Voice
from m5ser.tts import ssml
from m5ser.tts.engines import libespeak
from m5ser.tts.engines.espeak import EspeakSynthesizer

from ...conftest import ROOT

SNIPPET = """
import hashlib
from m5ser.schema import Prosody, Voice
from m5ser.tts.engines.espeak import EspeakSynthesizer
x, _ = EspeakSynthesizer().synthesize("Nein, tut mir leid.", Voice("v", "de", "espeak", "de+f3", "female", "GPL"),
                                      Prosody(pitch=-6, range=-40, pause_ms=150))
print(hashlib.sha256(x.tobytes()).hexdigest())
"""
CONTOUR = Prosody(contour="rise", contour_points=((0, -10), (100, 20)))
# IPA as the phonemizer gave it before it became a public API (kokoro's private `espeak_ipa`).
IPA = {
    ("de", "Ich hätte wirklich nicht erwartet, dich heute hier zu sehen."): (
        "ɪç hˌɛtə vˈɪɾklɪç nˈɪçt ɛɾvˈaɾtət dɪç hˈɔøtə hˈiːɾ tsuː zˈeːən"
    ),
    ("en-us", "I really did not expect to see you here today."): (
        "aɪ ɹˈiəli dɪdnˌɑːt ɛkspˈɛkt tə sˈiː juː hˈɪɹ tədˈeɪ"
    ),
}


def digest(x: np.ndarray) -> str:
    return hashlib.sha256(x.tobytes()).hexdigest()


def bank_options(lang: str) -> dict:
    """The options the speaker bank gives the language's first espeak speaker."""
    return next(v for v in load_voices(ROOT / f"manifests/voices/{lang}.yaml") if v.engine == "espeak").options


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
    phonemes = libespeak.phonemize("我们今天很高兴", "cmn")
    assert any(tone in phonemes for tone in "12345"), phonemes  # tone numbers, not English letter names


@pytest.mark.parametrize(("voice", "text"), list(IPA))
def test_public_phonemizer_gives_the_ipa_it_gave_before(voice, text):
    assert libespeak.phonemize(text, voice) == IPA[(voice, text)]


def test_phonemizer_rejects_an_unknown_voice():
    with pytest.raises(ValueError, match="no voice 'xx-nope'"):
        libespeak.phonemize("hi", "xx-nope")


@pytest.mark.parametrize(("lang", "voice", "text"), [("ja", "ja", "今日はとても嬉しいです"), ("zh", "cmn", "我很高兴")])
def test_cjk_languages_speak(lang, voice, text):
    v = Voice("v", lang, "espeak", voice, "male", "GPL", options=bank_options(lang))
    x, sr = EspeakSynthesizer().synthesize(text, v, Prosody())
    assert sr == 22050 and len(x) > 0.5 * sr and np.abs(x).max() > 0.05


def test_bank_sets_the_language_options():
    assert bank_options("zh") == {"text_units": "characters", "xtts_language": "zh-cn"}
    assert bank_options("ja") == {"text_units": "characters", "script": "hiragana"}
    assert "text_units" not in bank_options("de") and "script" not in bank_options("de")


def test_contour_is_split_per_character_by_the_option(monkeypatch):
    sent: list[str] = []
    synth = EspeakSynthesizer()
    monkeypatch.setattr(synth.engine, "synthesize", lambda doc, _voice: sent.append(doc) or np.zeros(1, np.float32))
    chars = Voice("v", "zh", "espeak", "cmn", "male", "GPL", options={"text_units": "characters"})
    synth.synthesize("我很高兴见到你", chars, CONTOUR)
    groups = '<prosody pitch="-6%">我很</prosody><prosody pitch="+1%">高兴</prosody>'
    groups += '<prosody pitch="+9%">见到</prosody><prosody pitch="+16%">你</prosody>'
    assert sent[-1].endswith(groups + "</prosody></speak>")
    words = Voice("v", "zh", "espeak", "cmn", "male", "GPL")  # no option: word groups, even for Chinese text
    synth.synthesize("我很高兴 见到你", words, CONTOUR)
    assert sent[-1].endswith(
        '<prosody pitch="-2%">我很高兴</prosody> <prosody pitch="+12%">见到你</prosody></prosody></speak>'
    )


def test_japanese_is_read_as_kana_by_the_option(monkeypatch):
    sent: list[str] = []
    synth = EspeakSynthesizer()
    monkeypatch.setattr(synth.engine, "synthesize", lambda doc, _voice: sent.append(doc) or np.zeros(1, np.float32))
    synth.synthesize(
        "東京です", Voice("v", "ja", "espeak", "ja", "male", "GPL", options={"script": "hiragana"}), Prosody()
    )
    synth.synthesize("東京です", Voice("v", "ja", "espeak", "ja", "male", "GPL"), Prosody())
    assert ">とうきょうです</prosody>" in sent[0] and ">東京です</prosody>" in sent[1]


@pytest.mark.parametrize("options", [{"text_units": "syllables"}, {"script": "katakana"}])
def test_unknown_option_values_are_errors(options):
    with pytest.raises(ValueError, match="voice option"):
        EspeakSynthesizer().synthesize(
            "hi", Voice("v", "en", "espeak", "en", "male", "GPL", options=options), Prosody()
        )


def test_unknown_voice_is_a_value_error():
    with pytest.raises(ValueError, match="no voice 'xx-nope'"):
        EspeakSynthesizer().synthesize("hi", Voice("v", "en", "espeak", "xx-nope", "male", "GPL"), Prosody())


def test_phrases():
    assert ssml.split_phrases("Ja. Nein, danke!") == ["Ja.", "Nein,", "danke!"]
    assert ssml.split_phrases("no punctuation") == ["no punctuation"]


FIRST_CLIP = """
import hashlib, sys
from m5ser.tts.engines.libespeak import LibEspeak
x = LibEspeak.get().synthesize_here(sys.argv[1], "de+f3")  # the first clip of a fresh engine, no fork
print(hashlib.sha256((x.astype("<i2")).tobytes()).hexdigest())
"""


def test_zygote_clip_equals_the_first_clip_of_a_fresh_engine():
    doc = '<speak><prosody rate="120%" pitch="+20%">Nein, tut mir leid.</prosody></speak>'
    engine = libespeak.LibEspeak.get()
    engine.synthesize("<speak>Etwas ganz anderes.</speak>", "en-us+m3")  # history the zygote must not keep
    got = np.round(engine.synthesize(doc, "de+f3") * 32768.0).astype("<i2")
    fresh = subprocess.run([sys.executable, "-c", FIRST_CLIP, doc], capture_output=True, text=True, check=True)
    assert hashlib.sha256(got.tobytes()).hexdigest() == fresh.stdout.strip()


def test_zygote_is_started_once_and_replaced_when_it_dies():
    engine = libespeak.LibEspeak.get()
    engine.synthesize("<speak>Hallo.</speak>", "de")
    first = libespeak._Zygote.current()
    engine.synthesize("<speak>Hallo.</speak>", "de")
    assert libespeak._Zygote.current() is first  # one per process, not one per clip
    first.proc.kill()
    first.proc.wait()
    assert len(engine.synthesize("<speak>Hallo.</speak>", "de")) > 0
    assert libespeak._Zygote.current() is not first
    with pytest.raises(ValueError, match="no voice 'xx-nope'"):
        engine.synthesize("<speak>Hallo.</speak>", "xx-nope")  # a child's error reaches the caller


def _children(pid: int) -> list[int]:
    return [int(p) for p in open(f"/proc/{pid}/task/{pid}/children").read().split()]


def test_voice_zygotes_give_the_clips_of_the_zygote_alone_and_stay_bounded():
    docs = [
        ('<speak><prosody pitch="+20%">Nein, tut mir leid.</prosody></speak>', "de+f3"),
        ("<speak>I am so sorry.</speak>", "en-us+m3"),
        ("<speak>Je suis désolé.</speak>", "fr"),
        ('<speak><prosody rate="80%">Noch einmal.</prosody></speak>', "de+f3"),
    ]
    alone, voiced = libespeak._Zygote(max_voice_zygotes=0), libespeak._Zygote(max_voice_zygotes=2)
    try:
        for doc, voice in docs * 2:
            assert voiced.request(doc, voice) == alone.request(doc, voice)
        assert len(_children(voiced.proc.pid)) == 2  # the least recently used voice zygote ended
        assert _children(alone.proc.pid) == []
        with open(f"/proc/{voiced.proc.pid}/maps") as f:
            assert "numpy" not in f.read()  # the zygotes stay small (a cheap fork)
    finally:
        alone.close()
        voiced.close()


def test_a_dead_voice_zygote_is_an_error_then_replaced():
    zygote = libespeak._Zygote(max_voice_zygotes=2)
    try:
        assert zygote.request("<speak>Hallo.</speak>", "de")[:1] == b"A"
        (voice_zygote,) = _children(zygote.proc.pid)
        os.kill(voice_zygote, signal.SIGKILL)
        assert zygote.request("<speak>Hallo.</speak>", "de").startswith(b"ERuntimeError: espeak-ng voice zygote")
        assert zygote.request("<speak>Hallo.</speak>", "de")[:1] == b"A"
        assert _children(zygote.proc.pid) != [voice_zygote]
    finally:
        zygote.close()

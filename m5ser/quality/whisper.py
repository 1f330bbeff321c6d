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
        window_s: float = 30.0,
    ) -> None:
        fw = require("faster_whisper", "quality")
        self.model_id = model
        self.model = fw.WhisperModel(
            resolve_model(model), device=device, compute_type=compute_type, cpu_threads=cpu_threads
        )
        self.tokenizer = self.model.hf_tokenizer
        self.beam_size = beam_size
        # Each clip's mel is padded to this window: 30 s is Whisper's own (faithful); a shorter one
        # makes the encoder cheaper, and 0 encodes only the clip (fastest; decoding then tends to loop).
        self.frames = min(N_FRAMES, round(window_s * 100))
        self._ct2 = require("ctranslate2", "quality")

    def _token(self, text: str) -> int:
        token = self.tokenizer.token_to_id(text)
        if token is None:
            raise ValueError(f"Whisper model '{self.model_id}' has no token {text}")
        return token

    def _features(self, audio: np.ndarray) -> np.ndarray:
        feats = self.model.feature_extractor(np.asarray(audio, dtype=np.float32))[:, :N_FRAMES]
        if feats.shape[1] < self.frames:
            feats = np.pad(feats, ((0, 0), (0, self.frames - feats.shape[1])))
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


class WhisperHF:
    """A transformers Whisper (`WhisperForConditionalGeneration`) by hub id or folder.

    Language ID from the first decoder step's distribution over the language tokens; greedy
    decoding forced into the clip's language (no KV cache: simple, fine for short clips)."""

    name = "whisper-hf"

    def __init__(self, model: str = "openai/whisper-base", device: str = "cpu") -> None:
        transformers = require("transformers", "hub")
        self.torch = require("torch", "hub")
        self.model_id = model
        path = resolve_model(model)
        self.processor = transformers.WhisperProcessor.from_pretrained(path)
        self.model = transformers.WhisperForConditionalGeneration.from_pretrained(path).to(device).eval()
        self.device = device  # transformers' encoder takes Whisper's full 30 s window only
        tok = self.processor.tokenizer
        vocab = tok.get_vocab()
        self.lang_ids = {t[2:-2]: i for t, i in vocab.items() if _is_lang_token(t)}
        if not self.lang_ids:
            raise ValueError(f"Whisper model '{model}': its tokenizer has no language tokens (<|en|>, ...)")
        self.special = {i for t, i in vocab.items() if t.startswith("<|") and t.endswith("|>")}
        self.sot, self.eot = vocab["<|startoftranscript|>"], vocab["<|endoftext|>"]
        self.prompt_tail = [vocab["<|transcribe|>"], vocab["<|notimestamps|>"]]

    def hear(self, audios: Sequence[np.ndarray], langs: Sequence[str], max_tokens: Sequence[int]) -> list[Heard]:
        """Language ID and a greedy transcript in `langs[i]` for each 16 kHz clip (one batch)."""
        if not audios:
            return []
        torch = self.torch
        fe = self.processor.feature_extractor
        feats = fe([np.asarray(a, dtype=np.float32) for a in audios], sampling_rate=SAMPLE_RATE, return_tensors="pt")
        features = feats.input_features.to(self.device)
        with torch.no_grad():
            encoded = self.model.model.encoder(features)
            first = self.model(encoder_outputs=encoded, decoder_input_ids=torch.full((len(audios), 1), self.sot))
            codes = list(self.lang_ids)
            probs = first.logits[:, -1, [self.lang_ids[c] for c in codes]].softmax(-1)
            tokens = torch.tensor(
                [[self.sot, self.lang_ids.get(lang, self.lang_ids[codes[0]]), *self.prompt_tail] for lang in langs]
            )
            done = torch.zeros(len(audios), dtype=torch.bool)
            room = self.model.config.max_target_positions - tokens.shape[1]
            for _ in range(min(max(max_tokens), room)):
                logits = self.model(encoder_outputs=encoded, decoder_input_ids=tokens).logits[:, -1]
                step = torch.where(done, torch.full_like(done, self.eot, dtype=torch.long), logits.argmax(-1))
                tokens = torch.cat([tokens, step[:, None]], dim=1)
                done |= step == self.eot
                if bool(done.all()):
                    break
        heard = []
        for i, (lang, limit) in enumerate(zip(langs, max_tokens, strict=True)):
            ids = [int(t) for t in tokens[i, 4 : 4 + limit] if int(t) not in self.special and int(t) != self.eot]
            best = int(probs[i].argmax())
            own = float(probs[i, codes.index(lang)]) if lang in self.lang_ids else 0.0
            text = self.processor.tokenizer.decode(ids, skip_special_tokens=True).strip()
            heard.append(Heard(text, codes[best], float(probs[i, best]), own))
        return heard

    def transcribe(self, audio: np.ndarray, sample_rate: int, lang: str) -> str:
        """The `Transcriber` protocol: one clip's transcript in `lang`."""
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"WhisperHF expects {SAMPLE_RATE} Hz audio, got {sample_rate}")
        return self.hear([audio], [lang], [224])[0].text


def _is_lang_token(token: str) -> bool:
    """``<|de|>``-style tokens (2-3 lower-case letters, plus Whisper's ``<|haw|>``, ``<|yue|>``)."""
    inner = token[2:-2]
    return (
        token.startswith("<|") and token.endswith("|>") and 2 <= len(inner) <= 3 and inner.isalpha() and inner.islower()
    )


def load_whisper(backend: str, **options: Any) -> WhisperCT2 | WhisperHF:
    """The Whisper backend named in the recipe: ``ct2`` (faster-whisper) or ``transformers``."""
    if backend == "ct2":
        return WhisperCT2(**options)
    if backend == "transformers":
        options = {k: v for k, v in options.items() if k in ("model", "device")}
        return WhisperHF(**options)
    raise ValueError(f"unknown Whisper backend '{backend}'; known: ct2, transformers")

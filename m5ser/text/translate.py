"""Translators: identity, Apertium chains (offline, Debian) and HF seq2seq models (hub)."""

from __future__ import annotations

import shutil
import subprocess
from collections import deque
from collections.abc import Sequence
from typing import Any

from m5ser.registry import require

# Apertium modes installed by the project's apt step (apertium-eng-spa, -fr-es, -spa-ita).
DEFAULT_APERTIUM_MODES: dict[str, str] = {
    "en-es": "eng-spa",
    "es-en": "spa-eng",
    "es-fr": "es-fr",
    "fr-es": "fr-es",
    "es-it": "spa-ita",
    "it-es": "ita-spa",
}


class IdentityTranslator:
    """The source language itself: text passes through unchanged."""

    name = "identity"

    def translate(self, texts: Sequence[str], src: str, tgt: str) -> list[str]:
        if src != tgt:
            raise ValueError(f"identity translation cannot go from '{src}' to '{tgt}'")
        return list(texts)


def find_route(modes: dict[str, str], src: str, tgt: str) -> list[str] | None:
    """Shortest chain of pair keys from `src` to `tgt`, e.g. en→es→fr; None if none exists.

    >>> find_route(DEFAULT_APERTIUM_MODES, "en", "it")
    ['en-es', 'es-it']
    """
    edges: dict[str, list[str]] = {}
    for pair in modes:
        a, b = pair.split("-")
        edges.setdefault(a, []).append(b)
    queue: deque[tuple[str, list[str]]] = deque([(src, [])])
    seen = {src}
    while queue:
        lang, path = queue.popleft()
        if lang == tgt:
            return path
        for nxt in edges.get(lang, []):
            if nxt not in seen:
                seen.add(nxt)
                queue.append((nxt, [*path, f"{lang}-{nxt}"]))
    return None


class ApertiumTranslator:
    """Rule-based translation by chaining Apertium modes (rough but offline)."""

    name = "apertium"

    def __init__(self, modes: dict[str, str] | None = None, binary: str = "apertium") -> None:
        self.modes = dict(modes or DEFAULT_APERTIUM_MODES)
        self.binary = binary

    def route(self, src: str, tgt: str) -> list[str]:
        route = find_route(self.modes, src, tgt)
        if route is None:
            raise ValueError(f"apertium has no route from '{src}' to '{tgt}' (pairs: {sorted(self.modes)})")
        return route

    def translate(self, texts: Sequence[str], src: str, tgt: str) -> list[str]:
        if shutil.which(self.binary) is None:
            raise FileNotFoundError("apertium is not installed (Debian: apt-get install apertium apertium-eng-spa ...)")
        lines = [" ".join(t.split()) for t in texts]
        for pair in self.route(src, tgt):
            out = subprocess.run(
                [self.binary, "-u", self.modes[pair]],
                input="\n".join(lines) + "\n",
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split("\n")
            out = [line.strip() for line in out]
            if len(out) > len(lines):
                out = out[: len(lines)]
            if len(out) != len(lines):
                raise RuntimeError(f"apertium {self.modes[pair]} returned {len(out)} lines for {len(lines)}")
            lines = out
        return lines


class HFSeq2SeqTranslator:
    """Any transformers seq2seq translation model (Marian/Opus-MT, NLLB-200, M2M100).

    `lang_codes` maps our language codes onto the model's (NLLB: ``{"de": "deu_Latn"}``);
    models with a single direction (Marian) need none.
    """

    name = "hf-seq2seq"

    def __init__(
        self,
        model: str,
        lang_codes: dict[str, str] | None = None,
        batch_size: int = 16,
        max_new_tokens: int = 256,
        num_beams: int = 4,
        device: str | None = None,
    ) -> None:
        transformers = require("transformers", "hub")
        torch = require("torch", "hub")
        self.torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(model)
        self.model = transformers.AutoModelForSeq2SeqLM.from_pretrained(model).to(self.device).eval()
        self.lang_codes = dict(lang_codes or {})
        self.batch_size, self.max_new_tokens, self.num_beams = batch_size, max_new_tokens, num_beams

    def _generate_kwargs(self, tgt: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "num_beams": self.num_beams}
        if tgt in self.lang_codes:
            kwargs["forced_bos_token_id"] = self.tokenizer.convert_tokens_to_ids(self.lang_codes[tgt])
        return kwargs

    def translate(self, texts: Sequence[str], src: str, tgt: str) -> list[str]:
        if src in self.lang_codes and hasattr(self.tokenizer, "src_lang"):
            self.tokenizer.src_lang = self.lang_codes[src]
        out: list[str] = []
        for i in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(list(texts[i : i + self.batch_size]), return_tensors="pt", padding=True)
            with self.torch.no_grad():
                ids = self.model.generate(**batch.to(self.device), **self._generate_kwargs(tgt))
            out += [t.strip() for t in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]
        return out

"""The translate step and its backends: identity, parallel, Apertium chains (offline,
Debian) and HF seq2seq models (hub).

`Translate` sends the language's sentences to the translator named by
``languages.<lang>.translate`` (its keyword arguments: ``translate_options``) in batches,
and records the route in ``translation_backend``. ``identity`` (the source text itself) and
``parallel`` (the corpus's own line in the language, a human translation, read by the
reader) are backends like the others: they pass the text through unchanged.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from m5ser import registry
from m5ser.registry import require
from m5ser.schema import Utterance
from m5ser.steps import BatchStep

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
    same_language = True  # reads the sources in the language itself (no translate_from)

    def route(self, src: str, tgt: str) -> list[str]:
        if src != tgt:
            raise ValueError(f"{self.name} cannot go from '{src}' to '{tgt}' (remove translate_from)")
        return []

    def translate(self, texts: Sequence[str], src: str, tgt: str) -> list[str]:
        self.route(src, tgt)
        return list(texts)


class ParallelTranslator(IdentityTranslator):
    """The corpus's own line in the target language (a human translation the reader read)."""

    name = "parallel"


@dataclass(frozen=True)
class TranslateParams:
    batch_size: int = 64  # sentences per translator call


class Translate(BatchStep):
    """Translates every kept sentence into the language, batched per source language."""

    name = "translate"
    Params = TranslateParams
    stage = "plan"

    def process_all(self, items: list[Utterance]) -> list[Utterance]:
        if not items:
            return []
        ctx = self.context
        cfg = ctx.recipe.languages[ctx.lang]
        translator = registry.create("translator", cfg.translate, **cfg.translate_options)
        by_source: dict[str, list[Utterance]] = defaultdict(list)
        for utt in items:
            by_source[utt.source_lang].append(utt)
        size = max(1, self.params.batch_size)
        for src, group in by_source.items():
            for i in range(0, len(group), size):
                batch = group[i : i + size]
                texts = translator.translate([u.source_text for u in batch], src, ctx.lang)
                if len(texts) != len(batch):
                    raise RuntimeError(f"translator '{cfg.translate}' returned {len(texts)} texts for {len(batch)}")
                for utt, text in zip(batch, texts, strict=True):
                    utt.text, utt.translation_backend = text, cfg.translate
                self.counts["translator_calls"] += 1
        return items


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

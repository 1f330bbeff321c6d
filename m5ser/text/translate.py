"""The translate step and its backends: identity, parallel, Apertium chains (offline,
Debian) and HF seq2seq models (hub).

`Translate` sends the language's sentences to the translator named by
``languages.<lang>.translate`` (its keyword arguments: ``translate_options``) in batches,
and records the route in ``translation_backend``. ``identity`` (the source text itself) and
``parallel`` (the corpus's own line in the language, a human translation, read by the
reader) are backends like the others: they pass the text through unchanged. ``routes``
picks a backend per source language (e.g. a language's own lines ``parallel``, English
neutral lines through ``apertium``).

Machine translations are kept in a persistent cache (`TranslationCache`, SQLite under
``<work_dir>/cache/``) keyed by backend, model id, prompt hash, languages and text, so a
rebuild translates only what is new; the step counts ``cache_hits`` and ``cache_misses``.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
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

    def cache_id(self, src: str, tgt: str) -> str | None:
        """What identifies this backend's output besides the text (None: not worth caching)."""
        return None


class ParallelTranslator(IdentityTranslator):
    """The corpus's own line in the target language (a human translation the reader read)."""

    name = "parallel"


class RoutesTranslator:
    """A backend per source language: ``routes: {es: parallel, en: apertium}`` (a value may
    also be ``{backend: NAME, options: {...}}``). Every route must reach the target."""

    name = "routes"
    same_language = True  # the language's own lines are one of the routes

    def __init__(self, routes: dict[str, Any]) -> None:
        if not routes:
            raise ValueError("routes: give at least one source language and its backend")
        self.backends: dict[str, Any] = {}
        for src, value in routes.items():
            name, options = (value, {}) if isinstance(value, str) else (value["backend"], value.get("options", {}))
            if name == self.name:
                raise ValueError("routes: a route cannot be 'routes' itself")
            self.backends[src] = registry.create("translator", name, **options)

    def backend(self, src: str) -> Any:
        try:
            return self.backends[src]
        except KeyError:
            raise ValueError(
                f"routes has no backend for source language '{src}' (has: {sorted(self.backends)})"
            ) from None

    def route(self, src: str, tgt: str) -> list[str]:
        """Checks every route to `tgt`; returns them as ``src:backend[:pairs]`` descriptions."""
        out = []
        for lang, backend in sorted(self.backends.items()):
            pairs = backend.route(lang, tgt) if hasattr(backend, "route") else []
            out.append(":".join([lang, backend.name, *(["+".join(pairs)] if pairs else [])]))
        return out

    def backend_name(self, src: str) -> str:
        return str(self.backend(src).name)

    def cache_id(self, src: str, tgt: str) -> str | None:
        inner = self.backend(src)
        return inner.cache_id(src, tgt) if hasattr(inner, "cache_id") else None

    def translate(self, texts: Sequence[str], src: str, tgt: str) -> list[str]:
        return self.backend(src).translate(texts, src, tgt)


class TranslationCache:
    """Translations by key (backend and model id, prompt hash, languages, text) in one SQLite
    file; writes are transactions, so a crashed run leaves whole rows or none."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=60)
        self.db.execute("CREATE TABLE IF NOT EXISTS translation (key TEXT PRIMARY KEY, text TEXT NOT NULL)")

    @staticmethod
    def key(cache_id: str, src: str, tgt: str, text: str) -> str:
        return hashlib.blake2b("\x1f".join([cache_id, src, tgt, text]).encode(), digest_size=16).hexdigest()

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for i in range(0, len(keys), 500):
            chunk = list(keys[i : i + 500])
            marks = ",".join("?" * len(chunk))
            found.update(self.db.execute(f"SELECT key, text FROM translation WHERE key IN ({marks})", chunk))
        return found

    def put_many(self, rows: Sequence[tuple[str, str]]) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO translation (key, text) VALUES (?, ?)", rows)

    def close(self) -> None:
        self.db.close()


@dataclass(frozen=True)
class TranslateParams:
    batch_size: int = 64  # sentences per translator call
    cache: bool = True  # keep machine translations in <work_dir>/cache/translations.sqlite


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
        cache = TranslationCache(ctx.recipe.work_dir / "cache" / "translations.sqlite") if self.params.cache else None
        try:
            for src, group in by_source.items():
                backend = translator.backend_name(src) if hasattr(translator, "backend_name") else cfg.translate
                texts = self._translate(translator, cache, [u.source_text for u in group], src, ctx.lang)
                for utt, text in zip(group, texts, strict=True):
                    utt.text, utt.translation_backend = text, backend
        finally:
            if cache is not None:
                cache.close()
        return items

    def _translate(
        self, translator: Any, cache: TranslationCache | None, sources: list[str], src: str, tgt: str
    ) -> list[str]:
        """`sources` translated, from the cache where the backend's output was kept before."""
        cache_id = translator.cache_id(src, tgt) if cache is not None and hasattr(translator, "cache_id") else None
        keys = [TranslationCache.key(cache_id, src, tgt, t) for t in sources] if cache_id else []
        found = cache.get_many(keys) if cache is not None and cache_id else {}
        todo = sorted({t for t, k in zip(sources, keys, strict=False) if k not in found} if cache_id else set(sources))
        if cache_id:
            self.counts["cache_hits"] += len(sources) - sum(1 for k in keys if k not in found)
            self.counts["cache_misses"] += sum(1 for k in keys if k not in found)
        done: dict[str, str] = {}
        size = max(1, self.params.batch_size)
        for i in range(0, len(todo), size):
            batch = todo[i : i + size]
            texts = translator.translate(batch, src, tgt)
            if len(texts) != len(batch):
                raise RuntimeError(f"translator '{translator.name}' returned {len(texts)} texts for {len(batch)}")
            done.update(zip(batch, texts, strict=True))
            self.counts["translator_calls"] += 1
            if cache is not None and cache_id:
                cache.put_many(
                    [(TranslationCache.key(cache_id, src, tgt, s), t) for s, t in zip(batch, texts, strict=True)]
                )
        if cache_id:
            return [found[k] if k in found else done[s] for s, k in zip(sources, keys, strict=True)]
        return [done[s] for s in sources]


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

    def cache_id(self, src: str, tgt: str) -> str:
        return "apertium:" + "+".join(self.modes[pair] for pair in self.route(src, tgt))

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

    `lang_codes` maps our language codes onto the model's language tokens (NLLB:
    ``{"de": "deu_Latn"}``, M2M100: ``{"de": "__de__"}``); models with a single direction
    (Marian) need none. Texts are batched by length on `device` (default: CUDA if available).
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
        self.model_id = model
        self.lang_codes = dict(lang_codes or {})
        self.batch_size, self.max_new_tokens, self.num_beams = batch_size, max_new_tokens, num_beams

    def route(self, src: str, tgt: str) -> list[str]:
        """One direction per model (Marian) or the model's language codes (NLLB, M2M100)."""
        if self.lang_codes:
            missing = [lang for lang in (src, tgt) if lang not in self.lang_codes]
            if missing:
                raise ValueError(f"hf-seq2seq {self.model_id}: no lang_codes for {missing}")
        return [f"{src}-{tgt}"]

    def cache_id(self, src: str, tgt: str) -> str:
        codes = f"{self.lang_codes.get(src, '')}>{self.lang_codes.get(tgt, '')}"
        return f"hf-seq2seq:{self.model_id}:{codes}:beams={self.num_beams}:max={self.max_new_tokens}"

    def _generate_kwargs(self, tgt: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "num_beams": self.num_beams}
        if tgt in self.lang_codes:
            kwargs["forced_bos_token_id"] = self.tokenizer.convert_tokens_to_ids(self.lang_codes[tgt])
        return kwargs

    def translate(self, texts: Sequence[str], src: str, tgt: str) -> list[str]:
        """Batches of similar length (less padding), generated on `device`, in input order."""
        self.route(src, tgt)
        if src in self.lang_codes and hasattr(self.tokenizer, "src_lang"):
            code = self.lang_codes[src]
            by_token = {t: c for c, t in getattr(self.tokenizer, "lang_code_to_token", {}).items()}
            self.tokenizer.src_lang = by_token.get(code, code)  # M2M100 wants "en" for the token "__en__"
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[str] = [""] * len(texts)
        for i in range(0, len(order), self.batch_size):
            idx = order[i : i + self.batch_size]
            batch = self.tokenizer([texts[j] for j in idx], return_tensors="pt", padding=True)
            with self.torch.no_grad():
                ids = self.model.generate(**batch.to(self.device), **self._generate_kwargs(tgt))
            for j, text in zip(idx, self.tokenizer.batch_decode(ids, skip_special_tokens=True), strict=True):
                out[j] = text.strip()
        return out

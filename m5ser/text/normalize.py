"""Text normalization for TTS: the spoken form of a sentence, the written one kept beside it.

Per language (``manifests/normalize.yaml``, beside the recipe's emotions file): abbreviations
expanded, symbols the engines read oddly or skip (``%``, ``&``, ``€`` ...) replaced by
words, numbers spelled out with ``num2words`` (cardinals, decimals with the language's
decimal mark, ordinals written ``1st``/``2nd`` in English). Spacing is tidied afterwards.

Where the written text goes: ``metrics["written_text"]``, set only when the spoken text
differs. ``source_text`` already holds the source-language sentence, and a new Utterance
field would change every manifest and the Parquet column list for a value most clips do not
have; ``metrics`` is the record's open dict and reaches ``manifests/<lang>.jsonl``.

Sentences longer than ``max_chars`` are split at sentence ends into parts of at most
``max_chars`` (greedy packing); each part is a sentence of its own (source id
``<id>#<k>``, ``metrics["sentence_of"]`` the original source id, so the cast keeps every
part in the split of the whole sentence). A single sentence still over the limit is
dropped as ``too_long``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from m5ser.config import RecipeError
from m5ser.registry import require
from m5ser.schema import Utterance, sentence_id
from m5ser.steps import MapStep


@dataclass(frozen=True)
class LangRules:
    """The normalization rules of one language."""

    num2words: str | None = None  # num2words language code; None: digits are kept
    decimal: str = "."  # the decimal mark written in this language
    symbols: dict[str, str] = field(default_factory=dict)
    abbreviations: dict[str, str] = field(default_factory=dict)


@functools.lru_cache(maxsize=8)
def load_rules(path: Path) -> dict[str, LangRules]:
    """Every language's rules from `path` (a key this file does not know is an error)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    rules = {}
    for lang, raw in data.items():
        unknown = set(raw) - {"num2words", "decimal", "symbols", "abbreviations"}
        if unknown:
            raise RecipeError(f"{path}: {lang}: unknown key(s) {sorted(unknown)}")
        rules[str(lang)] = LangRules(
            num2words=raw.get("num2words"),
            decimal=str(raw.get("decimal", ".")),
            symbols=dict(raw.get("symbols") or {}),
            abbreviations=dict(raw.get("abbreviations") or {}),
        )
    return rules


_PREFIX_CURRENCY = re.compile(r"([$€£])\s?(\d+(?:[.,]\d+)?)")
_ORDINAL_EN = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s*")


def _number_pattern(decimal: str) -> re.Pattern[str]:
    """A number with an optional decimal part in the language's mark (thousands not grouped);
    not inside a Latin word or code (CJK characters may touch it)."""
    return re.compile(r"(?<![A-Za-z0-9.,])(\d+)(?:" + re.escape(decimal) + r"(\d+))?(?![A-Za-z0-9])")


def normalize_text(text: str, lang: str, rules: LangRules) -> str:
    """The spoken form of `text` under `rules`.

    >>> normalize_text("Dr. Who won 2 of 3 games (50%) & left.", "en", load_rules(_DEFAULT_RULES)["en"])
    'Doctor Who won two of three games (fifty percent) and left.'
    """
    out = text
    for short, full in sorted(rules.abbreviations.items(), key=lambda kv: -len(kv[0])):
        out = re.sub(r"(?<!\w)" + re.escape(short) + r"(?=\s|$)", full, out)
    out = _PREFIX_CURRENCY.sub(r"\2 \1", out)  # "$5" is said "five dollars": amount first
    if rules.num2words:
        num2words = require("num2words", "text").num2words
        code = rules.num2words
        if code == "en":
            out = _ORDINAL_EN.sub(lambda m: num2words(int(m.group(1)), lang=code, to="ordinal"), out)

        def spell(m: re.Match[str]) -> str:
            value: Any = int(m.group(1)) if m.group(2) is None else float(f"{m.group(1)}.{m.group(2)}")
            return str(num2words(value, lang=code))

        out = _number_pattern(rules.decimal).sub(spell, out)
    for symbol, word in rules.symbols.items():
        out = out.replace(symbol, word)
    out = re.sub(r"\s+([,.;:!?)])", r"\1", " ".join(out.split()))
    return re.sub(r"\(\s+", "(", out)


def split_sentences(text: str, max_chars: int) -> list[str] | None:
    """`text` packed into parts of at most `max_chars` at sentence ends; None if impossible.

    >>> split_sentences("One. Two! Three?", 10)
    ['One. Two!', 'Three?']
    """
    if len(text) <= max_chars:
        return [text]
    parts: list[str] = []
    for sentence in (s.strip() for s in _SENTENCE_END.split(text) if s.strip()):
        if len(sentence) > max_chars:
            return None
        if parts and len(parts[-1]) + 1 + len(sentence) <= max_chars:
            parts[-1] = f"{parts[-1]} {sentence}"
        else:
            parts.append(sentence)
    return parts


_DEFAULT_RULES = Path(__file__).resolve().parents[2] / "manifests" / "normalize.yaml"


@dataclass(frozen=True)
class NormalizeParams:
    rules: str = ""  # rules file; empty: normalize.yaml beside the recipe's emotions file
    max_chars: int = 0  # split longer texts at sentence ends (0: no limit)


class Normalize(MapStep):
    """Spoken text for the engines; the written text in ``metrics["written_text"]``."""

    name = "normalize"
    Params = NormalizeParams

    def rules(self, lang: str) -> LangRules:
        path = (
            Path(self.params.rules)
            if self.params.rules
            else self.context.recipe.emotions_file.parent / "normalize.yaml"
        )
        table = load_rules(path)
        if lang not in table:
            raise RecipeError(f"{path}: no normalization rules for language '{lang}'")
        return table[lang]

    def process(self, utt: Utterance) -> list[Utterance]:
        spoken = normalize_text(utt.text, utt.lang, self.rules(utt.lang))
        if spoken != utt.text:
            utt.metrics["written_text"] = utt.text
            utt.text = spoken
            self.counts["normalized"] += 1
        limit = self.params.max_chars
        if not limit or len(spoken) <= limit:
            return [utt]
        parts = split_sentences(spoken, limit)
        if parts is None:
            return [self.drop(utt, "too_long")]
        self.counts["split"] += 1
        out = []
        for k, part in enumerate(parts, 1):
            source_id = f"{utt.source_id}#{k}"
            metrics = {**utt.metrics, "sentence_of": utt.source_id, "part": f"{k}/{len(parts)}"}
            metrics.setdefault("written_text", spoken)
            out.append(
                replace(utt, id=sentence_id(source_id, utt.lang), source_id=source_id, text=part, metrics=metrics)
            )
        return out

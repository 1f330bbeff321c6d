"""Readers for emotion-labelled text: XED, GoEmotions (Ekman 7) and user CSV/JSONL.

Each reader yields `TextItem`s with labels already mapped onto the M5SER label set through
the corpus map in `emotions.yaml`. Multi-label lines are kept only when exactly one
mappable label remains (``multi_label: single``, the default) or take their first
mappable label (``multi_label: first``). A malformed row raises `SourceError` naming the
file, line and field; with ``strict: false`` it is skipped and counted instead.
"""

from __future__ import annotations

import csv
import logging
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from m5ser.config import EmotionSpec, SourceConfig
from m5ser.manifest import ManifestError, iter_jsonl

log = logging.getLogger(__name__)


class SourceError(ValueError):
    """A malformed line in a text source."""

    def __init__(self, path: Path, line: int, field_name: str, message: str) -> None:
        super().__init__(f"{path}:{line}: field '{field_name}': {message}")
        self.path, self.line, self.field = path, line, field_name


@dataclass(frozen=True, slots=True)
class TextItem:
    source_id: str
    corpus: str
    lang: str
    text: str
    emotion: str


@dataclass
class ReadStats:
    """What a reader kept and why it skipped the rest."""

    kept: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)


def _map_labels(raw: list[str], mapping: dict[str, str | None], policy: str) -> str | None:
    mapped = [mapping.get(label) for label in raw]
    labels = [m for m in mapped if m is not None]
    if policy == "first":
        return labels[0] if labels else None
    distinct = set(labels)
    return labels[0] if len(distinct) == 1 else None


class _Reader:
    """Shared bookkeeping: label mapping, strictness, stats."""

    corpus = ""

    def __init__(self, source: SourceConfig, spec: EmotionSpec) -> None:
        self.source = source
        self.mapping = spec.label_map(self.map_name, source.label_overrides)
        self.strict = bool(source.options.get("strict", True))
        self.policy = str(source.options.get("multi_label", "single"))
        if self.policy not in ("single", "first"):
            raise ValueError(f"sources.{source.name}.options.multi_label must be single or first")
        self.stats = ReadStats()

    map_name = ""

    def bad(self, path: Path, line: int, field_name: str, message: str) -> None:
        if self.strict:
            raise SourceError(path, line, field_name, message)
        self.stats.skipped[f"malformed:{field_name}"] += 1

    def item(self, source_id: str, lang: str, text: str, raw_labels: list[str]) -> TextItem | None:
        text = " ".join(text.split())
        if not text:
            self.stats.skipped["empty_text"] += 1
            return None
        unknown = [label for label in raw_labels if label not in self.mapping]
        if unknown:
            raise KeyError(f"label(s) {unknown} not in the '{self.map_name}' map")
        emotion = _map_labels(raw_labels, self.mapping, self.policy)
        if emotion is None:
            self.stats.skipped["no_single_label"] += 1
            return None
        self.stats.kept[emotion] += 1
        return TextItem(source_id, self.source.name, lang, text, emotion)

    def read(self, lang: str) -> Iterator[TextItem]:
        raise NotImplementedError(f"{type(self).__name__}.read")


def _split_labels(field_value: str) -> list[str]:
    return [p.strip() for p in field_value.split(",") if p.strip()]


class XedReader(_Reader):
    """XED: `AnnotatedData/<lang>-annotated.tsv` + `neu_<lang>.txt` (human labels, en/fi) or
    `Projections/<code>-projections.tsv` (native subtitle lines with projected labels).

    Option ``projections: {zh: cn}`` picks the projection file code for a language.
    """

    map_name = "xed"

    def files(self, lang: str) -> list[tuple[Path, str]]:
        root = self.source.path
        annotated = root / "AnnotatedData" / f"{lang}-annotated.tsv"
        if annotated.exists():
            files = [(annotated, "annotated")]
            neutral = root / "AnnotatedData" / f"neu_{lang}.txt"
            if neutral.exists():
                files.append((neutral, "neutral"))
            return files
        code = dict(self.source.options.get("projections") or {}).get(lang, lang)
        projected = root / "Projections" / f"{code}-projections.tsv"
        if projected.exists():
            return [(projected, "projected")]
        raise FileNotFoundError(
            f"XED has no lines for '{lang}' under {root} (looked for {annotated.name} and {projected.name}); "
            "use a translator backend for this language"
        )

    def read(self, lang: str) -> Iterator[TextItem]:
        for path, kind in self.files(lang):
            with path.open(encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    line = line.rstrip("\n")
                    if not line.strip():
                        continue
                    cols = line.split("\t")
                    if len(cols) != 2:
                        self.bad(path, lineno, "columns", f"expected 2 tab-separated columns, got {len(cols)}")
                        continue
                    text, labels = (cols[1], [cols[0].strip()]) if kind == "neutral" else (cols[0], cols[1])
                    raw = labels if isinstance(labels, list) else _split_labels(labels)
                    if not raw or not all(r.isdigit() for r in raw):
                        self.bad(path, lineno, "labels", f"expected comma-separated label ids, got {labels!r}")
                        continue
                    try:
                        item = self.item(f"xed-{path.stem}-{lineno}", lang, text, raw)
                    except KeyError as e:
                        self.bad(path, lineno, "labels", str(e))
                        continue
                    if item is not None:
                        yield item


_PLACEHOLDER = re.compile(r"\[[A-Z]+\]")  # GoEmotions masks names etc. as [NAME], [RELIGION]


class GoEmotionsReader(_Reader):
    """GoEmotions Ekman-7 TSVs (`text`, `label` indices into `labels.txt`, `id`); English only.
    Lines with masked tokens such as ``[NAME]`` are skipped (they would be read out literally).

    Option ``splits: [train, valid, test]`` picks the files.
    """

    map_name = "goemotions_ekman"

    def read(self, lang: str) -> Iterator[TextItem]:
        if lang != "en":
            raise FileNotFoundError(f"GoEmotions is English only; no lines for '{lang}'")
        root = self.source.path
        names = (root / "labels.txt").read_text(encoding="utf-8").split()
        for split in self.source.options.get("splits", ["train"]):
            path = root / f"{split}.tsv"
            with path.open(encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    cols = line.rstrip("\n").split("\t")
                    if lineno == 1 and cols[:2] == ["text", "label"]:
                        continue
                    if len(cols) != 3:
                        self.bad(path, lineno, "columns", f"expected text, label, id; got {len(cols)} columns")
                        continue
                    text, labels, row_id = cols
                    if _PLACEHOLDER.search(text):
                        self.stats.skipped["placeholder"] += 1
                        continue
                    idx = _split_labels(labels)
                    if not idx or not all(i.isdigit() and int(i) < len(names) for i in idx):
                        self.bad(path, lineno, "label", f"expected indices into labels.txt, got {labels!r}")
                        continue
                    item = self.item(f"goemotions-{row_id}", lang, text, [names[int(i)] for i in idx])
                    if item is not None:
                        yield item


class UserReader(_Reader):
    """User files: CSV (header) or JSONL with `text`, `emotion`, optional `lang` and `id`.

    `path` is one file or a folder of them; rows whose `lang` differs from the requested
    language are skipped (a row without `lang` takes option ``lang``, default ``en``).
    """

    map_name = "user"

    def rows(self, path: Path) -> Iterator[tuple[int, dict[str, str]]]:
        if path.suffix == ".csv":
            with path.open(encoding="utf-8", newline="") as f:
                reader = csv.DictReader(f)
                for field_name in ("text", "emotion"):
                    if field_name not in (reader.fieldnames or []):
                        raise SourceError(path, 1, field_name, "missing column in the header")
                for row in reader:
                    yield reader.line_num, row
        elif path.suffix in (".jsonl", ".json"):
            try:
                yield from iter_jsonl(path)
            except ManifestError as e:
                raise SourceError(path, e.line, "json", e.reason) from e
        else:
            raise SourceError(path, 0, "path", "expected a .csv or .jsonl file")

    def read(self, lang: str) -> Iterator[TextItem]:
        root = self.source.path
        files = sorted(p for p in root.iterdir() if p.suffix in (".csv", ".jsonl")) if root.is_dir() else [root]
        default_lang = str(self.source.options.get("lang", "en"))
        for path in files:
            for lineno, row in self.rows(path):
                for field_name in ("text", "emotion"):
                    if not isinstance(row.get(field_name), str) or not row[field_name].strip():
                        self.bad(path, lineno, field_name, "missing or empty")
                        break
                else:
                    if (row.get("lang") or default_lang) != lang:
                        continue
                    emotion = row["emotion"].strip().lower()
                    if emotion not in self.mapping:
                        self.bad(path, lineno, "emotion", f"unknown label {row['emotion']!r}")
                        continue
                    row_id = row.get("id") or f"{path.stem}-{lineno}"
                    item = self.item(f"user-{row_id}", lang, row["text"], [emotion])
                    if item is not None:
                        yield item


READERS: dict[str, type[_Reader]] = {"xed": XedReader, "goemotions": GoEmotionsReader, "user": UserReader}


def open_source(source: SourceConfig, spec: EmotionSpec) -> _Reader:
    return READERS[source.reader](source, spec)

"""Readers for emotion-labelled text: XED, GoEmotions (Ekman 7) and user CSV/JSONL.

Each reader yields one `Utterance` per input row, its label already mapped onto the M5SER
label set through the corpus map in `emotions.yaml`. Multi-label lines are kept only when
exactly one mappable label remains (``multi_label: single``, the default) or take their
first mappable label (``multi_label: first``). A row that cannot become a sentence is
yielded dropped, with its reason (``no_single_label``, ``empty_text``, ``placeholder``,
``malformed_<field>``), so it reaches ``removed/``. A malformed row raises `SourceError`
naming the file, line and field; with ``strict: false`` it is dropped instead.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

from m5ser.config import EmotionSpec, SourceConfig
from m5ser.errors import LocatedError
from m5ser.manifest import ManifestError, iter_jsonl
from m5ser.schema import Utterance, sentence_id

log = logging.getLogger(__name__)


class SourceError(LocatedError):
    """A malformed line in a text source (file, line, field)."""


def _map_labels(raw: list[str], mapping: dict[str, str | None], policy: str) -> str | None:
    mapped = [mapping.get(label) for label in raw]
    labels = [m for m in mapped if m is not None]
    if policy == "first":
        return labels[0] if labels else None
    distinct = set(labels)
    return labels[0] if len(distinct) == 1 else None


class _Reader:
    """Shared bookkeeping: label mapping, strictness, the Utterance of a row."""

    map_name = ""

    def __init__(self, source: SourceConfig, spec: EmotionSpec, out_lang: str, **context: object) -> None:
        self.source = source
        self.out_lang = out_lang
        self.mapping = spec.label_map(self.map_name, source.label_overrides)
        self.strict = bool(source.options.get("strict", True))
        self.policy = str(source.options.get("multi_label", "single"))
        if self.policy not in ("single", "first"):
            raise ValueError(f"sources.{source.name}.options.multi_label must be single or first")

    def sentence(self, source_id: str, lang: str, text: str, emotion: str = "") -> Utterance:
        """A sentence of the source (not yet translated or cast) for the output language."""
        return Utterance(
            id=sentence_id(source_id, self.out_lang),
            source_id=source_id,
            source_corpus=self.source.name,
            source_lang=lang,
            source_text=text,
            lang=self.out_lang,
            text=text,
            emotion=emotion,
        )

    def bad(
        self, path: Path, line: int, field_name: str, message: str, lang: str, raw: str, reason: str = ""
    ) -> Utterance:
        """A malformed row: an error naming file, line and field, or (``strict: false``) a drop
        (reason ``malformed_<field>`` unless given)."""
        if self.strict:
            raise SourceError(path, line, field_name, message)
        utt = self.sentence(f"{self.source.reader}-{path.stem}-{line}", lang, raw)
        utt.drop_reason = reason or f"malformed_{field_name}"
        utt.metrics["error"] = f"{path}:{line}: field '{field_name}': {message}"
        return utt

    def item(self, source_id: str, lang: str, text: str, raw_labels: list[str]) -> Utterance:
        text = " ".join(text.split())
        unknown = [label for label in raw_labels if label not in self.mapping]
        if unknown:
            raise KeyError(f"label(s) {unknown} not in the '{self.map_name}' map")
        emotion = _map_labels(raw_labels, self.mapping, self.policy)
        utt = self.sentence(source_id, lang, text, emotion or "")
        if not text:
            utt.drop_reason = "empty_text"
        elif emotion is None:
            utt.drop_reason = "no_single_label"
            utt.metrics["source_labels"] = raw_labels
        return utt

    def read(self, lang: str) -> Iterator[Utterance]:
        raise NotImplementedError(f"{type(self).__name__}.read")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line) of a UTF-8 text file, without line ends and a leading BOM; a line that
    is not UTF-8 raises naming the file, line and byte."""
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                byte = f"byte {raw[e.start]:#04x} at column {e.start + 1}"
                raise SourceError(path, lineno, "encoding", f"not UTF-8 ({byte}); save the file as UTF-8") from None
            yield lineno, (line.removeprefix("\ufeff") if lineno == 1 else line).rstrip("\r\n")


def _text(path: Path) -> str:
    """A whole UTF-8 file as text (BOM dropped); non-UTF-8 bytes raise naming file and line."""
    return "\n".join(line for _, line in _lines(path)) + "\n"


def _split_labels(field_value: str) -> list[str]:
    return [p.strip() for p in field_value.split(",") if p.strip()]


class XedReader(_Reader):
    """XED: `AnnotatedData/<lang>-annotated.tsv` + `neu_<lang>.txt` (human labels, en/fi) or
    `Projections/<code>-projections.tsv` (native subtitle lines with projected labels).

    Option ``projections: {zh: cn}`` picks the projection file code for a language; option
    ``lang: en`` reads that language's lines whatever language is built (to translate them),
    and ``kinds: [neutral]`` keeps only those files (annotated, neutral, projected).
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

    def read(self, lang: str) -> Iterator[Utterance]:
        lang = str(self.source.options.get("lang") or lang)
        kinds = self.source.options.get("kinds")
        for path, kind in self.files(lang):
            if kinds is not None and kind not in kinds:
                continue
            for lineno, line in _lines(path):
                if not line.strip():
                    continue
                cols = line.split("\t")
                if len(cols) != 2:
                    yield self.bad(
                        path, lineno, "columns", f"expected 2 tab-separated columns, got {len(cols)}", lang, line
                    )
                    continue
                text, labels = (cols[1], [cols[0].strip()]) if kind == "neutral" else (cols[0], cols[1])
                raw = labels if isinstance(labels, list) else _split_labels(labels)
                if not raw or not all(r.isdigit() for r in raw):
                    yield self.bad(
                        path, lineno, "labels", f"expected comma-separated label ids, got {labels!r}", lang, line
                    )
                    continue
                try:
                    yield self.item(f"xed-{path.stem}-{lineno}", lang, text, raw)
                except KeyError as e:
                    yield self.bad(path, lineno, "labels", str(e), lang, line)


_PLACEHOLDER = re.compile(r"\[[A-Z]+\]")  # GoEmotions masks names etc. as [NAME], [RELIGION]


class GoEmotionsReader(_Reader):
    """GoEmotions Ekman-7 TSVs (`text`, `label` indices into `labels.txt`, `id`); English only.
    Lines with masked tokens such as ``[NAME]`` are skipped (they would be read out literally).

    Option ``splits: [train, valid, test]`` picks the files.
    """

    map_name = "goemotions_ekman"

    def read(self, lang: str) -> Iterator[Utterance]:
        if lang != "en":
            raise FileNotFoundError(f"GoEmotions is English only; no lines for '{lang}'")
        root = self.source.path
        names = (root / "labels.txt").read_text(encoding="utf-8").split()
        for split in self.source.options.get("splits", ["train"]):
            path = root / f"{split}.tsv"
            for lineno, line in _lines(path):
                cols = line.split("\t")
                if lineno == 1 and cols[:2] == ["text", "label"]:
                    continue
                raw_line = "\t".join(cols)
                if len(cols) != 3:
                    yield self.bad(
                        path,
                        lineno,
                        "columns",
                        f"expected text, label, id; got {len(cols)} columns",
                        lang,
                        raw_line,
                    )
                    continue
                text, labels, row_id = cols
                if _PLACEHOLDER.search(text):
                    utt = self.sentence(f"goemotions-{row_id}", lang, " ".join(text.split()))
                    utt.drop_reason = "placeholder"
                    yield utt
                    continue
                idx = _split_labels(labels)
                if not idx or not all(i.isdigit() and int(i) < len(names) for i in idx):
                    yield self.bad(
                        path, lineno, "label", f"expected indices into labels.txt, got {labels!r}", lang, raw_line
                    )
                    continue
                yield self.item(f"goemotions-{row_id}", lang, text, [names[int(i)] for i in idx])


class UserReader(_Reader):
    """User files: CSV (header) or JSONL with `text`, `emotion`, optional `lang` and `id`.

    `path` is one file or a folder of them (UTF-8; a BOM is fine). A row without `lang` takes
    option ``lang`` (default ``en``); `lang` is compared in lower case. Rows of another language
    of the recipe are read when that language is built; rows of a language the recipe does not
    build are dropped (``lang_not_built``) once, in the plan of the first language that reads the
    source. A row without `id` gets one from its text and label, so inserting rows shifts no
    id; a repeated id is an error (strict) or a drop (``duplicate_id``). A CSV row that spans
    several lines (an unbalanced quote swallows the rows after it) is an error, or a drop
    (``malformed_quote``) with ``strict: false``.
    """

    map_name = "user"

    def __init__(self, source: SourceConfig, spec: EmotionSpec, out_lang: str, **context: object) -> None:
        super().__init__(source, spec, out_lang)
        langs = context.get("known_langs")  # the languages the recipe reads this source in (None: unknown)
        self.known_langs = None if langs is None else frozenset(langs)  # type: ignore[arg-type]
        self.owner = bool(context.get("owner", True))

    def rows(self, path: Path) -> Iterator[tuple[int, dict[str, str]]]:
        if path.suffix == ".csv":
            reader = csv.DictReader(io.StringIO(_text(path), newline=""), restkey="__extra__")
            for field_name in ("text", "emotion"):
                if field_name not in (reader.fieldnames or []):
                    raise SourceError(path, 1, field_name, "missing column in the header")
            last = 1
            for row in reader:
                first, last = last + 1, reader.line_num
                if last > first:
                    message = f"the row runs over lines {first}-{last}: an unbalanced quote?"
                    row = {"__error__": message, "__field__": "quote", **row}
                yield first, row
        elif path.suffix in (".jsonl", ".json"):
            try:
                yield from iter_jsonl(path)
            except ManifestError as e:
                raise SourceError(path, e.line, "json", e.reason) from e
        else:
            raise SourceError(path, 0, "path", "expected a .csv or .jsonl file")

    def read(self, lang: str) -> Iterator[Utterance]:
        root = self.source.path
        files = sorted(p for p in root.iterdir() if p.suffix in (".csv", ".jsonl")) if root.is_dir() else [root]
        default_lang = str(self.source.options.get("lang", "en"))
        seen: dict[str, int] = {}
        for path in files:
            for lineno, row in self.rows(path):
                raw_line = json.dumps(row, ensure_ascii=False, sort_keys=True)
                row_lang = str(row.get("lang") or default_lang).strip().lower()
                if row_lang != lang:
                    if self.known_langs is not None and row_lang not in self.known_langs and self.owner:
                        utt = self.sentence(f"user-{path.stem}-{lineno}", row_lang, str(row.get("text") or ""))
                        utt.drop_reason = "lang_not_built"
                        utt.metrics["error"] = f"{path}:{lineno}: field 'lang': '{row_lang}' is not built by the recipe"
                        yield utt
                    continue
                if "__error__" in row:
                    yield self.bad(path, lineno, row["__field__"], row["__error__"], lang, raw_line)
                    continue
                if "__extra__" in row:
                    message = f"{len(row['__extra__'])} value(s) more than the header has columns"
                    yield self.bad(path, lineno, "columns", message, lang, raw_line)
                    continue
                missing = next((f for f in ("text", "emotion") if not str(row.get(f) or "").strip()), None)
                if missing is not None:
                    yield self.bad(path, lineno, missing, "missing or empty", lang, raw_line)
                    continue
                emotion = row["emotion"].strip().lower()
                if emotion not in self.mapping:
                    yield self.bad(path, lineno, "emotion", f"unknown label {row['emotion']!r}", lang, raw_line)
                    continue
                row_id = str(row.get("id") or "").strip() or f"{path.stem}-{_content_id(row['text'], emotion)}"
                source_id = f"user-{row_id}"
                if source_id in seen:
                    if row.get("id"):
                        message = f"id {row_id!r} repeats line {seen[source_id]}"
                        yield self.bad(path, lineno, "id", message, lang, raw_line, reason="duplicate_id")
                        continue
                    utt = self.item(f"{source_id}-{lineno}", lang, row["text"], [emotion])
                    utt.drop_reason = utt.drop_reason or "duplicate_text"
                    yield utt
                    continue
                seen[source_id] = lineno
                yield self.item(source_id, lang, row["text"], [emotion])


def _content_id(text: str, emotion: str) -> str:
    """A row id from its content (stable when rows are inserted or reordered)."""
    key = "\x1f".join([" ".join(text.split()), emotion])
    return hashlib.blake2b(key.encode("utf-8"), digest_size=6).hexdigest()

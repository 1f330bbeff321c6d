"""Clips for training and evaluation: M5SER Parquet shards, a Hub dataset, or a real corpus.

Everything is turned into `Clip` records holding 16 kHz mono float32 audio, decoded and
(optionally) silence-trimmed by `m5ser.audio`, the build's own module and trim rule, so the
rest of the training code never sees where a clip came from.
"""

from __future__ import annotations

import csv
import logging
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from m5ser import audio
from m5ser.config import EmotionSpec
from m5ser.schema import SAMPLE_RATE, stable_key

log = logging.getLogger(__name__)

META_COLUMNS = ("id", "lang", "text", "emotion", "speaker_id", "split")


def prepare(samples: np.ndarray, trim: bool) -> np.ndarray:
    """16 kHz mono samples, trimmed by the build's rule (`m5ser.audio.trim_silence`) when `trim`."""
    return audio.trim_silence(samples, SAMPLE_RATE) if trim else samples


@dataclass(slots=True)
class Clip:
    """One labelled utterance, decoded to 16 kHz mono float32."""

    id: str
    audio: np.ndarray
    emotion: str
    lang: str
    speaker: str
    text: str = ""
    split: str = ""


def shard_paths(root: str | Path, languages: Iterable[str] = (), split: str | None = None) -> list[Path]:
    """Parquet shards under `root/<lang>/<split>-*.parquet`, sorted; empty languages = all."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"shard folder not found: {root}")
    langs = list(languages) or sorted(p.name for p in root.iterdir() if p.is_dir())
    pattern = f"{split}-*.parquet" if split else "*.parquet"
    paths: list[Path] = []
    for lang in langs:
        found = sorted((root / lang).glob(pattern))
        if not found:
            log.warning("no %s shards for language %s under %s", split or "", lang, root)
        paths.extend(found)
    return paths


def _rows_from_parquet(paths: list[Path]) -> Iterator[dict]:
    for path in paths:
        table = pq.read_table(path, columns=["audio", *META_COLUMNS])
        yield from table.to_pylist()


HUB_SPLITS = {"dev": "validation"}
"""Shard split names that the Hub card calls otherwise (see `m5ser.hub.card.HF_SPLIT`)."""


def _rows_from_hub(dataset_id: str, languages: Iterable[str], split: str) -> Iterator[dict]:
    """Rows of a Hub dataset (one config per language), audio left undecoded (bytes)."""
    try:
        from datasets import Audio, load_dataset
    except ImportError as exc:  # pragma: no cover - datasets is a core dependency
        raise ImportError("reading a Hub dataset needs `datasets` (pip install datasets)") from exc
    hub_split = HUB_SPLITS.get(split, split)
    for lang in list(languages) or ["all"]:
        ds = load_dataset(dataset_id, lang, split=hub_split)
        ds = ds.cast_column("audio", Audio(decode=False))
        yield from ds


def _stratified_cap(rows: list[dict], cap: int, seed: int) -> list[dict]:
    """At most `cap` rows, drawn round-robin over emotions so the classes stay balanced."""
    if cap <= 0 or len(rows) <= cap:
        return rows
    rng = random.Random(seed)
    by_emotion: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_emotion[r["emotion"]].append(r)
    for group in by_emotion.values():
        rng.shuffle(group)
    out: list[dict] = []
    while len(out) < cap:
        for group in by_emotion.values():
            if group and len(out) < cap:
                out.append(group.pop())
    return sorted(out, key=lambda r: r["id"])


def load_shards(
    source: str | Path,
    labels: tuple[str, ...],
    split: str,
    languages: Iterable[str] = (),
    exclude_languages: Iterable[str] = (),
    max_clips_per_lang: int = 0,
    trim: bool = True,
    seed: int = 0,
    max_speakers_per_lang: int = 0,
) -> list[Clip]:
    """Read one split of the M5SER shards (local folder or Hub id) as Clips.

    Rows whose emotion is outside `labels` are skipped; languages in `exclude_languages`
    are dropped (leave-languages-out training); `max_speakers_per_lang` keeps the clips of
    that many speakers per language (seeded; 0 = all) before the clip cap. `trim` re-applies the build's trim rule
    (built clips are already trimmed by it, so this changes them little if at all).
    """
    excluded = set(exclude_languages)
    if Path(source).is_dir():
        langs = [x for x in (list(languages) or _languages_in(source)) if x not in excluded]
        rows: Iterable[dict] = _rows_from_parquet(shard_paths(source, langs, split))
    else:
        rows = _rows_from_hub(str(source), [x for x in languages if x not in excluded], split)
    per_lang: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row["lang"] in excluded or row["emotion"] not in labels:
            continue
        per_lang[row["lang"]].append(row)
    clips: list[Clip] = []
    for lang in sorted(per_lang):
        if max_speakers_per_lang > 0:
            speakers = sorted({r["speaker_id"] for r in per_lang[lang]}, key=lambda s: stable_key("spk", seed, s))
            kept = set(speakers[:max_speakers_per_lang])
            per_lang[lang] = [r for r in per_lang[lang] if r["speaker_id"] in kept]
        for row in _stratified_cap(per_lang[lang], max_clips_per_lang, seed):
            samples = audio.decode_bytes(row["audio"]["bytes"], name=f"clip {row['id']}")
            clips.append(
                Clip(
                    id=row["id"],
                    audio=prepare(samples, trim),
                    emotion=row["emotion"],
                    lang=row["lang"],
                    speaker=row["speaker_id"],
                    text=row.get("text") or "",
                    split=row.get("split") or split,
                )
            )
    return clips


def _languages_in(root: str | Path) -> list[str]:
    return sorted(p.name for p in Path(root).iterdir() if p.is_dir())


def languages_available(source: str | Path) -> list[str]:
    """Language folders of a local shard tree."""
    return _languages_in(source)


@dataclass
class CorpusReport:
    """What `load_corpus` kept and what it left out, and why."""

    n_rows: int = 0
    n_ignored: int = 0
    ignored_labels: dict[str, int] | None = None
    missing: list[str] | None = None
    unreadable: list[str] | None = None


def load_corpus(
    root: str | Path,
    labels: tuple[str, ...],
    emotions: EmotionSpec,
    trim: bool = True,
    strict: bool = False,
) -> tuple[list[Clip], CorpusReport]:
    """Read a real labelled corpus: `root/labels.csv` (path, emotion, speaker, language, ...).

    Audio may be WAV or FLAC at any rate and channel count (converted to 16 kHz mono).
    Corpus labels are read through `emotions.canonical_label` (the `aliases:` of
    emotions.yaml); labels outside `labels` (the model's set) are ignored and counted.
    Missing or unreadable files are named on stderr and skipped, or raise with `strict=True`.
    """
    root = Path(root)
    table = root / "labels.csv"
    if not table.is_file():
        raise FileNotFoundError(f"corpus has no labels.csv: {table}")
    with table.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = {(f or "").strip().lower(): f for f in reader.fieldnames or []}
        for need in ("path", "emotion"):
            if need not in fields:
                raise ValueError(f"{table}: missing column {need!r} (have {reader.fieldnames})")
        rows = list(reader)
    report = CorpusReport(n_rows=len(rows), ignored_labels={}, missing=[], unreadable=[])
    ignored: Counter[str] = Counter()
    clips: list[Clip] = []

    def col(row: dict, name: str, default: str = "") -> str:
        key = fields.get(name)
        return (row.get(key) or default).strip() if key else default

    for i, row in enumerate(rows):
        rel = col(row, "path")
        label = emotions.canonical_label(col(row, "emotion"))
        if label is None or label not in labels:
            ignored[col(row, "emotion")] += 1
            continue
        path = Path(rel) if Path(rel).is_absolute() else root / rel
        if not path.is_file():
            report.missing.append(str(path))
            continue
        try:
            samples = audio.load(path)
        except ValueError as exc:  # names the file; reported below
            report.unreadable.append(str(exc))
            continue
        clips.append(
            Clip(
                id=rel or str(i),
                audio=prepare(samples, trim),
                emotion=label,
                lang=col(row, "language", "und"),
                speaker=col(row, "speaker", "unknown"),
            )
        )
    report.n_ignored = sum(ignored.values())
    report.ignored_labels = dict(ignored)
    problems = report.missing + report.unreadable
    if problems:
        msg = f"{len(problems)} audio file(s) listed in {table} could not be read:\n  " + "\n  ".join(problems[:20])
        if strict or not clips:
            raise FileNotFoundError(msg)
        print(f"warning: {msg}", file=sys.stderr)
    return clips, report


@dataclass
class Unlabeled:
    """Real speech without emotion labels from one folder (a corpus): 16 kHz clips, the lowest
    sample rate the folder's files were recorded at, and how many files were too short."""

    name: str
    clips: list[np.ndarray]
    native_rate: int
    n_short: int = 0


def load_unlabeled(
    root: str | Path, trim: bool = True, min_duration_s: float = 1.0, max_clips: int = 0, seed: int = 0
) -> Unlabeled:
    """Every `*.wav` / `*.flac` under `root` (recursive, symlinks followed), decoded to 16 kHz
    mono and trimmed like training clips; clips shorter than `min_duration_s` after trimming
    are left out. `max_clips` > 0 keeps a seeded sample of that many. Raises when nothing is left.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"unlabeled speech folder not found: {root}")
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".wav", ".flac") and p.is_file())
    clips: list[np.ndarray] = []
    rate = SAMPLE_RATE
    short = 0
    for path in paths:
        samples = prepare(audio.load(path), trim)
        if len(samples) < min_duration_s * SAMPLE_RATE:
            short += 1
            continue
        clips.append(samples)
        rate = min(rate, _native_rate(path))
    if max_clips and len(clips) > max_clips:
        keep = sorted(random.Random(seed).sample(range(len(clips)), max_clips))
        clips = [clips[i] for i in keep]
    if not clips:
        raise ValueError(f"{root}: no audio file of at least {min_duration_s} s (found {len(paths)} files)")
    return Unlabeled(str(root), clips, rate, short)


def _native_rate(path: Path) -> int:
    """Sample rate of an audio file as recorded."""
    import soundfile as sf

    return int(sf.info(str(path)).samplerate)


def crop(audio: np.ndarray, max_samples: int, rng: np.random.Generator | None) -> np.ndarray:
    """Random crop (with rng) or centre crop (without) to at most `max_samples`."""
    if len(audio) <= max_samples:
        return audio
    extra = len(audio) - max_samples
    start = int(rng.integers(0, extra + 1)) if rng is not None else extra // 2
    return audio[start : start + max_samples]


def label_counts(clips: Iterable[Clip]) -> dict[str, int]:
    """Clips per emotion."""
    return dict(Counter(c.emotion for c in clips))

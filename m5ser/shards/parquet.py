"""Parquet shards in Hugging Face Hub layout, WAV sidecars and published manifests.

One language is written at a time, so rebuilding German never touches French:

    <out_dir>/data/<lang>/<split>-<idx:05d>-of-<n:05d>.parquet
    <out_dir>/wav/<lang>/<id>.wav                  (optional sidecars)
    <out_dir>/manifests/<lang>.jsonl               (one line per kept clip, sorted by id)

Each shard holds the complete WAV file of every clip in an ``audio`` struct{bytes, path}
column, and the Arrow schema carries the ``huggingface`` features metadata, so
``datasets.load_dataset("parquet", ...)`` yields an ``Audio(sampling_rate=16000)`` column.
Output is byte-identical for identical input: rows are sorted by id, compression, encodings
and row-group size are fixed, and nothing time- or run-dependent enters the files.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import soundfile as sf

from m5ser.manifest import atomic_open, read_manifest, write_bytes_atomic
from m5ser.schema import SAMPLE_RATE, Utterance

SPLITS: tuple[str, ...] = ("train", "dev", "test")
"""Split names in file names and in the ``split`` column (the card maps dev → validation)."""

ROW_GROUP_SIZE = 64
"""Rows per Parquet row group: small groups keep memory low when streaming audio."""

MANIFEST_EXTRAS: tuple[str, ...] = ("audio_filepath", "duration", "shard")
"""Keys the published manifest adds to the Utterance fields (NeMo/lhotse-friendly)."""

SHARD_RE = re.compile(r"^(?P<split>train|dev|test)-(?P<idx>\d{5})-of-(?P<n>\d{5})\.parquet$")

_STRING_COLUMNS = (
    "lang",
    "text",
    "emotion",
    "speaker_id",
    "gender",
    "tts_backend",
    "voice",
    "source_id",
    "source_corpus",
    "split",
)
_FLOAT_COLUMNS = ("intensity", "duration_s")

AUDIO_TYPE = pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())])


def _schema() -> pa.Schema:
    """Arrow schema of a shard, with the `datasets` features in its metadata."""
    fields = [pa.field("id", pa.string()), pa.field("audio", AUDIO_TYPE)]
    features: dict[str, Any] = {
        "id": {"dtype": "string", "_type": "Value"},
        "audio": {"sampling_rate": SAMPLE_RATE, "_type": "Audio"},
    }
    for name in _STRING_COLUMNS:
        fields.append(pa.field(name, pa.string()))
        features[name] = {"dtype": "string", "_type": "Value"}
    for name in _FLOAT_COLUMNS:
        fields.append(pa.field(name, pa.float64()))
        features[name] = {"dtype": "float64", "_type": "Value"}
    fields.append(pa.field("sample_rate", pa.int64()))
    features["sample_rate"] = {"dtype": "int64", "_type": "Value"}
    meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode("utf-8")}
    return pa.schema(fields, metadata=meta)


SCHEMA = _schema()
"""The schema of every shard (column order is part of the format)."""

# The same per-column choices `datasets` makes: embedded media stays uncompressed and
# PLAIN-encoded (WAV PCM barely compresses; content-defined chunking then lets the Hub
# deduplicate unchanged clips between pushes), everything else is dictionary + zstd.
_AUDIO_LEAVES = ("audio.bytes", "audio.path")
_WRITE_OPTIONS: dict[str, Any] = {
    "compression": {
        **{leaf: "none" for leaf in _AUDIO_LEAVES},
        **{name: "zstd" for name in SCHEMA.names if name != "audio"},
    },
    "use_dictionary": [name for name in SCHEMA.names if name != "audio"],
    "column_encoding": {leaf: "PLAIN" for leaf in _AUDIO_LEAVES},
    "row_group_size": ROW_GROUP_SIZE,
    "write_page_index": True,
    "use_content_defined_chunking": True,
    "sorting_columns": [pq.SortingColumn(0)],
}


class ShardError(ValueError):
    """An input clip or shard that cannot be published, naming the clip and field."""


@dataclass(frozen=True, slots=True)
class _Clip:
    """One validated input clip: the record plus facts read from its WAV header."""

    utt: Utterance
    wav: Path
    nbytes: int
    duration_s: float


def shard_name(split: str, idx: int, n: int) -> str:
    """File name of shard `idx` of `n` in `split`.

    >>> shard_name("train", 0, 3)
    'train-00000-of-00003.parquet'
    """
    return f"{split}-{idx:05d}-of-{n:05d}.parquet"


def _check_clip(lang: str, utt: Utterance) -> _Clip:
    where = f"language {lang!r}, clip {utt.id or '<no id>'}"
    if not utt.id:
        raise ShardError(f"{where}: field 'id' is empty")
    if utt.lang != lang:
        raise ShardError(f"{where}: field 'lang' is {utt.lang!r}, expected {lang!r}")
    if utt.split not in SPLITS:
        raise ShardError(f"{where}: field 'split' is {utt.split!r}, expected one of {list(SPLITS)}")
    if utt.drop_reason is not None:
        raise ShardError(f"{where}: field 'drop_reason' is {utt.drop_reason!r}; only kept clips are sharded")
    wav = Path(utt.audio_path)
    if not utt.audio_path or not wav.is_file():
        raise ShardError(f"{where}: field 'audio_path' {utt.audio_path!r} is not a file")
    try:
        info = sf.info(str(wav))
    except sf.LibsndfileError as e:
        raise ShardError(f"{where}: audio_path {wav}: cannot read audio ({e})") from e
    if (info.format, info.subtype, info.channels, info.samplerate) != ("WAV", "PCM_16", 1, SAMPLE_RATE):
        raise ShardError(
            f"{where}: audio_path {wav}: {info.format}/{info.subtype}, {info.channels} channel(s), "
            f"{info.samplerate} Hz; expected WAV/PCM_16, 1 channel, {SAMPLE_RATE} Hz"
        )
    return _Clip(utt=utt, wav=wav, nbytes=wav.stat().st_size, duration_s=info.frames / info.samplerate)


def _roll(clips: Sequence[_Clip], max_shard_bytes: int) -> list[list[_Clip]]:
    """Group clips (already in order) into shards of at most `max_shard_bytes` audio bytes.

    A new shard starts when adding the next clip would go over the limit (strict `>`); a
    single clip larger than the limit gets a shard of its own.
    """
    groups: list[list[_Clip]] = []
    size = 0
    for clip in clips:
        if not groups or (groups[-1] and size + clip.nbytes > max_shard_bytes):
            groups.append([])
            size = 0
        groups[-1].append(clip)
        size += clip.nbytes
    return groups


def _table(clips: Sequence[_Clip]) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
    for clip in clips:
        utt = clip.utt
        columns["id"].append(utt.id)
        columns["audio"].append({"bytes": clip.wav.read_bytes(), "path": f"{utt.id}.wav"})
        for name in _STRING_COLUMNS:
            columns[name].append(getattr(utt, name))
        columns["intensity"].append(float(utt.intensity))
        columns["duration_s"].append(clip.duration_s)
        columns["sample_rate"].append(SAMPLE_RATE)
    return pa.Table.from_pydict(columns, schema=SCHEMA)


def _remove_stale(folder: Path, keep: Callable[[Path], bool]) -> None:
    """Delete files in `folder` for which `keep` is false (the folder itself stays)."""
    if not folder.is_dir():
        return
    for path in sorted(folder.iterdir()):
        if path.is_file() and not keep(path):
            path.unlink()


def _is_shard_or_temp(path: Path) -> bool:
    """A shard file, or the temp file of an interrupted atomic shard write."""
    name = path.name
    if name.startswith(".") and name.endswith(".tmp"):
        return SHARD_RE.match(name[1:].split(".parquet.", 1)[0] + ".parquet") is not None
    return SHARD_RE.match(name) is not None


def write_language(
    lang: str,
    kept: Sequence[Utterance],
    out_dir: Path,
    *,
    max_shard_bytes: int = 200_000_000,
    wav: bool = False,
) -> list[Path]:
    """Publish the kept clips of one language; returns the shard paths written.

    Removes that language's stale shards (and sidecars) first, then writes every shard,
    sidecar and the manifest atomically. Other languages' files are never touched.
    """
    if max_shard_bytes <= 0:
        raise ValueError(f"max_shard_bytes must be positive, got {max_shard_bytes}")
    out_dir = Path(out_dir)
    clips = sorted((_check_clip(lang, utt) for utt in kept), key=lambda c: c.utt.id)
    for a, b in itertools.pairwise(clips):
        if a.utt.id == b.utt.id:
            raise ShardError(f"language {lang!r}: duplicate clip id {a.utt.id} ({a.wav} and {b.wav})")

    data_dir = out_dir / "data" / lang
    wav_dir = out_dir / "wav" / lang
    ids = {c.utt.id for c in clips}
    _remove_stale(data_dir, lambda p: not _is_shard_or_temp(p))
    _remove_stale(wav_dir, lambda p: wav and p.suffix == ".wav" and p.stem in ids)

    written: list[Path] = []
    shard_of: dict[str, str] = {}
    for split in SPLITS:
        groups = _roll([c for c in clips if c.utt.split == split], max_shard_bytes)
        for idx, group in enumerate(groups):
            path = data_dir / shard_name(split, idx, len(groups))
            with atomic_open(path, "wb") as f:
                pq.write_table(_table(group), f, **_WRITE_OPTIONS)
            written.append(path)
            rel = path.relative_to(out_dir).as_posix()
            shard_of.update((c.utt.id, rel) for c in group)

    if wav:
        for clip in clips:
            write_bytes_atomic(wav_dir / f"{clip.utt.id}.wav", clip.wav.read_bytes())

    with atomic_open(out_dir / "manifests" / f"{lang}.jsonl") as f:
        for clip in clips:
            row = clip.utt.to_dict()
            shard = shard_of[clip.utt.id]
            row["audio_path"] = f"wav/{lang}/{clip.utt.id}.wav" if wav else shard
            row["duration_s"] = clip.duration_s
            row.update(audio_filepath=row["audio_path"], duration=clip.duration_s, shard=shard)
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    return written


def read_published_manifest(path: str | Path) -> Iterator[Utterance]:
    """Lazily read a published ``manifests/<lang>.jsonl`` as Utterances (extras stripped)."""
    return read_manifest(path, ignore=MANIFEST_EXTRAS)


def read_shard(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield the rows of one shard, with ``audio`` decoded to float32.

    ``row["audio"]`` is ``{"array": float32 ndarray, "sampling_rate": int, "path": str}``.
    """
    path = Path(path)
    pf = pq.ParquetFile(path)
    missing = set(SCHEMA.names) - set(pf.schema_arrow.names)
    if missing:
        raise ShardError(f"{path}: missing column(s) {sorted(missing)}")
    for batch in pf.iter_batches(batch_size=ROW_GROUP_SIZE):
        for row in batch.to_pylist():
            audio = row["audio"]
            try:
                array, sr = sf.read(io.BytesIO(audio["bytes"]), dtype="float32")
            except (sf.LibsndfileError, TypeError) as e:
                raise ShardError(f"{path}: row {row['id']}: field 'audio' cannot be decoded ({e})") from e
            row["audio"] = {"array": np.asarray(array), "sampling_rate": sr, "path": audio["path"]}
            yield row

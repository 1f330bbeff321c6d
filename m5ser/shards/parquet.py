"""Parquet shards in Hugging Face Hub layout, WAV sidecars and published manifests.

One language is written at a time, so rebuilding German never touches French:

    <out_dir>/data/<lang>/<split>-<idx:05d>-of-<n:05d>.parquet
    <out_dir>/wav/<lang>/<id>.wav                  (optional sidecars)
    <out_dir>/manifests/<lang>.jsonl               (one line per kept clip, sorted by id)

Each shard holds every clip's audio (FLAC by default, or the WAV file as it is:
``shards.audio_format``) in an ``audio`` struct{bytes, path} column, and the Arrow schema
carries the ``huggingface`` features metadata, so ``datasets.load_dataset("parquet", ...)``
yields an ``Audio(sampling_rate=16000)`` column.
Output is byte-identical for identical input: rows are sorted by id, compression, encodings
and row-group size are fixed, and nothing time- or run-dependent enters the files.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import soundfile as sf

from m5ser.config import AUDIO_FORMATS
from m5ser.errors import InputError
from m5ser.manifest import atomic_open, read_manifest, write_bytes_atomic, write_text_atomic
from m5ser.schema import SAMPLE_RATE, Utterance
from m5ser.shards import flac
from m5ser.shards.swap import finish_swaps, staging_dir, swap_in

SPLITS: tuple[str, ...] = ("train", "dev", "test")
"""Split names in file names and in the ``split`` column (the card maps dev → validation)."""

ROW_GROUP_SIZE = 64
"""Rows per Parquet row group: small groups keep memory low when streaming audio."""

MANIFEST_EXTRAS: tuple[str, ...] = ("audio_filepath", "duration", "shard")
"""Keys the published manifest adds to the Utterance fields (NeMo/lhotse-friendly)."""

SIDECARS: tuple[str, ...] = (".shards.json", ".jsonl")
"""Per-language files in manifests/: shard checksums, then the manifest (swapped in in this order)."""

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
# PLAIN-encoded (FLAC is compressed already and WAV PCM barely compresses: zstd on the column
# saves ~5 %, bench/storage.py; content-defined chunking then lets the Hub deduplicate
# unchanged clips between pushes), everything else is dictionary + zstd.
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


class ShardError(InputError):
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


def encode_audio(wav: Path, audio_format: str) -> bytes:
    """The bytes the ``audio`` column stores for the clip at `wav` (a 16 kHz PCM16 WAV file).

    ``wav``: the file as it is. ``flac``: the same int16 samples as FLAC (`m5ser.shards.flac`:
    libFLAC level 8 in 1,024-sample blocks, two LPC windows, streamable subset,
    STREAMINFO as the only metadata block; lossless; `datasets`, torchcodec
    and the Hub viewer decode it). libFLAC is deterministic, so equal samples give equal bytes
    (for one libFLAC release).
    """
    if audio_format == "wav":
        return wav.read_bytes()
    if audio_format != "flac":
        raise ValueError(f"shards.audio_format: '{audio_format}' is not one of {list(AUDIO_FORMATS)}")
    samples, sr = sf.read(str(wav), dtype="int16")
    return flac.encode(samples, sr)


def _table(clips: Sequence[_Clip], audio_format: str = "flac") -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
    for clip in clips:
        utt = clip.utt
        columns["id"].append(utt.id)
        columns["audio"].append({"bytes": encode_audio(clip.wav, audio_format), "path": f"{utt.id}.{audio_format}"})
        for name in _STRING_COLUMNS:
            columns[name].append(getattr(utt, name))
        columns["intensity"].append(float(utt.intensity))
        columns["duration_s"].append(clip.duration_s)
        columns["sample_rate"].append(SAMPLE_RATE)
    return pa.Table.from_pydict(columns, schema=SCHEMA)


def write_language(
    lang: str,
    kept: Sequence[Utterance],
    out_dir: Path,
    *,
    max_shard_bytes: int = 200_000_000,
    wav: bool = False,
    audio_format: str = "flac",
) -> list[Path]:
    """Publish the kept clips of one language; returns the shard paths.

    Shards, sidecars, the manifest and ``manifests/<lang>.shards.json`` (sha256, rows and
    bytes of every shard, for `m5ser verify`) are written into a staging folder, then swapped
    in together (`m5ser.shards.swap`): until the swap the previous version stays whole, and a
    crash during the swap is finished by the next run. Other languages' files are never touched.
    """
    if max_shard_bytes <= 0:
        raise ValueError(f"max_shard_bytes must be positive, got {max_shard_bytes}")
    out_dir = Path(out_dir)
    finish_swaps(out_dir)
    clips = sorted((_check_clip(lang, utt) for utt in kept), key=lambda c: c.utt.id)
    for a, b in itertools.pairwise(clips):
        if a.utt.id == b.utt.id:
            raise ShardError(f"language {lang!r}: duplicate clip id {a.utt.id} ({a.wav} and {b.wav})")

    stage = staging_dir(out_dir, lang)
    written: list[Path] = []
    shard_of: dict[str, str] = {}
    checksums: dict[str, dict[str, Any]] = {}
    for split in SPLITS:
        groups = _roll([c for c in clips if c.utt.split == split], max_shard_bytes)
        for idx, group in enumerate(groups):
            rel = f"data/{lang}/{shard_name(split, idx, len(groups))}"
            with atomic_open(stage / rel, "wb") as f:
                pq.write_table(_table(group, audio_format), f, **_WRITE_OPTIONS)
            written.append(out_dir / rel)
            shard_of.update((c.utt.id, rel) for c in group)
            checksums[rel] = {
                "sha256": sha256_file(stage / rel),
                "rows": len(group),
                "bytes": (stage / rel).stat().st_size,
            }

    if wav:
        for clip in clips:
            write_bytes_atomic(stage / "wav" / lang / f"{clip.utt.id}.wav", clip.wav.read_bytes())

    with atomic_open(stage / "manifests" / f"{lang}.jsonl") as f:
        for clip in clips:
            row = clip.utt.to_dict()
            shard = shard_of[clip.utt.id]
            row["audio_path"] = f"wav/{lang}/{clip.utt.id}.wav" if wav else shard
            row["duration_s"] = clip.duration_s
            row.update(audio_filepath=row["audio_path"], duration=clip.duration_s, shard=shard)
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    write_text_atomic(
        stage / "manifests" / f"{lang}.shards.json", json.dumps(checksums, indent=1, sort_keys=True) + "\n"
    )

    (stage / "data" / lang).mkdir(parents=True, exist_ok=True)  # a language with no kept clip has no shard
    for other in sorted((out_dir / "data" / lang).glob("*")):  # files that are not ours stay
        if other.is_file() and not SHARD_RE.match(other.name) and not other.name.endswith(".tmp"):
            shutil.copy2(other, stage / "data" / lang / other.name)
    moves = [(stage / "data" / lang, out_dir / "data" / lang)]
    if wav:
        moves.append((stage / "wav" / lang, out_dir / "wav" / lang))
    moves += [(stage / "manifests" / f"{lang}{ext}", out_dir / "manifests" / f"{lang}{ext}") for ext in SIDECARS]
    swap_in(out_dir, stage, moves, remove=[] if wav else [out_dir / "wav" / lang])
    return written


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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

"""Export a published folder for lhotse, NeMo or WebDataset.

Clips are read from the Parquet shards (`m5ser.shards.parquet.read_shard`, so any audio
encoding the shards use is decoded the same way) and written as 16-bit FLAC:

- ``lhotse``: ``audio/<lang>/<id>.flac`` plus ``m5ser-<lang>_recordings_<split>.jsonl.gz`` and
  ``m5ser-<lang>_supervisions_<split>.jsonl.gz`` (one supervision per recording; emotion,
  intensity, engine, voice and split in ``custom``; absolute audio paths, as lhotse recipes write);
- ``nemo``: ``audio/<lang>/<id>.flac`` plus ``m5ser-<lang>_<split>.jsonl`` with
  ``audio_filepath`` (relative to the manifest's folder, which NeMo resolves), ``duration``,
  ``text``, ``emotion`` and the other labels;
- ``webdataset``: ``m5ser-<lang>-<split>-NNNNNN.tar`` shards of at most `TAR_MAX_CLIPS`
  clips, each clip a ``<id>.flac`` and a ``<id>.json`` (its labels).

Every file is written atomically (a temporary name, then a rename).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from m5ser.manifest import write_text_atomic
from m5ser.registry import require
from m5ser.shards.parquet import SHARD_RE, read_shard

FORMATS = ("lhotse", "nemo", "webdataset")
TAR_MAX_CLIPS = 1000
"""Clips per WebDataset tar shard."""
AUDIO_SUBTYPE = "PCM_16"
"""FLAC sample format (the shards hold 16-bit PCM, so the export is lossless)."""


class ExportError(ValueError):
    """A source folder or format that cannot be exported."""


@dataclass(frozen=True)
class Clip:
    """One clip read from a shard: its labels and samples."""

    meta: dict[str, Any]  # every shard column but audio
    samples: np.ndarray
    sampling_rate: int

    @property
    def id(self) -> str:
        return str(self.meta["id"])


def languages_of(source: Path) -> list[str]:
    """Languages with shards under ``source/data/``."""
    return sorted(p.name for p in (source / "data").iterdir() if p.is_dir()) if (source / "data").is_dir() else []


def iter_clips(source: Path, lang: str) -> Iterator[tuple[str, Clip]]:
    """(split, clip) for every row of one language's shards, shard by shard."""
    for path in sorted((source / "data" / lang).glob("*.parquet")):
        m = SHARD_RE.match(path.name)
        if m is None:
            raise ExportError(f"{path}: not a shard name (<split>-00000-of-00001.parquet)")
        for row in read_shard(path):
            audio = row.pop("audio")
            yield m.group("split"), Clip(row, audio["array"], int(audio["sampling_rate"]))


def flac_bytes(clip: Clip) -> bytes:
    """The clip as 16-bit FLAC."""
    buf = io.BytesIO()
    sf.write(buf, clip.samples, clip.sampling_rate, format="FLAC", subtype=AUDIO_SUBTYPE)
    return buf.getvalue()


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _duration(clip: Clip) -> float:
    return round(len(clip.samples) / clip.sampling_rate, 4)


def _labels(clip: Clip) -> dict[str, Any]:
    """The labels a consumer needs besides the audio."""
    keys = ("id", "lang", "text", "emotion", "intensity", "speaker_id", "gender", "tts_backend", "voice", "split")
    return {k: clip.meta.get(k) for k in keys} | {"source_id": clip.meta.get("source_id")}


def _write_audio(out: Path, lang: str, clip: Clip) -> Path:
    path = out / "audio" / lang / f"{clip.id}.flac"
    _write_bytes_atomic(path, flac_bytes(clip))
    return path


def export_nemo(source: Path, out: Path, langs: Sequence[str]) -> list[Path]:
    """NeMo manifests (one JSON line per clip) and FLAC files."""
    written = []
    for lang in langs:
        lines: dict[str, list[str]] = defaultdict(list)
        for split, clip in iter_clips(source, lang):
            audio = _write_audio(out, lang, clip)
            entry = {"audio_filepath": audio.relative_to(out).as_posix(), "duration": _duration(clip)}
            entry |= {k: v for k, v in _labels(clip).items() if k != "id"} | {"id": clip.id}
            lines[split].append(json.dumps(entry, ensure_ascii=False))
            written.append(audio)
        for split, rows in sorted(lines.items()):
            path = out / f"m5ser-{lang}_{split}.jsonl"
            write_text_atomic(path, "\n".join(rows) + "\n")
            written.append(path)
    return written


def export_lhotse(source: Path, out: Path, langs: Sequence[str]) -> list[Path]:
    """lhotse RecordingSet + SupervisionSet manifests per language and split, and FLAC files."""
    lhotse = require("lhotse", "export")
    written = []
    for lang in langs:
        recs: dict[str, list[Any]] = defaultdict(list)
        sups: dict[str, list[Any]] = defaultdict(list)
        for split, clip in iter_clips(source, lang):
            audio = _write_audio(out, lang, clip).resolve()
            written.append(audio)
            n = len(clip.samples)
            recs[split].append(
                lhotse.Recording(
                    id=clip.id,
                    sources=[lhotse.AudioSource(type="file", channels=[0], source=str(audio))],
                    sampling_rate=clip.sampling_rate,
                    num_samples=n,
                    duration=n / clip.sampling_rate,
                )
            )
            labels = _labels(clip)
            custom = {k: labels[k] for k in ("emotion", "intensity", "tts_backend", "voice", "split", "source_id")}
            sups[split].append(
                lhotse.SupervisionSegment(
                    id=clip.id,
                    recording_id=clip.id,
                    start=0.0,
                    duration=n / clip.sampling_rate,
                    text=labels["text"],
                    language=lang,
                    speaker=labels["speaker_id"],
                    gender=labels["gender"],
                    custom={"engine": custom.pop("tts_backend"), **custom},
                )
            )
        for split in sorted(recs):
            for kind, items, cls in (
                ("recordings", recs[split], lhotse.RecordingSet),
                ("supervisions", sups[split], lhotse.SupervisionSet),
            ):
                path = out / f"m5ser-{lang}_{kind}_{split}.jsonl.gz"
                tmp = path.with_name(f".{path.name}.tmp.jsonl.gz")
                cls.from_items(items).to_file(tmp)
                os.replace(tmp, path)
                written.append(path)
    return written


def _tar_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    tar.addfile(info, io.BytesIO(data))


def export_webdataset(source: Path, out: Path, langs: Sequence[str]) -> list[Path]:
    """WebDataset tar shards: ``<id>.flac`` + ``<id>.json`` per clip, per language and split."""
    written: list[Path] = []
    for lang in langs:
        by_split: dict[str, list[Clip]] = defaultdict(list)
        for split, clip in iter_clips(source, lang):
            by_split[split].append(clip)
        for split, clips in sorted(by_split.items()):
            for i in range(0, len(clips), TAR_MAX_CLIPS):
                path = out / f"m5ser-{lang}-{split}-{i // TAR_MAX_CLIPS:06d}.tar"
                buf = io.BytesIO()
                with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                    for clip in clips[i : i + TAR_MAX_CLIPS]:
                        meta = _labels(clip) | {"duration": _duration(clip), "sampling_rate": clip.sampling_rate}
                        _tar_member(tar, f"{clip.id}.flac", flac_bytes(clip))
                        _tar_member(tar, f"{clip.id}.json", json.dumps(meta, ensure_ascii=False).encode())
                _write_bytes_atomic(path, buf.getvalue())
                written.append(path)
    return written


def export(source: str | Path, out: str | Path, fmt: str, languages: Sequence[str] = ()) -> list[Path]:
    """Export `source` (a published folder) to `out` in `fmt`; returns the files written."""
    source, out = Path(source), Path(out)
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    have = languages_of(source)
    if not have:
        raise ExportError(f"{source}: no shards under data/<lang>/ (is it a published M5SER folder?)")
    langs = list(languages) or have
    missing = [x for x in langs if x not in have]
    if missing:
        raise ExportError(f"{source}: no shards for language(s) {', '.join(missing)} (have {', '.join(have)})")
    out.mkdir(parents=True, exist_ok=True)
    writer = {"lhotse": export_lhotse, "nemo": export_nemo, "webdataset": export_webdataset}[fmt]
    return writer(source, out, langs)


def read_gzip_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a gzipped manifest (handy to inspect an lhotse export)."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]

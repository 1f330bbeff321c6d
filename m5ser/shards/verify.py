"""`m5ser verify OUT`: check a published folder against what was recorded when it was written.

For every language: each shard listed in ``manifests/<lang>.shards.json`` exists with the
recorded sha256, byte size and row count and opens as Parquet; no unlisted shard lies in
``data/<lang>/``; the ids in the shards are exactly those of ``manifests/<lang>.jsonl``; every
clip's audio decodes at 16 kHz. Every problem is reported (not only the first).
"""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
import soundfile as sf

from m5ser.manifest import iter_jsonl
from m5ser.schema import SAMPLE_RATE
from m5ser.shards.parquet import sha256_file


@dataclass
class Verdict:
    """What `verify` found in one language."""

    lang: str
    shards: int = 0
    clips: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _shard_ids(path: Path, rel: str, verdict: Verdict) -> list[str]:
    """Ids of a shard whose every audio cell decodes at 16 kHz (problems noted in `verdict`)."""
    try:
        table = pq.read_table(path, columns=["id", "audio"])
    except Exception as e:
        verdict.problems.append(f"{rel}: cannot be read as Parquet ({type(e).__name__}: {e})")
        return []
    ids = table.column("id").to_pylist()
    for clip_id, cell in zip(ids, table.column("audio").to_pylist(), strict=True):
        try:
            info = sf.info(io.BytesIO(cell["bytes"]))
        except (sf.LibsndfileError, RuntimeError, TypeError) as e:
            verdict.problems.append(f"{rel}: clip {clip_id}: audio does not decode ({e})")
            continue
        if info.samplerate != SAMPLE_RATE or info.channels != 1:
            verdict.problems.append(f"{rel}: clip {clip_id}: {info.samplerate} Hz, {info.channels} channels")
    return ids


def verify_language(out_dir: Path, lang: str) -> Verdict:
    verdict = Verdict(lang)
    manifest = out_dir / "manifests" / f"{lang}.jsonl"
    listed = out_dir / "manifests" / f"{lang}.shards.json"
    if not listed.is_file():
        verdict.problems.append(f"{listed.relative_to(out_dir)}: missing (no checksums recorded)")
        return verdict
    recorded: dict[str, dict] = json.loads(listed.read_text(encoding="utf-8"))
    present = {p.relative_to(out_dir).as_posix() for p in (out_dir / "data" / lang).glob("*.parquet")}
    verdict.problems += [f"{rel}: not listed in {listed.name}" for rel in sorted(present - set(recorded))]
    shard_ids: list[str] = []
    for rel, want in sorted(recorded.items()):
        path = out_dir / rel
        if not path.is_file():
            verdict.problems.append(f"{rel}: missing")
            continue
        verdict.shards += 1
        if path.stat().st_size != want["bytes"]:
            verdict.problems.append(f"{rel}: {path.stat().st_size} bytes, {want['bytes']} recorded (truncated?)")
        elif sha256_file(path) != want["sha256"]:
            verdict.problems.append(f"{rel}: sha256 differs from the one recorded at write time")
        ids = _shard_ids(path, rel, verdict)
        if ids and len(ids) != want["rows"]:
            verdict.problems.append(f"{rel}: {len(ids)} rows, {want['rows']} recorded")
        shard_ids += ids
    manifest_ids = [row.get("id", "") for _, row in iter_jsonl(manifest)] if manifest.is_file() else []
    if not manifest.is_file():
        verdict.problems.append(f"{manifest.relative_to(out_dir)}: missing")
    verdict.clips = len(manifest_ids)
    repeated = [i for i, n in Counter(shard_ids).items() if n > 1]
    verdict.problems += [f"clip {i}: in more than one shard row" for i in sorted(repeated)]
    verdict.problems += [
        f"clip {i}: in the manifest, not in any shard" for i in sorted(set(manifest_ids) - set(shard_ids))
    ]
    verdict.problems += [
        f"clip {i}: in a shard, not in the manifest" for i in sorted(set(shard_ids) - set(manifest_ids))
    ]
    return verdict


def verify(out_dir: str | Path) -> list[Verdict]:
    """Verify every language of a published folder."""
    out_dir = Path(out_dir)
    langs = {p.name.split(".")[0] for p in (out_dir / "manifests").glob("*.json*")}
    langs |= {p.name for p in (out_dir / "data").glob("*") if p.is_dir()}
    return [verify_language(out_dir, lang) for lang in sorted(langs)]

"""Parquet bytes per PCM byte of the shards, per language and audio encoding, side by side.

Usage: .venv/bin/python bench/storage.py [--recipe manifests/recipes/mini.yaml] [--limit 40] [--lang de ...]

Builds each language of the recipe (at most `--limit` clips each; 0 = all) once into a
temporary folder, then writes the same kept clips as shards three ways:
  wav        the audio column holds the WAV files as they are, uncompressed (the old format)
  wav+zstd   the same, with Parquet's zstd on the audio column
  flac       FLAC bytes (`shards.audio_format: flac`, the default)
and prints Parquet bytes / PCM bytes (16-bit samples only, no headers) for each. It checks
that the FLAC shards decode (`read_shard`) to exactly the samples of the WAV files and that
every other column is equal. Goal (issue 15): flac <= 0.6.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import soundfile as sf

from m5ser.config import load_recipe
from m5ser.pipeline.build import build_language
from m5ser.shards import parquet


def wav_zstd_bytes(kept: list, folder: Path) -> int:
    """Parquet bytes of the kept clips as WAV with zstd on the audio column (one file per split)."""
    options = dict(parquet._WRITE_OPTIONS)
    options["compression"] = {**options["compression"], "audio.bytes": "zstd"}
    total = 0
    for split in parquet.SPLITS:
        clips = sorted((parquet._check_clip(kept[0].lang, u) for u in kept if u.split == split), key=lambda c: c.utt.id)
        if clips:
            path = folder / f"{split}.parquet"
            pq.write_table(parquet._table(clips, "wav"), path, **options)
            total += path.stat().st_size
    return total


def rows(folder: Path) -> list[dict]:
    """Every row of the shards in `folder`, audio decoded."""
    return [row for p in sorted(folder.glob("*.parquet")) for row in parquet.read_shard(p)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipe", default="manifests/recipes/mini.yaml")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--lang", nargs="*")
    args = parser.parse_args()
    recipe = load_recipe(args.recipe)
    langs = args.lang or list(recipe.languages)
    print(f"{args.recipe}: Parquet bytes / PCM bytes (lower is better; goal flac <= 0.6)")
    print(f"{'lang':<6}{'clips':>7}{'PCM MB':>9}{'wav':>8}{'wav+zstd':>10}{'flac':>8}  content")
    totals = np.zeros(4)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shards = dataclasses.replace(recipe.shards, wav=True)  # the sidecars are the reference WAV files
        r = dataclasses.replace(recipe, output=root / "m5ser", work_dir=root / "work", shards=shards)
        for lang in langs:
            build_language(r, lang, limit=args.limit or None, progress=False)
            kept = [u for u in parquet.read_published_manifest(r.output / "manifests" / f"{lang}.jsonl")]
            for u in kept:
                u.audio_path = str(r.output / u.audio_path)
            pcm = sum(sf.info(u.audio_path).frames * 2 for u in kept)
            sizes = {}
            for fmt in ("wav", "flac"):
                paths = parquet.write_language(lang, kept, root / fmt, audio_format=fmt)
                sizes[fmt] = sum(p.stat().st_size for p in paths)
            zdir = root / "zstd" / lang
            zdir.mkdir(parents=True)
            sizes["wav+zstd"] = wav_zstd_bytes(kept, zdir)
            flac = [
                row for p in sorted((root / "flac" / "data" / lang).glob("*.parquet")) for row in parquet.read_shard(p)
            ]
            wav = [
                row for p in sorted((root / "wav" / "data" / lang).glob("*.parquet")) for row in parquet.read_shard(p)
            ]
            same = len(flac) == len(wav) == len(kept)
            for a, b in zip(flac, wav, strict=True):
                same &= bool(np.array_equal(a["audio"].pop("array"), b["audio"].pop("array")))
                a["audio"].pop("path"), b["audio"].pop("path")
                same &= a == b
            totals += [pcm, sizes["wav"], sizes["wav+zstd"], sizes["flac"]]
            print(
                f"{lang:<6}{len(kept):>7}{pcm / 1e6:>9.2f}{sizes['wav'] / pcm:>8.3f}{sizes['wav+zstd'] / pcm:>10.3f}"
                f"{sizes['flac'] / pcm:>8.3f}  {'identical' if same else 'DIFFERENT'}"
            )
    pcm, w, z, f = totals
    print(f"{'all':<6}{'':>7}{pcm / 1e6:>9.2f}{w / pcm:>8.3f}{z / pcm:>10.3f}{f / pcm:>8.3f}")


if __name__ == "__main__":
    main()

"""Parquet bytes per PCM byte of the shards, per language and audio encoding, side by side.

Usage: .venv/bin/python bench/storage.py [--recipe manifests/recipes/mini.yaml] [--limit 0]
           [--lang de ...] [--last-step signal_filter] [--work DIR] [--codecs]

Builds each language of the recipe (at most `--limit` clips each; 0 = all) into `--work`
(kept between runs: finished work is reused; default a temporary folder), then writes the
same kept clips as shards five ways:
  wav        the audio column holds the WAV files as they are, uncompressed (the first format)
  wav+zstd   the same, with Parquet's zstd on the audio column
  flac-sf    FLAC from libsndfile (`soundfile`, its highest level: libFLAC -8, 4,096-sample
             blocks): the encoder before `m5ser.shards.flac`
  flac-prev  the previous `m5ser.shards.flac` settings: level 8's six LPC windows
             (``subdivide_tukey(3)``) and Rice partition orders up to 6, libFLAC's vendor
             comment block kept
  flac-np    as flac, without the search over the LPC coefficient precision (``flac -p``):
             the cheaper choice measured against it (`m5ser.shards.flac.PRECISION_SEARCH`)
  flac       FLAC as shipped (`shards.audio_format: flac`: `m5ser.shards.flac`, libFLAC -8 in
             1,024-sample blocks, two LPC windows, partition orders up to 5, no vendor comment)
and prints Parquet bytes / PCM bytes (16-bit samples only, no headers) for each, plus the
share of the flac shards that is not audio bytes (other columns, Parquet footers and indexes),
and the encoding time per clip of flac-prev, flac-np and flac (CPU time, measured on the same
clips in the same run).
It checks that the flac shards decode (`read_shard`) to exactly the samples of the WAV files
and that every other column is equal. Goal (issue 15): flac <= 0.6 per language.

`--last-step NAME` keeps the recipe's steps up to NAME (e.g. `signal_filter`: the listening
checks after it only drop clips, they never change a clip's bytes) to keep the build cheap.
`--codecs` also prints, on the same clips, the audio bytes alone (no Parquet) of other
lossless choices, through command-line encoders when installed (`flac`, `ffmpeg`): libFLAC
outside the streamable subset (LPC order 32, precision search), WavPack, TTA and ALAC.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import soundfile as sf

from m5ser.config import Recipe, load_recipe
from m5ser.pipeline.build import build_language
from m5ser.schema import Utterance
from m5ser.shards import flac, parquet

FORMATS = ("wav", "wav+zstd", "flac-sf", "flac-prev", "flac-np", "flac")
TIMED = ("flac-prev", "flac-np", "flac")
"""Formats whose encoding time per clip is printed."""


def sndfile_flac(wav: Path, audio_format: str) -> bytes:
    """The previous encoder: libsndfile's FLAC at its highest level (libFLAC's default blocks)."""
    samples, sr = sf.read(str(wav), dtype="int16")
    buf = io.BytesIO()
    sf.write(buf, samples, sr, format="FLAC", subtype="PCM_16", compression_level=1.0)
    return buf.getvalue()


def previous_flac(wav: Path, audio_format: str) -> bytes:
    """`m5ser.shards.flac` with its previous settings: level 8's LPC windows, vendor comment kept."""
    samples, sr = sf.read(str(wav), dtype="int16")
    return flac.encode(
        samples, sr, apodization=b"subdivide_tukey(3)", max_partition_order=6, precision_search=True, comment=True
    )


def no_precision_flac(wav: Path, audio_format: str) -> bytes:
    """`m5ser.shards.flac` as shipped without the LPC precision search."""
    samples, sr = sf.read(str(wav), dtype="int16")
    return flac.encode(samples, sr, precision_search=False)


ENCODERS: dict[str, Callable[[Path, str], bytes]] = {
    "flac-sf": sndfile_flac,
    "flac-prev": previous_flac,
    "flac-np": no_precision_flac,
}


def shard_bytes(kept: list[Utterance], folder: Path, fmt: str) -> tuple[int, int, float]:
    """(Parquet bytes, audio-column bytes, CPU seconds spent encoding audio) of the kept clips in
    format `fmt` (one file per split, the writer's options; `wav+zstd` turns on zstd for the audio
    column)."""
    options = dict(parquet._WRITE_OPTIONS)
    audio_format = "wav" if fmt.startswith("wav") else "flac"
    if fmt == "wav+zstd":
        options["compression"] = {**options["compression"], "audio.bytes": "zstd"}
    encoder = ENCODERS.get(fmt, parquet.encode_audio)
    seconds = 0.0

    def encode(wav: Path, audio_format: str) -> bytes:
        nonlocal seconds
        start = time.process_time()
        data = encoder(wav, audio_format)
        seconds += time.process_time() - start
        return data

    original, parquet.encode_audio = parquet.encode_audio, encode
    total = audio = 0
    try:
        for split in parquet.SPLITS:
            clips = sorted(
                (parquet._check_clip(kept[0].lang, u) for u in kept if u.split == split), key=lambda c: c.utt.id
            )
            if clips:
                table = parquet._table(clips, audio_format)
                path = folder / f"{split}.parquet"
                pq.write_table(table, path, **options)
                total += path.stat().st_size
                audio += sum(len(a["bytes"]) for a in table.column("audio").to_pylist())
    finally:
        parquet.encode_audio = original
    return total, audio, seconds


def codec_ratios(wavs: list[Path], pcm: int) -> dict[str, float]:
    """Audio bytes / PCM bytes of other lossless encoders on the same WAV files (those installed)."""
    cli = {
        "flac-lax32-p": ["flac", "-s", "-c", "-8", "--lax", "-l", "32", "-b", "1024", "-p", "--no-padding",
                         "--no-seektable"],
        "wavpack": ["ffmpeg", "-v", "error", "-i", "-", "-c:a", "wavpack", "-compression_level", "8", "-f", "wv",
                    "-"],
        "tta": ["ffmpeg", "-v", "error", "-i", "-", "-c:a", "tta", "-f", "tta", "-"],
        "alac": ["ffmpeg", "-v", "error", "-i", "-", "-c:a", "alac", "-f", "ipod", "-movflags", "frag_keyframe", "-"],
    }  # fmt: skip
    out = {}
    for name, cmd in cli.items():
        if shutil.which(cmd[0]) is None:
            continue
        size = 0
        for wav in wavs:
            args = [*cmd, str(wav)] if cmd[0] == "flac" else cmd
            data = wav.read_bytes() if cmd[0] == "ffmpeg" else None
            size += len(subprocess.run(args, input=data, capture_output=True, check=True).stdout)
        out[name] = size / pcm
    return out


def decoded_equal(a: Path, b: Path) -> bool:
    """Same rows in the shards of folders `a` (flac) and `b` (wav): samples, ids, labels, all columns."""
    rows_a = [r for p in sorted(a.glob("*.parquet")) for r in parquet.read_shard(p)]
    rows_b = [r for p in sorted(b.glob("*.parquet")) for r in parquet.read_shard(p)]
    same = len(rows_a) == len(rows_b)
    for x, y in zip(rows_a, rows_b, strict=False):
        same &= bool(np.array_equal(x["audio"].pop("array"), y["audio"].pop("array")))
        x["audio"].pop("path"), y["audio"].pop("path")
        same &= x == y
    return same


def scratch(recipe: Recipe, root: Path, last_step: str | None) -> Recipe:
    """`recipe` building into `root` with WAV sidecars (the reference), steps cut after `last_step`."""
    steps = recipe.steps
    if last_step:
        names = [s.name for s in steps]
        if last_step not in names:
            raise SystemExit(f"--last-step {last_step!r} is not a step of {recipe.path} ({names})")
        steps = steps[: names.index(last_step) + 1]
    shards = dataclasses.replace(recipe.shards, wav=True)
    return dataclasses.replace(recipe, output=root / "m5ser", work_dir=root / "work", shards=shards, steps=steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="manifests/recipes/mini.yaml")
    parser.add_argument("--limit", type=int, default=0, help="clips per language (0 = all)")
    parser.add_argument("--lang", nargs="*")
    parser.add_argument("--last-step", help="keep the recipe's steps up to this one (e.g. signal_filter)")
    parser.add_argument("--work", type=Path, help="build folder kept between runs (default: a temporary one)")
    parser.add_argument("--codecs", action="store_true", help="also measure other lossless encoders (CLI)")
    args = parser.parse_args()
    recipe = load_recipe(args.recipe)
    langs = args.lang or list(recipe.languages)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.work or Path(tmp)
        r = scratch(recipe, root, args.last_step)
        steps = [s.name for s in r.steps]
        print(f"{args.recipe} (steps up to {steps[-1]}; libFLAC {flac.version()}): Parquet bytes / PCM bytes")
        print(
            f"{'lang':<6}{'clips':>6}{'PCM MB':>8}"
            + "".join(f"{f:>10}" for f in FORMATS)
            + f"{'non-audio':>11}"
            + "".join(f"{f + ' ms':>13}" for f in TIMED)
            + "  content"
        )
        totals = dict.fromkeys(["pcm", *FORMATS, "audio", "clips"], 0)
        cpu = dict.fromkeys(TIMED, 0.0)
        codec_totals: dict[str, float] = {}
        for lang in langs:
            build_language(r, lang, limit=args.limit or None, progress=False)
            kept = list(parquet.read_published_manifest(r.output / "manifests" / f"{lang}.jsonl"))
            for u in kept:
                u.audio_path = str(r.output / u.audio_path)
            pcm = sum(sf.info(u.audio_path).frames * 2 for u in kept)
            sizes, ms = {}, {}
            for fmt in FORMATS:
                folder = Path(tmp) / "shards" / lang / fmt
                folder.mkdir(parents=True)
                sizes[fmt], audio, seconds = shard_bytes(kept, folder, fmt)
                if fmt in TIMED:
                    cpu[fmt] += seconds
                    ms[fmt] = 1000 * seconds / len(kept)
            same = decoded_equal(Path(tmp) / "shards" / lang / "flac", Path(tmp) / "shards" / lang / "wav")
            totals["pcm"] += pcm
            totals["audio"] += audio
            totals["clips"] += len(kept)
            for fmt in FORMATS:
                totals[fmt] += sizes[fmt]
            cells = "".join(f"{sizes[f] / pcm:>10.3f}" for f in FORMATS)
            other = (sizes["flac"] - audio) / pcm
            timing = "".join(f"{ms[f]:>13.2f}" for f in TIMED)
            print(
                f"{lang:<6}{len(kept):>6}{pcm / 1e6:>8.2f}{cells}{other:>11.4f}{timing}"
                f"  {'identical' if same else 'DIFFERENT'}"
            )
            if args.codecs:
                ratios = codec_ratios([Path(u.audio_path) for u in kept], pcm)
                ratios["flac (audio only)"] = audio / pcm
                print("      audio bytes only: " + "  ".join(f"{k} {v:.3f}" for k, v in ratios.items()))
                for k, v in ratios.items():
                    codec_totals[k] = codec_totals.get(k, 0.0) + v * pcm
        pcm = totals["pcm"]
        cells = "".join(f"{totals[f] / pcm:>10.3f}" for f in FORMATS)
        timing = "".join(f"{1000 * cpu[f] / totals['clips']:>13.2f}" for f in TIMED)
        print(f"{'all':<6}{'':>6}{pcm / 1e6:>8.2f}{cells}{(totals['flac'] - totals['audio']) / pcm:>11.4f}{timing}")
        if codec_totals:
            print("      audio bytes only: " + "  ".join(f"{k} {v / pcm:.3f}" for k, v in codec_totals.items()))


if __name__ == "__main__":
    main()

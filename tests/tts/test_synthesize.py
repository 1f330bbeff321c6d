"""Synthesis step: work WAVs are reused by their audio key, and a torn one is made again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq

from m5ser.config import load_recipe
from m5ser.pipeline.build import build_language
from m5ser.testing import write_tiny_recipe

from ..conftest import ROOT

LANGUAGES = {"de": {"sources": ["xed"], "translate": "parallel", "speakers": 2}}


def shard_audio(out: Path) -> dict[str, bytes]:
    return {
        row["id"]: row["audio"]["bytes"]
        for path in sorted((out / "data" / "de").glob("*.parquet"))
        for row in pq.read_table(path).to_pylist()
    }


def test_a_torn_work_wav_is_synthesized_again(tmp_path: Path) -> None:
    recipe = load_recipe(write_tiny_recipe(tmp_path, ROOT, LANGUAGES, per_emotion=1), root=ROOT)
    first = build_language(recipe, "de", progress=False)
    assert first.synthesis_calls == first.planned > 1
    before = shard_audio(recipe.output)
    wavs = sorted((recipe.work_dir / "de" / "audio").glob("*.wav"))
    wavs[0].write_bytes(b"")  # what a power loss may leave of a WAV that was never fsynced
    shutil.rmtree(recipe.work_dir / "de" / "parts")  # forget the finished units, keep the audio
    again = build_language(recipe, "de", progress=False)
    assert again.synthesis_calls == 1
    assert shard_audio(recipe.output) == before  # the same clip, byte for byte

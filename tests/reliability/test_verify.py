"""Class 6: `m5ser verify` checks what was recorded at write time."""

from __future__ import annotations

import json

import pytest

from m5ser.cli import main
from m5ser.pipeline.build import build_language
from m5ser.shards.verify import verify


@pytest.fixture
def built(user_build):
    recipe = user_build()
    build_language(recipe, "de", progress=False)
    return recipe.output


def test_a_fresh_build_verifies(built):
    (verdict,) = verify(built)
    assert verdict.ok and verdict.clips == 4 and verdict.shards >= 1


def test_a_truncated_shard_is_found(built):
    shard = sorted((built / "data" / "de").glob("*.parquet"))[0]
    shard.write_bytes(shard.read_bytes()[:-100])
    (verdict,) = verify(built)
    assert any("bytes" in p and "truncated" in p for p in verdict.problems)
    assert any("cannot be read as Parquet" in p for p in verdict.problems)


def test_a_flipped_byte_in_the_audio_column_is_found(built):
    shard = sorted((built / "data" / "de").glob("*.parquet"))[0]
    data = bytearray(shard.read_bytes())
    start = max(data.find(b"RIFF"), data.find(b"fLaC"))  # the first clip's audio (WAV or FLAC bytes)
    assert start > 0
    at = start + 400  # inside its samples
    data[at] ^= 0xFF
    shard.write_bytes(bytes(data))
    (verdict,) = verify(built)
    assert verdict.problems == [f"data/de/{shard.name}: sha256 differs from the one recorded at write time"]


def test_a_manifest_line_without_audio_is_found(built, capsys):
    manifest = built / "manifests" / "de.jsonl"
    row = json.loads(manifest.read_text(encoding="utf-8").splitlines()[0])
    row["id"] = "0123456789abcdef"
    manifest.write_text(manifest.read_text(encoding="utf-8") + json.dumps(row) + "\n", encoding="utf-8")
    (verdict,) = verify(built)
    assert verdict.problems == ["clip 0123456789abcdef: in the manifest, not in any shard"]
    with pytest.raises(SystemExit) as done:
        main(["verify", str(built)])
    assert done.value.code == 1 and "0123456789abcdef" in capsys.readouterr().out

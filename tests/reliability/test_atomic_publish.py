"""Class 5: a language's publish is atomic: a failure leaves the previous version whole, and a
swap that a crash interrupted is finished by the next run."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from m5ser.pipeline.build import build_language
from m5ser.shards import parquet
from m5ser.shards.swap import STAGING, finish_swaps

from .conftest import ROWS, write_csv


def snapshot(out) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and STAGING not in p.parts and "reports" not in p.parts
    }


def test_a_failure_while_writing_shards_leaves_the_previous_version(user_build, tmp_path, monkeypatch):
    recipe = user_build()
    build_language(recipe, "de", progress=False)
    before = snapshot(recipe.output)
    write_csv(tmp_path / "rows.csv", [*ROWS, ("r5", "Noch ein ganz neuer Satz für den Test.", "joy")])

    def full_disk(table, where, **kwargs):
        where.write(b"PAR1 half a shard")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(parquet.pq, "write_table", full_disk)
    with pytest.raises(OSError, match="No space left"):
        build_language(user_build(), "de", progress=False)
    assert {k: v for k, v in snapshot(recipe.output).items() if not k.startswith("removed/")} == {
        k: v for k, v in before.items() if not k.startswith("removed/")
    }


def test_a_swap_interrupted_by_a_crash_is_finished_by_the_next_run(user_build, tmp_path, monkeypatch):
    recipe = user_build()
    build_language(recipe, "de", progress=False)
    write_csv(tmp_path / "rows.csv", ROWS[:3])
    import m5ser.shards.swap as swap

    real_move = swap._move
    moved = []

    def crash_after_first(src, dst, trash):
        if moved:
            raise KeyboardInterrupt  # the process dies between two renames
        moved.append(dst)
        real_move(src, dst, trash)

    monkeypatch.setattr(swap, "_move", crash_after_first)
    with pytest.raises(KeyboardInterrupt):
        build_language(user_build(), "de", progress=False)
    monkeypatch.setattr(swap, "_move", real_move)
    assert list((recipe.output / STAGING).glob("*.swap.json"))  # the journal is there
    assert finish_swaps(recipe.output) == 1
    manifest = [json.loads(line) for line in (recipe.output / "manifests" / "de.jsonl").read_text().splitlines()]
    shard_ids = {
        r["id"] for p in (recipe.output / "data" / "de").glob("*.parquet") for r in pq.read_table(p).to_pylist()
    }
    assert len(manifest) == 3 and {r["id"] for r in manifest} == shard_ids  # new data and new manifest together

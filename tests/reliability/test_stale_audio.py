"""Class 1: audio is reused by its content, never by a name: an edit re-synthesizes exactly
the clips whose audio it changes, and a shard never pairs new text with old audio."""

from __future__ import annotations

import hashlib

import pyarrow.parquet as pq

from m5ser.manifest import read_manifest
from m5ser.pipeline.build import build_language
from m5ser.pipeline.plan import plan_paths

from .conftest import ROWS, write_csv


def shard_rows(recipe) -> dict[str, tuple[str, str]]:
    """Clip id -> (text, sha256 of its audio bytes) over the language's shards."""
    rows = {}
    for path in sorted((recipe.output / "data" / "de").glob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            rows[row["id"]] = (row["text"], hashlib.sha256(row["audio"]["bytes"]).hexdigest())
    return rows


def test_editing_a_rows_text_resynthesizes_exactly_that_clip(user_build, tmp_path):
    recipe = user_build()
    first = build_language(recipe, "de", progress=False)
    assert first.synthesis_calls == first.planned == len(ROWS)
    before, old_fingerprint = shard_rows(recipe), recipe.fingerprint()

    new_text = "Nein, das glaube ich dir nicht."
    write_csv(tmp_path / "rows.csv", [ROWS[0], ("r2", new_text, "joy"), *ROWS[2:]])
    edited = user_build()
    assert edited.fingerprint() != old_fingerprint  # the source's content is part of it
    second = build_language(edited, "de", progress=False)
    after = shard_rows(edited)

    assert second.synthesis_calls == 1
    changed = {i for i in after if after[i] != before.get(i)}
    assert len(changed) == 1
    (clip,) = changed
    assert after[clip][0] == new_text and after[clip][1] != before[clip][1]


def test_a_new_intensity_range_resynthesizes_the_clips_it_relabels(user_build):
    first = build_language(user_build(), "de", progress=False)
    assert first.synthesis_calls == len(ROWS)
    again = build_language(user_build(step_params={"cast": {"intensity": [0.2, 0.3]}}), "de", progress=False)
    assert again.synthesis_calls == len(ROWS) - 1  # every clip but the neutral one (intensity 0)


def test_a_voice_option_change_resynthesizes_only_that_speakers_clips(user_build, tmp_path):
    recipe = user_build()
    build_language(recipe, "de", progress=False)
    planned = [u for u in read_manifest(plan_paths(recipe, "de")[0]) if u.kept]
    target = planned[0].speaker_id
    bank = tmp_path / "voices" / "de.yaml"
    text = bank.read_text(encoding="utf-8")
    start = text.index("pitch_offset:", text.index(f"id: {target}"))
    bank.write_text(text[:start] + "pitch_offset: 17" + text[text.index("\n", start) :], encoding="utf-8")
    again = build_language(user_build(), "de", progress=False)
    assert again.synthesis_calls == sum(u.speaker_id == target for u in planned) > 0


def test_an_edit_that_changes_no_audio_reuses_every_clip(user_build):
    recipe = user_build()
    build_language(recipe, "de", progress=False)
    before = shard_rows(recipe)
    documented = user_build(documentation="The same build, documented differently.")
    assert documented.fingerprint() != recipe.fingerprint()
    again = build_language(documented, "de", progress=False)
    assert again.synthesis_calls == 0
    assert shard_rows(documented) == before

"""Plan once per language: planned.jsonl, its marker, and the work units that read it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from m5ser import registry
from m5ser.config import load_recipe
from m5ser.manifest import read_manifest
from m5ser.pipeline.build import build_language
from m5ser.pipeline.plan import load_plan, plan_language, plan_paths
from m5ser.pipeline.units import part_paths

DE = {"de": {"sources": ["xed"], "translate": "parallel"}}


class CountingTranslator:
    """The corpus's own line, passed through; every call is appended to a log file."""

    name = "counting"
    same_language = True

    def __init__(self, log: str) -> None:
        self.log = log

    def translate(self, texts, src, tgt):
        with open(self.log, "a", encoding="utf-8") as f:
            f.writelines(t + "\n" for t in texts)
        return list(texts)


@pytest.fixture
def counting(tmp_path):
    registry.register("translator", "counting", f"{__name__}:CountingTranslator")
    return tmp_path / "translated.txt"


def test_each_planned_sentence_is_translated_once_in_a_four_part_build(tiny_recipe, root, counting):
    langs = {"de": {"sources": ["xed"], "translate": "counting", "translate_options": {"log": str(counting)}}}
    recipe = load_recipe(tiny_recipe(langs, per_emotion=2), root=root)
    result = build_language(recipe, "de", parts=4, progress=False)
    translated = counting.read_text(encoding="utf-8").splitlines()
    planned = [u for u in read_manifest(plan_paths(recipe, "de")[0]) if u.kept]
    assert len(planned) == result.planned >= 12  # 2 per emotion (XED de may lack neutral lines)
    assert sorted(translated) == sorted(u.source_text for u in planned)  # once each, in one plan
    build_language(recipe, "de", parts=4, progress=False)  # resumed: the plan is reused
    assert len(counting.read_text(encoding="utf-8").splitlines()) == len(translated)


def test_the_plan_keeps_every_clip_and_every_text_level_drop(tiny_recipe, root):
    recipe = load_recipe(tiny_recipe(DE, per_emotion=2), root=root)
    plan = plan_language(recipe, "de")
    items = list(read_manifest(plan.path))
    assert [u.id for u in items] == sorted(u.id for u in items)
    clips = [u for u in items if u.kept]
    assert plan.clips == len(clips) >= 12
    assert all(u.speaker_id and u.prosody and u.split in ("train", "dev", "test") for u in clips)
    drops = [u for u in items if not u.kept]
    assert drops and {u.drop_reason for u in drops} <= {"no_single_label", "duplicate_text", "empty_text"}
    assert not any(u.speaker_id for u in drops)  # never cast
    assert plan.dropped == {r: sum(u.drop_reason == r for u in drops) for r in plan.dropped}
    assert plan.counts["select"]["unselected"] > 0
    marker = json.loads(plan_paths(recipe, "de")[1].read_text(encoding="utf-8"))
    assert marker["fingerprint"] == recipe.fingerprint()


def test_a_plan_of_another_recipe_is_not_reused(tiny_recipe, root):
    recipe = load_recipe(tiny_recipe(DE, per_emotion=1), root=root)
    plan_language(recipe, "de")
    other = load_recipe(tiny_recipe(DE, per_emotion=2), root=root)
    assert load_plan(other, "de") is None
    assert plan_language(other, "de").clips > plan_language(recipe, "de").clips


def test_text_level_drops_reach_removed(tiny_recipe, root):
    recipe = load_recipe(tiny_recipe(DE, per_emotion=1), root=root)
    result = build_language(recipe, "de", progress=False)
    assert result.text_dropped
    for reason, n in result.text_dropped.items():
        lines = (recipe.output / "removed" / "de" / f"{reason}.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(lines) == n


def test_deleting_one_units_outputs_redoes_only_that_unit(tiny_recipe, root):
    recipe = load_recipe(tiny_recipe(DE, per_emotion=2), root=root)
    first = build_language(recipe, "de", parts=4, progress=False)
    manifest, marker = part_paths(recipe, "de", 2, 4)
    lost = [u for u in read_manifest(manifest)]
    for utt in lost:
        Path(utt.audio_path).unlink()
    manifest.unlink()
    marker.unlink()
    again = build_language(recipe, "de", parts=4, progress=False)
    assert again.synthesis_calls == len(lost) > 0  # only unit 2's clips are synthesized again
    assert (again.kept, again.dropped) == (first.kept, first.dropped)

"""The recipe names the pipeline: editing `steps:` changes the build without code changes."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from m5ser import audio
from m5ser.config import RecipeError, load_recipe
from m5ser.pipeline.assemble import language_pipeline
from m5ser.pipeline.build import build_language
from m5ser.pipeline.validate import validate_recipe

DE = {"de": {"sources": ["xed"], "translate": "parallel"}}


def edit_steps(path, edit) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["steps"] = edit(data["steps"])
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_removing_voice_quality_and_adding_a_filter_is_a_recipe_edit(tiny_recipe, root, tmp_path):
    base = load_recipe(tiny_recipe(DE, per_emotion=1), root=root)
    before = build_language(base, "de", progress=False)

    path = tiny_recipe(DE, per_emotion=1, work_dir=str(tmp_path / "w2"), output=str(tmp_path / "o2"))

    def edit(steps):
        steps = [{"synthesize": {"voice_quality": False}} if "synthesize" in s else s for s in steps]
        long_clip = {"metric_filter": {"metric": "duration_s", "max": 1.2, "reason": "long_clip"}}
        return [*steps, long_clip]

    edit_steps(path, edit)
    edited = load_recipe(path, root=root)
    assert [s.name for s in edited.steps][-2:] == ["signal_filter", "metric_filter"]
    after = build_language(edited, "de", progress=False)

    assert after.dropped.get("long_clip", 0) > 0
    long_ones = (edited.output / "removed" / "de" / "long_clip.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(long_ones) == after.dropped["long_clip"]
    # Same clips, other audio: without voice quality an angry clip is rendered differently.
    same_id = sorted(p.name for p in (base.work_dir / "de" / "audio").glob("*.wav"))
    assert same_id == sorted(p.name for p in (edited.work_dir / "de" / "audio").glob("*.wav"))
    differ = 0
    for name in same_id:
        a = audio.load(base.work_dir / "de" / "audio" / name)
        b = audio.load(edited.work_dir / "de" / "audio" / name)
        differ += a.shape != b.shape or not np.array_equal(a, b)
    assert differ >= 5  # neutral clips carry no voice-quality cues; the six other emotions do
    assert before.planned == after.planned


def test_a_bad_step_parameter_names_its_path(tiny_recipe, root):
    path = tiny_recipe(DE, per_emotion=1, step_params={"signal_filter": {"min_snr_db": "loud"}})
    with pytest.raises(RecipeError, match=r"steps\[7\]\.signal_filter\.min_snr_db: expected a number"):
        validate_recipe(load_recipe(path, root=root))


def test_an_unknown_step_or_parameter_is_refused(tiny_recipe, root):
    path = tiny_recipe(DE, per_emotion=1, step_params={"cast": {"speakers": 2}})
    with pytest.raises(RecipeError, match=r"steps\[3\]\.cast\.speakers: unknown key"):
        validate_recipe(load_recipe(path, root=root))
    edit_steps(path, lambda steps: [*steps, "listen"])
    with pytest.raises(RecipeError, match="unknown step 'listen'"):
        validate_recipe(load_recipe(path, root=root))


def test_a_clip_step_inside_the_plan_is_refused(tiny_recipe, root):
    path = tiny_recipe(DE, per_emotion=1)
    edit_steps(path, lambda steps: [steps[0], "signal", *steps[1:]])
    with pytest.raises(RecipeError, match=r"steps\[1\]\.signal works on audio clips"):
        language_pipeline(load_recipe(path, root=root), "de")

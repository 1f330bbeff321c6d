"""The recipe names the pipeline: editing `steps:` changes the build without code changes."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from m5ser import audio
from m5ser.config import RecipeError, load_recipe
from m5ser.manifest import read_manifest
from m5ser.pipeline.assemble import language_pipeline
from m5ser.pipeline.build import build_language
from m5ser.pipeline.validate import validate_recipe

DE = {"de": {"sources": ["xed"], "translate": "parallel"}}


def edit_steps(path, edit) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["steps"] = edit(data["steps"])
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def clip_audio(recipe) -> dict[str, str]:
    """Clip id -> rendered WAV, from the language's work-unit manifests."""
    parts = sorted((recipe.work_dir / "de" / "parts").glob("*.jsonl"))
    return {u.id: u.audio_path for p in parts for u in read_manifest(p) if u.audio_path}


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
    assert [s.name for s in edited.steps][-1] == "metric_filter"
    after = build_language(edited, "de", progress=False)

    assert after.dropped.get("long_clip", 0) > 0
    long_ones = (edited.output / "removed" / "de" / "long_clip.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(long_ones) == after.dropped["long_clip"]
    # Same clips, other audio: without voice quality an angry clip is rendered differently.
    base_wavs, edited_wavs = clip_audio(base), clip_audio(edited)
    assert sorted(base_wavs) == sorted(edited_wavs)
    differ = 0
    for clip_id, path in base_wavs.items():
        a, b = audio.load(path), audio.load(edited_wavs[clip_id])
        differ += a.shape != b.shape or not np.array_equal(a, b)
    assert differ >= 5  # neutral clips carry no voice-quality cues; the six other emotions do
    assert before.planned == after.planned


def index_of(path, name: str) -> int:
    steps = yaml.safe_load(path.read_text(encoding="utf-8"))["steps"]
    return next(i for i, s in enumerate(steps) if (s if isinstance(s, str) else next(iter(s))) == name)


def test_a_bad_step_parameter_names_its_path(tiny_recipe, root):
    path = tiny_recipe(DE, per_emotion=1, step_params={"signal_filter": {"min_snr_db": "loud"}})
    i = index_of(path, "signal_filter")
    with pytest.raises(RecipeError, match=rf"steps\[{i}\]\.signal_filter\.min_snr_db: expected a number"):
        validate_recipe(load_recipe(path, root=root))


@pytest.mark.parametrize(
    ("step", "params", "message"),
    [
        ("signal_filter", {"max_duration_s": -5}, r"signal_filter\.max_duration_s: must be >= 0\.4, got -5"),
        ("select", {"per_emotion": -3}, r"select\.per_emotion: must be >= 1, got -3"),
        ("cast", {"speakers_per_sentence": 9}, r"cast\.speakers_per_sentence: 9, but 'de' has only 6 speakers"),
        ("cast", {"intensity": [0.9, 0.2]}, r"cast\.intensity: expected \[low, high\] within 0\.\.1"),
        ("text_length", {"max_chars": 1}, r"text_length\.max_chars: must be >= 2, got 1"),
    ],
)
def test_ranges_and_cross_field_rules_fail_before_any_audio(tiny_recipe, root, step, params, message):
    path = tiny_recipe(DE, per_emotion=1, step_params={step: params})
    with pytest.raises(RecipeError, match=rf"steps\[{index_of(path, step)}\]\.{message}"):
        validate_recipe(load_recipe(path, root=root))


def test_an_unknown_step_or_parameter_is_refused(tiny_recipe, root):
    path = tiny_recipe(DE, per_emotion=1, step_params={"cast": {"speakers": 2}})
    with pytest.raises(RecipeError, match=rf"steps\[{index_of(path, 'cast')}\]\.cast\.speakers: unknown key"):
        validate_recipe(load_recipe(path, root=root))
    edit_steps(path, lambda steps: [*steps, "listen"])
    with pytest.raises(RecipeError, match="unknown step 'listen'"):
        validate_recipe(load_recipe(path, root=root))


def test_a_clip_step_inside_the_plan_is_refused(tiny_recipe, root):
    path = tiny_recipe(DE, per_emotion=1)
    edit_steps(path, lambda steps: [steps[0], "signal", *steps[1:]])
    with pytest.raises(RecipeError, match=r"steps\[1\]\.signal works on audio clips"):
        language_pipeline(load_recipe(path, root=root), "de")

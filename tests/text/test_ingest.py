"""The choice of sentences: quota per emotion, order-free and seeded; repeats and unbuilt
emotions dropped with a reason; the remainder counted."""

from __future__ import annotations

import dataclasses
from collections import Counter

from m5ser.config import load_emotions, load_recipe
from m5ser.schema import Utterance
from m5ser.steps import StepContext
from m5ser.testing import make_sentences
from m5ser.text.ingest import Select, SelectParams

from ..conftest import ROOT

RECIPE = load_recipe(ROOT / "manifests/recipes/mini.yaml", root=ROOT)
SPEC = load_emotions(ROOT / "manifests/emotions.yaml")


sentences = make_sentences


def select(items, per_emotion=3, seed=1, **build):
    recipe = dataclasses.replace(RECIPE, seed=seed, build=dataclasses.replace(RECIPE.build, **build))
    step = Select(SelectParams(per_emotion), StepContext(recipe, "en", SPEC))
    return list(step(items)), step.counts


def test_select_caps_per_emotion_and_ignores_input_order():
    chosen, counts = select(sentences(10))
    assert Counter(u.emotion for u in chosen) == {"happy": 3, "sad": 3}
    assert counts == {"unselected": 14}
    again, _ = select(list(reversed(sentences(10))))
    assert [u.id for u in again] == [u.id for u in chosen]
    other, _ = select(sentences(10), seed=2)
    assert [u.id for u in other] != [u.id for u in chosen]


def test_repeats_and_unbuilt_emotions_are_dropped_with_a_reason():
    items = [*sentences(2), Utterance(id="dup", source_id="dup", text="happy 0", emotion="happy")]
    out, counts = select(items, emotions=("happy",))
    assert Counter(u.drop_reason for u in out) == {None: 2, "emotion_not_built": 2, "duplicate_text": 1}
    assert counts["emotion_not_built"] == 2 and counts["duplicate_text"] == 1

"""Casting: distinct speakers per sentence, balanced per emotion; splits by sentence."""

from __future__ import annotations

from collections import Counter

import pytest

from m5ser.config import RecipeError, load_emotions, load_recipe
from m5ser.schema import Utterance, Voice
from m5ser.steps import StepContext
from m5ser.testing import make_sentences
from m5ser.tts.cast import Cast, CastParams, split_of

from ..conftest import ROOT

RECIPE = load_recipe(ROOT / "manifests/recipes/mini.yaml", root=ROOT)
SPEC = load_emotions(ROOT / "manifests/emotions.yaml")


sentences = make_sentences


def voices(n: int) -> tuple[Voice, ...]:
    return tuple(Voice(f"v{i}", "en", "espeak", "en", "male" if i % 2 else "female", "GPL") for i in range(n))


def cast(items, k: int, n_voices: int = 4) -> list[Utterance]:
    step = Cast(CastParams(speakers_per_sentence=k), StepContext(RECIPE, "en", SPEC, voices(n_voices)))
    return list(step(items))


def test_split_is_by_sentence_and_proportional():
    splits = Counter(split_of(f"s{i}", 0, 0.1, 0.2) for i in range(5000))
    assert splits["test"] / 5000 == pytest.approx(0.2, abs=0.03)
    assert splits["dev"] / 5000 == pytest.approx(0.1, abs=0.03)
    assert split_of("x", 0, 0.1, 0.2) == split_of("x", 0, 0.1, 0.2)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_speakers_are_distinct_per_sentence_and_balanced_per_emotion(k):
    clips = cast(sentences(12), k)
    assert len(clips) == 24 * k and len({u.id for u in clips}) == 24 * k
    by_sentence: dict[str, set[str]] = {}
    for u in clips:
        by_sentence.setdefault(u.source_id, set()).add(u.speaker_id)
    assert all(len(s) == k for s in by_sentence.values())
    assert set(Counter((u.emotion, u.speaker_id) for u in clips).values()) == {3 * k}
    assert {u.split for u in clips if u.source_id == "shappy0"} == {split_of("shappy0", RECIPE.seed, 0.1, 0.1)}


def test_neutral_has_no_intensity_and_prosody_follows_the_emotion():
    [clip] = cast([Utterance(id="n", source_id="n", text="Hm.", emotion="neutral")], 1)
    assert clip.intensity == 0.0 and clip.prosody["emotion"] == "neutral" and clip.metrics == {}


def test_more_speakers_than_the_bank_is_an_error():
    with pytest.raises(RecipeError, match="only 2"):
        cast(sentences(1), 3, n_voices=2)


def test_emotions_per_sentence_renders_each_sentence_in_k_emotions_by_the_same_speaker():
    items = sentences(6)
    step = Cast(
        CastParams(speakers_per_sentence=2, emotions_per_sentence=3), StepContext(RECIPE, "en", SPEC, voices(4))
    )
    clips = list(step(items))
    assert len(clips) == len(items) * 2 * 3 and len({c.id for c in clips}) == len(clips)
    by_sentence_speaker: dict[tuple[str, str], list[Utterance]] = {}
    for c in clips:
        by_sentence_speaker.setdefault((c.source_id, c.speaker_id), []).append(c)
    text_label = {u.source_id: u.emotion for u in items}
    for (source_id, _), group in by_sentence_speaker.items():
        emotions = [c.emotion for c in group]
        assert emotions[0] == text_label[source_id] and len(set(emotions)) == 3  # own label first, distinct
        assert {c.metrics["text_emotion"] for c in group} == {text_label[source_id]}
        assert len({c.text for c in group}) == 1
        assert all(c.prosody["emotion"] == c.emotion for c in group)
        assert all((c.intensity == 0.0) == (c.emotion == "neutral") for c in group)


def test_one_emotion_per_sentence_leaves_clips_as_before():
    clips = cast(sentences(4), 2)
    assert all("text_emotion" not in c.metrics for c in clips)
    assert [c.emotion for c in clips] == [u.emotion for u in sentences(4) for _ in range(2)]


def test_more_emotions_per_sentence_than_labels_is_a_recipe_error():
    with pytest.raises(RecipeError, match="emotions_per_sentence: 9, but the build has only"):
        Cast(CastParams(emotions_per_sentence=9), StepContext(RECIPE, "en", SPEC, voices(4)))

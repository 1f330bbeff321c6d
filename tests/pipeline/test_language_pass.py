"""The language pass: `speaker` and `emotion` see every clip of a language, not one work unit's."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import yaml

from m5ser import audio
from m5ser.config import RecipeError, load_recipe
from m5ser.manifest import read_manifest
from m5ser.pipeline.assemble import language_pipeline
from m5ser.pipeline.build import build_language
from m5ser.pipeline.language import pass_paths
from m5ser.pipeline.units import part_of
from m5ser.quality.emotion import EmotionConsistency
from m5ser.quality.speaker import SpeakerConsistency
from m5ser.testing import write_tiny_recipe

ROOT = Path(__file__).resolve().parents[2]
EN = {"en": {"sources": ["xed", "goemotions"], "translate": "identity"}}
PARTS = 4
LANGUAGE_STEPS = [
    "speaker",
    {"metric_filter": {"metric": "speaker_sim", "min": 0.2, "reason": "speaker_mismatch", "missing": "keep"}},
    {"emotion": {"n_folds": 3, "min_speakers": 3}},
]


def fake_embedding(samples: np.ndarray) -> np.ndarray:
    """A deterministic 8-d vector per clip (the test is about which clips meet, not the encoder)."""
    seed = int(hashlib.blake2b(np.asarray(samples).tobytes(), digest_size=4).hexdigest(), 16)
    return np.random.default_rng(seed).normal(size=8) + 2.0


@pytest.fixture(scope="module")
def spy():
    """Fake speaker embeddings; record what the speaker and emotion steps were given (one build
    per module: the tests below share it)."""
    seen: dict[str, list] = {"speaker": [], "emotion": [], "embedded": 0}
    original_speaker = SpeakerConsistency.process_all
    original_emotion = EmotionConsistency.process_all

    def speaker_all(self, items):
        seen["speaker"].append([u.id for u in items])
        return original_speaker(self, items)

    def emotion_all(self, items):
        out = original_emotion(self, items)
        seen["emotion"].append((list(items), [set(t) for t in self.trained_on]))
        return out

    def embed(self, samples):
        seen["embedded"] += 1
        return fake_embedding(samples)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(SpeakerConsistency, "process_all", speaker_all)
        mp.setattr(EmotionConsistency, "process_all", emotion_all)
        mp.setattr(SpeakerConsistency, "embed", embed)
        yield seen


@pytest.fixture(scope="module")
def built(tmp_path_factory, spy):
    """The tiny English recipe with the language steps, built once in 4 work units."""
    path = write_tiny_recipe(tmp_path_factory.mktemp("language-pass"), ROOT, EN, per_emotion=3)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["steps"] = [*data["steps"], *LANGUAGE_STEPS]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    recipe = load_recipe(path, root=ROOT)
    return recipe, build_language(recipe, "en", parts=PARTS, progress=False)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def test_speaker_and_emotion_see_the_whole_language_across_units(built, spy):
    recipe, result = built
    pipeline = language_pipeline(recipe, "en")
    assert [s.name for s in pipeline.language] == ["speaker", "metric_filter", "emotion"]
    assert "speaker" not in [s.name for s in pipeline.clips]

    # The units did not run the language steps: their manifests carry no speaker/emotion metrics.
    parts = sorted((recipe.work_dir / "en" / "parts").glob("*.jsonl"))
    unit_clips = [u for p in parts for u in read_manifest(p)]
    assert len(parts) == PARTS and not any("speaker_sim" in u.metrics for u in unit_clips)
    kept_after_units = sorted(u.id for u in unit_clips if u.kept)

    # One speaker call over every kept clip of the language, from several units.
    speaker_ids = spy["speaker"][0]
    assert sorted(speaker_ids) == kept_after_units
    assert len({part_of(i, PARTS) for i in speaker_ids}) > 1

    # Each clip's similarity is to the centroid of ALL its speaker's other neutral clips.
    final = {u.id: u for u in read_manifest(pass_paths(recipe, "en")[0])}
    clips = [final[i] for i in kept_after_units]
    emb = {u.id: fake_embedding(audio.load(u.audio_path)) for u in clips}
    checked_cross_unit = 0
    for utt in clips:
        refs = [v for v in clips if v.speaker_id == utt.speaker_id and v.id != utt.id and v.emotion == "neutral"]
        if not refs:
            continue
        centroid = np.mean([emb[v.id] for v in refs], axis=0)
        assert utt.metrics["speaker_ref"] == "reference"
        assert utt.metrics["speaker_sim"] == pytest.approx(cosine(emb[utt.id], centroid), abs=1e-4)
        checked_cross_unit += any(part_of(v.id, PARTS) != part_of(utt.id, PARTS) for v in refs)
    assert checked_cross_unit > 0  # some centroid needed neutral clips of another unit

    # The emotion scorer: one call, every clip the speaker step kept, folds over every speaker.
    emotion_items, trained_on = spy["emotion"][0]
    speakers = {u.speaker_id for u in clips if u.kept}
    assert {u.speaker_id for u in emotion_items} == speakers
    assert set().union(*trained_on) == speakers
    assert all(len(t) < len(speakers) for t in trained_on)  # each fold held some speakers out
    scored = [u for u in emotion_items if "emotion_posterior" in u.metrics]
    assert len(scored) == len(emotion_items)

    # Drops of the language pass are accounted for like any other.
    assert result.kept + sum(result.dropped.values()) == result.planned == len(unit_clips)
    assert result.steps["emotion"]["emotion_scored"] == len(emotion_items)


def test_language_pass_is_resumable_and_keyed_by_its_inputs(built, spy):
    recipe, first = built
    embedded, calls = spy["embedded"], len(spy["speaker"])
    shard_rows = sorted(p.read_bytes() for p in (recipe.output / "data" / "en").glob("*.parquet"))

    again = build_language(recipe, "en", parts=PARTS, progress=False)  # same units: the pass is reused
    assert spy["embedded"] == embedded and len(spy["speaker"]) == calls
    assert (again.kept, again.dropped) == (first.kept, first.dropped)

    manifest, marker = pass_paths(recipe, "en")
    marker.unlink()  # as if the merge died after the pass wrote its manifest, before the marker
    redone = build_language(recipe, "en", parts=PARTS, progress=False)
    assert len(spy["speaker"]) == calls + 1  # recomputed, same result, no clip twice
    assert (redone.kept, redone.dropped) == (first.kept, first.dropped)
    ids = [u.id for u in read_manifest(manifest)]
    assert len(ids) == len(set(ids)) == first.planned
    assert sorted(p.read_bytes() for p in (recipe.output / "data" / "en").glob("*.parquet")) == shard_rows


def test_a_language_step_cannot_come_before_the_plan_ends_or_be_retried(tiny_recipe, root):
    path = tiny_recipe(EN, per_emotion=1)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    steps = data["steps"]
    cast = next(i for i, s in enumerate(steps) if "cast" in s)
    data["steps"] = [*steps[:cast], "speaker", *steps[cast:]]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RecipeError, match=r"steps\[\d+\]\.speaker works on audio clips"):
        language_pipeline(load_recipe(path, root=root), "en")

    data["steps"] = [*steps, {"retry": {"on": ["speaker_mismatch"], "steps": ["synthesize", "speaker"]}}]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RecipeError, match="a language step cannot be retried per clip"):
        language_pipeline(load_recipe(path, root=root), "en")

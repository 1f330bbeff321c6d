"""Emotion consistency: speaker-held-out posteriors (no clip is scored by a model that saw its speaker)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from m5ser.quality.emotion import EmotionConsistency, EmotionParams, cross_val_posteriors, speaker_folds
from m5ser.testing import make_utterance, write_tone_wav

pytest.importorskip("sklearn")


def test_folds_partition_speakers() -> None:
    speakers = [f"s{i % 7}" for i in range(40)]
    folds = speaker_folds(speakers, 3)
    assert sorted(np.concatenate(folds).tolist()) == list(range(40))
    owners = [{speakers[i] for i in f} for f in folds]
    assert all(a.isdisjoint(b) for i, a in enumerate(owners) for b in owners[i + 1 :])


def test_no_clip_is_scored_by_a_model_that_saw_its_speaker() -> None:
    # Each speaker speaks one emotion and its features identify it (a one-hot speaker code):
    # a model that saw the speaker scores its clips perfectly, one that did not cannot.
    speakers = [f"s{i}" for i in range(6) for _ in range(10)]
    labels = [("angry", "sad", "happy")[int(s[1]) % 3] for s in speakers]
    features = np.array([[1.0 if s == f"s{k}" else 0.0 for k in range(6)] for s in speakers])
    posts, classes, trained_on = cross_val_posteriors(features, labels, speakers, n_folds=3)
    for fold, seen in zip(speaker_folds(speakers, 3), trained_on, strict=True):
        assert {speakers[i] for i in fold}.isdisjoint(seen)
    own = posts[np.arange(len(labels)), [classes.index(y) for y in labels]]
    assert own.max() < 0.6  # held out: no memorized speaker helps
    from sklearn.linear_model import LogisticRegression

    seen_all = LogisticRegression(max_iter=2000).fit(features, labels).predict_proba(features)
    assert seen_all.max(axis=1).min() > 0.7  # the same model with the speaker in training memorizes it


def test_step_scores_audio_clips(tmp_path: Path) -> None:
    pytest.importorskip("opensmile")
    items = []
    for s in range(3):
        for j, (emotion, f0) in enumerate((("sad", 120.0), ("angry", 300.0))):
            for k in range(2):
                wav = write_tone_wav(tmp_path / f"{s}{j}{k}.wav", 0.8 + 0.1 * k, f0 + 10 * s)
                items.append(
                    make_utterance(speaker_id=f"spk{s}", emotion=emotion, audio_path=str(wav), source_id=f"{s}{j}{k}")
                )
    step = EmotionConsistency(EmotionParams(n_folds=3, min_speakers=3))
    out = list(step(items))
    assert step.counts == {"emotion_scored": 12}
    assert all(
        0.0 <= u.metrics["emotion_posterior"] <= 1.0 and u.metrics["emotion_pred"] in ("sad", "angry") for u in out
    )
    for fold, seen in zip(speaker_folds([u.speaker_id for u in items], 3), step.trained_on, strict=True):
        assert {items[i].speaker_id for i in fold}.isdisjoint(seen)
    few = EmotionConsistency(EmotionParams(min_speakers=4))
    fresh = [dataclasses.replace(u, metrics={}) for u in items[:2]]
    assert [u.metrics.get("emotion_posterior") for u in few(fresh)] == [None, None]
    assert few.counts == {"emotion_not_scored": 2}

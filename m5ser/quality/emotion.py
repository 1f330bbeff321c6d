"""Emotion consistency: is a clip's intended emotion recoverable from its audio?

The first `EmotionScorer` is trained on the build's own clips: eGeMAPS v02 functionals (88,
`opensmile`; Eyben et al. 2016) + standardization + multinomial logistic regression,
**cross-validated over speakers**: the clips are split into folds by speaker, and each clip is
scored by a model trained only on the other folds, so no clip is ever scored by a model that
saw its speaker (`speaker_folds`, `cross_val_posteriors`). The `emotion` step adds
``emotion_posterior`` (the posterior of the intended emotion), ``emotion_pred`` and
``emotion_margin`` (intended minus best other posterior); drop low ones with ``metric_filter``
(``{metric: emotion_posterior, min: 0.2, reason: emotion_unclear}``) if the recipe says so.

Where it runs: the model needs all speakers of a language at once, and the work units hold a
random part of each speaker's clips, so the step is a ``language`` stage step: it (and the
filters after it) runs once per language over all its clips, after the work units, before the
merge (`m5ser.pipeline.language`). A set with fewer than ``min_speakers`` speakers or a single
emotion is left unscored (counted, never passed).
The trained stage-1 model plugs in later through the same `EmotionScorer` protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from m5ser import audio
from m5ser.registry import require
from m5ser.schema import Utterance
from m5ser.steps import BatchStep, StepContext

SAMPLE_RATE = 16_000


def egemaps(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The 88 eGeMAPS v02 functionals of one clip."""
    opensmile = require("opensmile", "quality")
    smile = _smile(opensmile)
    return smile.process_signal(np.asarray(samples, dtype=np.float32), sample_rate).to_numpy()[0].astype(np.float64)


_SMILE: Any = None


def _smile(opensmile: Any) -> Any:
    global _SMILE
    if _SMILE is None:
        _SMILE = opensmile.Smile(
            feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=opensmile.FeatureLevel.Functionals
        )
    return _SMILE


def speaker_folds(speakers: Sequence[str], n_folds: int) -> list[np.ndarray]:
    """Clip indices of each fold; every speaker's clips fall in exactly one fold.

    Speakers are sorted and dealt round-robin, so folds are reproducible.

    >>> [f.tolist() for f in speaker_folds(["a", "b", "a", "c"], 2)]
    [[0, 2, 3], [1]]
    """
    names = sorted(set(speakers))
    fold_of = {s: i % n_folds for i, s in enumerate(names)}
    ids = np.array([fold_of[s] for s in speakers])
    return [np.flatnonzero(ids == k) for k in range(min(n_folds, len(names)))]


def cross_val_posteriors(
    features: np.ndarray, labels: Sequence[str], speakers: Sequence[str], n_folds: int = 5, c: float = 1.0
) -> tuple[np.ndarray, list[str], list[set[str]]]:
    """Posteriors of every clip from a model that never saw its speaker.

    Returns (posteriors [clips × classes], class names, the training speakers of each fold).
    A class missing from a fold's training set gets posterior 0 for that fold's clips."""
    sk = require("sklearn.linear_model", "quality")
    pre = require("sklearn.preprocessing", "quality")
    pipeline = require("sklearn.pipeline", "quality")
    classes = sorted(set(labels))
    y = np.array(labels)
    out = np.zeros((len(labels), len(classes)))
    trained_on = []
    for test in speaker_folds(speakers, n_folds):
        train = np.setdiff1d(np.arange(len(labels)), test)
        trained_on.append({speakers[i] for i in train})
        if len(set(y[train])) < 2:
            continue
        model = pipeline.make_pipeline(pre.StandardScaler(), sk.LogisticRegression(C=c, max_iter=2000))
        model.fit(features[train], y[train])
        probs = model.predict_proba(features[test])
        for j, name in enumerate(model.classes_):
            out[test, classes.index(name)] = probs[:, j]
    return out, classes, trained_on


@dataclass(frozen=True)
class EmotionParams:
    n_folds: int = 5  # speaker folds (each clip is scored by a model trained on the others)
    min_speakers: int = 3  # fewer speakers in the set: left unscored
    c: float = 1.0  # inverse L2 strength of the logistic regression


class EmotionConsistency(BatchStep):
    """Adds ``emotion_posterior``, ``emotion_pred``, ``emotion_margin`` from speaker-held-out
    eGeMAPS + logistic regression (never drops; filter with ``metric_filter``)."""

    name = "emotion"
    Params = EmotionParams
    stage = "language"

    def __init__(self, params: EmotionParams | None = None, ctx: StepContext | None = None) -> None:
        super().__init__(params, ctx)
        self.trained_on: list[set[str]] = []  # training speakers per fold, for inspection

    def process_all(self, items: list[Utterance]) -> list[Utterance]:
        speakers = [u.speaker_id for u in items]
        if len(set(speakers)) < self.params.min_speakers or len({u.emotion for u in items}) < 2:
            self.counts["emotion_not_scored"] += len(items)
            return items
        features = np.stack([egemaps(audio.load(u.audio_path, SAMPLE_RATE)) for u in items])
        features = np.nan_to_num(features)
        posts, classes, self.trained_on = cross_val_posteriors(
            features, [u.emotion for u in items], speakers, self.params.n_folds, self.params.c
        )
        for utt, post in zip(items, posts, strict=True):
            own = float(post[classes.index(utt.emotion)])
            others = max((float(p) for name, p in zip(classes, post, strict=True) if name != utt.emotion), default=0.0)
            utt.metrics.update(
                emotion_posterior=round(own, 4),
                emotion_pred=classes[int(np.argmax(post))],
                emotion_margin=round(own - others, 4),
            )
        self.counts["emotion_scored"] += len(items)
        return items

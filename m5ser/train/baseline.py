"""eGeMAPS functionals + logistic regression, trained on the same clips as the model.

Its checkpoint folder (`meta.json` kind `egemaps_logreg`, `model.joblib`) is evaluated by
the same `m5ser eval` command, with the same test-time normalization.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .data import Clip
from .features import Functionals, GroupStats, group_key, normalized_features
from .metrics import compute_metrics


def _features(clips: list[Clip], cache_dir: str | None = None, progress: bool = False) -> list[np.ndarray]:
    extract = Functionals("eGeMAPSv02", cache_dir)
    feats = [extract(c.audio) for c in tqdm(clips, desc="eGeMAPS", disable=not progress, leave=False)]
    extract.save()
    return feats


def train_baseline(
    clips: list[Clip],
    labels: tuple[str, ...],
    out_dir: str | Path,
    norm: str = "speaker",
    seed: int = 0,
    holdout: list[Clip] | None = None,
    trim: bool = True,
    c: float = 1.0,
    progress: bool = False,
    cache_dir: str | None = None,
) -> Path:
    """Fit StandardScaler + LogisticRegression on group-normalized eGeMAPS; save to `out_dir`.

    `trim` says whether `clips` were silence-trimmed; it is saved in meta.json so that
    `m5ser eval` prepares corpus audio the same way.
    """
    try:
        import joblib
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError as exc:
        raise ImportError("the eGeMAPS baseline needs the `train` extra: pip install scikit-learn") from exc
    groups = [group_key(norm, x.speaker, x.lang) for x in clips]
    feats = _features(clips, cache_dir, progress)
    stats = GroupStats.fit(feats, groups)
    x = np.stack([stats.apply(f, g) for f, g in zip(feats, groups, strict=True)])
    y = np.array([labels.index(cl.emotion) for cl in clips])
    model = make_pipeline(
        StandardScaler(), LogisticRegression(C=c, max_iter=3000, class_weight="balanced", random_state=seed)
    )
    model.fit(x, y)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out / "model.joblib")
    meta = {
        "kind": "egemaps_logreg",
        "labels": list(labels),
        "train_norm": norm,
        "trim": trim,
        "n_train": len(clips),
        "languages": sorted({cl.lang for cl in clips}),
    }
    if holdout:
        preds = predict_baseline(out, holdout, norm, model=model, labels=labels, corpus_of=lambda cl: cl.lang)
        meta["holdout"] = compute_metrics([cl.emotion for cl in holdout], preds, labels).to_dict()
    (out / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return out


def predict_baseline(
    checkpoint: str | Path,
    clips: list[Clip],
    norm: str = "corpus",
    model=None,
    labels: tuple[str, ...] | None = None,
    corpus_of=lambda cl: "eval",
    proba: bool = False,
) -> list[str] | np.ndarray:
    """Labels predicted for `clips` (or, with `proba`, their (n, labels) probabilities),
    features normalized with the clips' own statistics (`norm` groups)."""
    checkpoint = Path(checkpoint)
    if model is None or labels is None:
        import joblib

        model = joblib.load(checkpoint / "model.joblib")
        labels = tuple(json.loads((checkpoint / "meta.json").read_text(encoding="utf-8"))["labels"])
    groups = [group_key(norm, cl.speaker, corpus_of(cl)) for cl in clips]
    x = np.stack(normalized_features([cl.audio for cl in clips], Functionals("eGeMAPSv02"), groups))
    if proba:
        out = np.zeros((len(clips), len(labels)), dtype=np.float32)
        out[:, model.classes_] = model.predict_proba(x)
        return out
    return [labels[i] for i in model.predict(x)]

"""Scores of a set of predictions: UA, WA, macro-F1, per-class recall, confusion matrix
(and its plot), overall and per language. Pure functions of labels; no model, no audio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .data import Clip


@dataclass
class Metrics:
    """Scores of one set of predictions; recall/F1 averaged over the labels present in y_true."""

    ua: float
    wa: float
    macro_f1: float
    n: int
    recall: dict[str, float]
    labels_present: list[str]
    confusion: list[list[int]]
    labels: list[str]

    @property
    def chance(self) -> float:
        """UA of a constant or random guess: 1 / number of classes present."""
        return 1.0 / max(1, len(self.labels_present))

    def to_dict(self) -> dict[str, Any]:
        return {
            "ua": self.ua,
            "wa": self.wa,
            "macro_f1": self.macro_f1,
            "n": self.n,
            "chance": self.chance,
            "recall": self.recall,
            "labels_present": self.labels_present,
            "labels": self.labels,
            "confusion": self.confusion,
        }


def compute_metrics(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> Metrics:
    """UA = balanced accuracy (mean recall over labels present in y_true), WA = accuracy,
    macro-F1 over the labels present in y_true; confusion rows = true, columns = predicted,
    both in `labels` order.
    """
    if len(y_true) != len(y_pred):
        raise ValueError("y_true and y_pred differ in length")
    labels = list(labels)
    index = {lab: i for i, lab in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        cm[index[t], index[p]] += 1
    present = [lab for lab in labels if cm[index[lab]].sum() > 0]
    recall: dict[str, float] = {}
    f1s: list[float] = []
    for lab in present:
        i = index[lab]
        tp = cm[i, i]
        support, predicted = cm[i].sum(), cm[:, i].sum()
        recall[lab] = float(tp / support)
        precision = tp / predicted if predicted else 0.0
        f1s.append(float(2 * precision * recall[lab] / (precision + recall[lab])) if tp else 0.0)
    n = int(cm.sum())
    return Metrics(
        ua=float(np.mean(list(recall.values()))) if recall else 0.0,
        wa=float(np.trace(cm) / n) if n else 0.0,
        macro_f1=float(np.mean(f1s)) if f1s else 0.0,
        n=n,
        recall=recall,
        labels_present=present,
        confusion=cm.tolist(),
        labels=labels,
    )


def plot_confusion(metrics: Metrics, path: str | Path, title: str = "") -> Path:
    """Row-normalized confusion matrix (rows: labels present) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(metrics.confusion, dtype=float)
    rows = [metrics.labels.index(lab) for lab in metrics.labels_present]
    cm = cm[rows]
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1 + 0.8 * len(metrics.labels), 1 + 0.7 * len(rows)))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(metrics.labels)), metrics.labels, rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), metrics.labels_present)
    for i in range(len(rows)):
        for j in range(len(metrics.labels)):
            ax.text(j, i, int(cm[i, j]), ha="center", va="center", color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or f"UA {metrics.ua:.3f}  WA {metrics.wa:.3f}  n={metrics.n}", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def metrics_by_language(clips: Sequence[Clip], preds: Sequence[str], labels: Sequence[str]) -> dict[str, dict]:
    """UA/WA/n per language (only when more than one language is present)."""
    langs = sorted({c.lang for c in clips})
    if len(langs) < 2:
        return {}
    out = {}
    for lang in langs:
        idx = [i for i, c in enumerate(clips) if c.lang == lang]
        m = compute_metrics([clips[i].emotion for i in idx], [preds[i] for i in idx], labels)
        out[lang] = {"ua": m.ua, "wa": m.wa, "macro_f1": m.macro_f1, "n": m.n}
    return out

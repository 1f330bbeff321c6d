"""Evaluation: metrics (UA, WA, macro-F1, per-class recall, confusion), batched prediction
under `no_grad`, and the `m5ser eval` contract on a real labelled corpus folder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .data import Clip, CorpusReport, load_corpus
from .encoders import collate
from .features import group_key, normalized_features


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


@torch.no_grad()
def predict_features(
    model: torch.nn.Module,
    feats: list[np.ndarray],
    kind: str,
    mode: str,
    device: torch.device,
    batch_size: int = 32,
) -> np.ndarray:
    """Class probabilities for pre-normalized features, batched by similar length."""
    model.eval()
    order = sorted(range(len(feats)), key=lambda i: feats[i].shape[0])
    probs = np.zeros((len(feats), model.head[-1].out_features), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        x, mask = collate([feats[i] for i in idx], kind)
        p = model.predict_proba(x.to(device), None if mask is None else mask.to(device), mode)
        probs[idx] = p.float().cpu().numpy()
    return probs


def model_inputs(clips: Sequence[Clip], extractor, norm: str, corpus_of=lambda c: "eval") -> list[np.ndarray]:
    """Features of `clips` normalized with their own statistics (test-time normalization)."""
    groups = [group_key(norm, c.speaker, corpus_of(c)) for c in clips]
    return normalized_features([c.audio for c in clips], extractor, groups)


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


def evaluate_corpus(
    checkpoint: str | Path,
    corpus: str | Path,
    out: str | Path | None = None,
    norm: str = "corpus",
    predict: str | None = None,
    device: str = "auto",
    strict: bool = False,
) -> dict[str, Any]:
    """The `m5ser eval` contract: score a checkpoint (stage-1 model or eGeMAPS baseline) on a
    labelled corpus folder; write JSON to `out` (default `<checkpoint>/eval/<corpus>.json`)
    and a confusion PNG beside it; return the result dict.
    """
    from .checkpoint import load_meta

    checkpoint, corpus = Path(checkpoint), Path(corpus)
    meta = load_meta(checkpoint)
    labels = tuple(meta["labels"])
    clips, report = load_corpus(corpus, labels, trim_db=meta.get("trim_db", 40.0), strict=strict)
    if not clips:
        raise ValueError(f"{corpus}: no clip with a label in {list(labels)} (ignored {report.n_ignored})")
    if meta["kind"] == "egemaps_logreg":
        from .baseline import predict_baseline

        preds = predict_baseline(checkpoint, clips, norm)
        mode = "logreg"
    else:
        from .checkpoint import load_stage1
        from .features import make_extractor

        model, cfg, _ = load_stage1(checkpoint, device)
        mode = predict or cfg.eval.predict
        feats = model_inputs(clips, make_extractor(cfg.features), norm)
        dev = next(model.parameters()).device
        probs = predict_features(model, feats, cfg.features.kind, mode, dev)
        preds = [labels[i] for i in probs.argmax(1)]
    metrics = compute_metrics([c.emotion for c in clips], preds, labels)
    result = _result_dict(checkpoint, corpus, norm, mode, metrics, report)
    result["per_language"] = metrics_by_language(clips, preds, labels)
    out = Path(out) if out else checkpoint / "eval" / f"{corpus.name or 'corpus'}.json"
    png = out.with_name(out.stem + "_confusion.png")
    plot_confusion(metrics, png, f"{corpus.name} | {checkpoint.name} | norm={norm} | UA {metrics.ua:.3f}")
    result["confusion_png"] = str(png)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


def _result_dict(checkpoint: Path, corpus: Path, norm: str, mode: str, m: Metrics, report: CorpusReport) -> dict:
    return {
        "checkpoint": str(checkpoint),
        "corpus": str(corpus),
        "norm": norm,
        "predict": mode,
        "ua": m.ua,
        "wa": m.wa,
        "macro_f1": m.macro_f1,
        "n": m.n,
        "n_ignored": report.n_ignored,
        "n_missing": len(report.missing or []) + len(report.unreadable or []),
        "ignored_labels": report.ignored_labels,
        "chance": m.chance,
        "recall": m.recall,
        "labels": m.labels,
        "confusion": m.confusion,
    }

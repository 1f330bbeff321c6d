"""Evaluation: batched prediction under `no_grad` and the `m5ser eval` contract on a real
labelled corpus folder (scores in `metrics`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from m5ser.config import load_emotions

from .data import Clip, CorpusReport, load_corpus
from .encoders import collate
from .features import group_key, normalized_features
from .metrics import Metrics, compute_metrics, metrics_by_language, plot_confusion


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


def closed_set_predictions(scores: np.ndarray, labels: Sequence[str], allowed: Sequence[str]) -> list[str]:
    """The best-scoring label among `allowed` for each row of `scores` (columns in `labels` order)."""
    keep = np.array([lab in set(allowed) for lab in labels])
    if not keep.any():
        raise ValueError(f"none of {list(allowed)} is a label of the model ({list(labels)})")
    masked = np.where(keep[None, :], scores, -np.inf)
    return [labels[i] for i in masked.argmax(1)]


def model_inputs(clips: Sequence[Clip], extractor, norm: str, corpus_of=lambda c: "eval") -> list[np.ndarray]:
    """Features of `clips` normalized with their own statistics (test-time normalization)."""
    groups = [group_key(norm, c.speaker, corpus_of(c)) for c in clips]
    return normalized_features([c.audio for c in clips], extractor, groups)


def trim_setting(meta: dict[str, Any], checkpoint: str | Path) -> bool:
    """The checkpoint's `trim`: whether its clips were trimmed by the build's rule.

    A meta.json without it (one with `trim_db`, from the old training-only rule) is refused
    rather than evaluated with a rule it was not trained with.
    """
    if "trim" not in meta:
        raise ValueError(f"{checkpoint}: meta.json has no `trim` (saved before the one trim rule): retrain")
    return bool(meta["trim"])


def evaluate_corpus(
    checkpoint: str | Path,
    corpus: str | Path,
    out: str | Path | None = None,
    norm: str = "corpus",
    predict: str | None = None,
    device: str = "auto",
    strict: bool = False,
    emotions_file: str | Path = "manifests/emotions.yaml",
    open_set: bool = False,
) -> dict[str, Any]:
    """The `m5ser eval` contract: score a checkpoint (stage-1 model, eGeMAPS baseline or stage-2
    speech LLM, whose answers are scored labels and ignore `norm`/`predict`) on a
    labelled corpus folder; write JSON to `out` (default `<checkpoint>/eval/<corpus>.json`)
    and a confusion PNG beside it; return the result dict.

    The label set and the trim setting come from the checkpoint's meta.json; corpus label
    spellings are mapped through the `aliases:` of `emotions_file`.

    As in cross-corpus benchmarks (EmoBox), the model answers among the labels the corpus
    has (`ua`, the default); `open_set=True` lets it answer with any of its labels. Both UAs
    are in the result (`ua_open_set` too). Every kind of checkpoint gives a score per label
    (probabilities; for stage 2 each label word's log-likelihood).
    """
    from .checkpoint import load_meta

    checkpoint, corpus = Path(checkpoint), Path(corpus)
    meta = load_meta(checkpoint)
    labels = tuple(meta["labels"])
    emotions = load_emotions(emotions_file)
    clips, report = load_corpus(corpus, labels, emotions, trim=trim_setting(meta, checkpoint), strict=strict)
    if not clips:
        raise ValueError(f"{corpus}: no clip with a label in {list(labels)} (ignored {report.n_ignored})")
    if meta["kind"] == "egemaps_logreg":
        from .baseline import predict_baseline

        scores = predict_baseline(checkpoint, clips, norm, proba=True)
        mode = "logreg"
    elif meta["kind"] == "stage2":
        from .stage2.train import evaluation_scores

        scores, order = evaluation_scores(checkpoint, clips, device)
        scores = scores[:, [order.index(lab) for lab in labels]]
        mode = "llm"
    else:
        from .checkpoint import load_stage1
        from .features import make_extractor

        model, cfg, _ = load_stage1(checkpoint, device)
        mode = predict or cfg.eval.predict
        extract = make_extractor(cfg.features)
        feats = model_inputs(clips, extract, norm)
        if hasattr(extract, "save"):  # a content-keyed feature cache (no labels in it)
            extract.save()
        dev = next(model.parameters()).device
        scores = predict_features(model, feats, cfg.features.kind, mode, dev)
    gold = [c.emotion for c in clips]
    present = sorted({g for g in gold}, key=labels.index)
    open_preds = [labels[i] for i in scores.argmax(1)]
    closed_preds = closed_set_predictions(scores, labels, present)
    open_metrics = compute_metrics(gold, open_preds, labels)
    preds = open_preds if open_set else closed_preds
    metrics = open_metrics if open_set else compute_metrics(gold, closed_preds, labels)
    result = _result_dict(checkpoint, corpus, norm, mode, metrics, report)
    result["label_set"] = "open" if open_set else "corpus"
    result["corpus_labels"] = present
    result["ua_open_set"] = open_metrics.ua
    result["wa_open_set"] = open_metrics.wa
    result["per_language"] = metrics_by_language(clips, preds, labels)
    out = Path(out) if out else checkpoint / "eval" / f"{corpus.name or 'corpus'}.json"
    png = out.with_name(out.stem + "_confusion.png")
    plot_confusion(
        metrics, png, f"{corpus.name} | {checkpoint.name} | norm={norm} | {result['label_set']} UA {metrics.ua:.3f}"
    )
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

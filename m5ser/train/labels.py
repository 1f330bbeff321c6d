"""The emotion label set and the few spelling variants real corpora use for it."""

from __future__ import annotations

from pathlib import Path

import yaml

DEFAULT_EMOTIONS: tuple[str, ...] = (
    "neutral",
    "happy",
    "sad",
    "angry",
    "fear",
    "disgust",
    "surprise",
)
"""Fallback label order when `manifests/emotions.yaml` is not available."""

ALIASES: dict[str, str] = {
    "neu": "neutral",
    "hap": "happy",
    "happiness": "happy",
    "joy": "happy",
    "sadness": "sad",
    "ang": "angry",
    "anger": "angry",
    "fearful": "fear",
    "fea": "fear",
    "disgusted": "disgust",
    "dis": "disgust",
    "surprised": "surprise",
    "sur": "surprise",
}
"""Common corpus spellings of our labels; anything else outside the set is ignored."""


def load_label_set(path: str | Path | None) -> tuple[str, ...]:
    """Read the `labels:` list of an emotions manifest, or the default set if `path` is None."""
    if path is None:
        return DEFAULT_EMOTIONS
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    labels = data.get("labels") if isinstance(data, dict) else None
    if not labels or not all(isinstance(x, str) for x in labels):
        raise ValueError(f"{path}: expected a non-empty `labels:` list of strings")
    return tuple(labels)


def canonical_label(raw: str, labels: tuple[str, ...] | list[str]) -> str | None:
    """Map a corpus label onto `labels` (case-insensitive, known aliases); None when outside.

    >>> canonical_label(" Anger ", ("neutral", "angry"))
    'angry'
    >>> canonical_label("calm", ("neutral", "angry")) is None
    True
    """
    key = str(raw).strip().lower()
    key = ALIASES.get(key, key)
    return key if key in labels else None

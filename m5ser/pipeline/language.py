"""The language pass: the steps that need every clip of a language at once, run once per
language after its work units finished and before the merge writes shards.

The recipe's first ``stage = "language"`` step (speaker centroids, the speaker-held-out emotion
model) and every step after it (their filters) run here over all the language's clips, kept
and dropped, in id order. The result is kept in ``work/<lang>/language.jsonl`` with a completion
marker keyed by the recipe fingerprint and the content of the part manifests it read: a merge
that runs again on the same units reuses it; units that changed redo it. Written atomically, so
a crash leaves the old result or none, never a partial one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from m5ser.config import Recipe
from m5ser.manifest import read_manifest, write_manifest, write_text_atomic
from m5ser.pipeline.assemble import language_pipeline
from m5ser.pipeline.units import run_steps
from m5ser.schema import Utterance

log = logging.getLogger(__name__)


def pass_paths(recipe: Recipe, lang: str) -> tuple[Path, Path]:
    """(manifest, completion marker) of a language's pass."""
    folder = recipe.work_dir / lang
    return folder / "language.jsonl", folder / "language.done"


def inputs_key(recipe: Recipe, manifests: Sequence[str | Path]) -> str:
    """The recipe fingerprint and the bytes of the part manifests, hashed (the pass's cache key)."""
    digest = hashlib.blake2b(recipe.fingerprint().encode(), digest_size=16)
    for path in sorted(str(p) for p in manifests):
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def run_language_pass(
    recipe: Recipe, lang: str, items: Sequence[Utterance], manifests: Sequence[str | Path]
) -> tuple[list[Utterance], dict[str, dict[str, int]]]:
    """All of `lang`'s clips (`items`, read from the part `manifests`) through the language steps.

    Returns (every clip, kept and dropped, in id order; the steps' counts). A recipe without a
    language step returns the items unchanged; a finished pass with the same key is reused."""
    steps = language_pipeline(recipe, lang).language
    ordered = sorted(items, key=lambda u: u.id)
    if not steps:
        return ordered, {}
    manifest, marker = pass_paths(recipe, lang)
    key = inputs_key(recipe, manifests)
    if marker.is_file() and manifest.is_file():
        done = json.loads(marker.read_text(encoding="utf-8"))
        if done.get("key") == key:
            return list(read_manifest(manifest)), done.get("counts", {})
        log.info("%s: language pass of other work units; redoing it", lang)
    out = run_steps(ordered, steps, f"{lang} language pass", progress=False)
    counts: dict[str, dict[str, int]] = {}
    for step in steps:  # a step named twice (metric_filter) adds up
        for name, n in step.counts.items():
            counts.setdefault(step.name, {})[name] = counts.get(step.name, {}).get(name, 0) + n
    write_manifest(manifest, out)
    write_text_atomic(marker, json.dumps({"key": key, "clips": len(out), "counts": counts}) + "\n")
    return out, counts

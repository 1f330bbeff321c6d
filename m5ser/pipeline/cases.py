"""The inline ``test_cases`` of a recipe: each names a step, gives input items and the
expected output, and runs that step with the recipe's own parameters (NeMo SDP style).

A case::

    - step: signal_filter          # a step of the recipe's steps: (its first occurrence)
      lang: de                     # optional; default: the recipe's first language
      input: {metrics: {...}}      # one item or a list; fields of an Utterance
      output: {drop_reason: low_snr}   # one item or a list; each a subset of the step's output

Extras for steps that read files: ``files: {<source>: {<relative path>: <content>}}`` replaces
the sources of the case's language by these files (for ``ingest``), and an input item's
``audio: {seconds: 1.0}`` writes a tone WAV as its ``audio_path`` (for audio annotators).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from m5ser.config import Recipe, RecipeError
from m5ser.pipeline.assemble import build_step, context
from m5ser.schema import Utterance
from m5ser.testing import write_tone_wav


def _items(value: Any) -> list[dict[str, Any]]:
    return [] if value is None else list(value) if isinstance(value, list) else [value]


def _with_files(recipe: Recipe, lang: str, files: dict[str, dict[str, str]], tmp: Path) -> Recipe:
    sources = dict(recipe.sources)
    for name in recipe.languages[lang].sources:
        folder = tmp / "sources" / name
        folder.mkdir(parents=True, exist_ok=True)
        for rel, content in (files.get(name) or {}).items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(content, encoding="utf-8")
        sources[name] = dataclasses.replace(sources[name], path=folder)
    return dataclasses.replace(recipe, sources=sources)


def run_case(recipe: Recipe, case: dict[str, Any], tmp: Path) -> list[Utterance]:
    """Run one case's step over its input items; returns the step's output."""
    name = case["step"]
    lang = case.get("lang") or next(iter(recipe.languages))
    index = next((i for i, s in enumerate(recipe.steps) if s.name == name), None)
    if index is None:
        raise RecipeError(f"{recipe.path}: test case for step '{name}', which is not in steps:")
    recipe = dataclasses.replace(recipe, work_dir=tmp / "work")
    if "files" in case:
        recipe = _with_files(recipe, lang, case["files"], tmp)
    items = []
    for i, fields in enumerate(_items(case.get("input"))):
        fields = {"id": f"{i:016x}", "lang": lang, **fields}  # a clip id is 16 hex digits
        tone = fields.pop("audio", None)
        utt = Utterance(**fields)
        if tone is not None:
            wav = write_tone_wav(tmp / "audio" / f"{utt.id}.wav", float(tone["seconds"]), float(tone.get("f0", 220)))
            utt.audio_path, utt.duration_s = str(wav), float(tone["seconds"])
        items.append(utt)
    step = build_step(recipe, index, context(recipe, lang))
    return list(step(items))


def _subset(expected: Any, actual: Any, where: str) -> list[str]:
    if isinstance(expected, dict) and isinstance(actual, dict):
        return [m for k, v in expected.items() for m in _subset(v, actual.get(k), f"{where}.{k}")]
    return [] if expected == actual else [f"{where}: expected {expected!r}, got {actual!r}"]


def check_case(recipe: Recipe, case: dict[str, Any], tmp: Path) -> list[str]:
    """Mismatches between a case's expected output and what its step produced (empty: passed)."""
    got = run_case(recipe, case, tmp)
    expected = _items(case.get("output"))
    if len(got) != len(expected):
        return [f"expected {len(expected)} output item(s), got {len(got)}: {[u.to_dict() for u in got]}"]
    return [m for i, (e, u) in enumerate(zip(expected, got, strict=True)) for m in _subset(e, u.to_dict(), f"[{i}]")]

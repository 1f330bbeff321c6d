"""Merge a language: its finished work units (through the language pass, `m5ser.pipeline.language`)
and its plan's text-level drops into ``removed/``, the Parquet shards, the published manifest and
``reports/languages/<lang>.json``."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from m5ser.config import Recipe
from m5ser.manifest import read_manifest, write_text_atomic
from m5ser.pipeline.language import run_language_pass
from m5ser.pipeline.plan import require_plan, text_drops
from m5ser.pipeline.units import PartResult
from m5ser.shards.parquet import write_language
from m5ser.shards.removed import write_removed

log = logging.getLogger(__name__)


@dataclass
class LanguageResult:
    """What one language's build produced."""

    lang: str
    planned: int  # clips planned (after any limit)
    kept: int  # clips published
    dropped: dict[str, int]  # clips dropped, by reason
    hours: float  # kept audio
    synthesis_calls: int
    shards: list[str] = field(default_factory=list)
    text_dropped: dict[str, int] = field(default_factory=dict)  # sentences dropped before casting, by reason
    steps: dict[str, dict[str, int]] = field(default_factory=dict)  # the plan's and the language pass's step counts


def finalize_language(recipe: Recipe, lang: str, parts: Sequence[PartResult]) -> LanguageResult:
    """Merge a language's finished units and its plan's drops into removed/, shards, manifest and report json."""
    plan = require_plan(recipe, lang)
    done = sorted((u for p in parts for u in read_manifest(p.manifest)), key=lambda u: u.id)
    ids = [u.id for u in done]
    if len(set(ids)) != len(ids):
        raise RuntimeError(f"{lang}: a clip id appears in two work units")
    done, pass_counts = run_language_pass(recipe, lang, done, [p.manifest for p in parts])
    kept = [u for u in done if u.kept]
    clip_drops = [u for u in done if not u.kept]
    removed = write_removed(recipe.output, lang, clip_drops + text_drops(plan), work_dir=recipe.work_dir)
    shards = write_language(
        lang,
        kept,
        recipe.output,
        max_shard_bytes=recipe.shards.max_bytes,
        wav=recipe.shards.wav,
        audio_format=recipe.shards.audio_format,
    )
    result = LanguageResult(
        lang=lang,
        planned=len(done),
        kept=len(kept),
        dropped=dict(sorted(Counter(str(u.drop_reason) for u in clip_drops).items())),
        hours=round(sum(u.duration_s for u in kept) / 3600, 4),
        synthesis_calls=sum(p.synthesis_calls for p in parts),
        shards=[str(p.relative_to(recipe.output)) for p in shards],
        text_dropped=plan.dropped,
        steps={**plan.counts, **pass_counts},
    )
    write_text_atomic(
        recipe.output / "reports" / "languages" / f"{lang}.json",
        json.dumps({"recipe": recipe.name, "fingerprint": recipe.fingerprint(), **asdict(result)}, indent=2) + "\n",
    )
    log.info("%s: kept %d of %d; removed %s", lang, result.kept, result.planned, removed)
    return result

"""Plan once per language: the recipe's plan steps (ingest, choose, translate, cast) run one
time, and their output is kept in ``work/<lang>/planned.jsonl``.

Every planned Utterance is there, sorted by id: the clips to render (text, route, speaker,
intensity, prosody targets, split) and the sentences dropped on the way, with their reasons.
A completion marker beside it (``planned.done``) carries the recipe fingerprint and the
steps' counts; a plan whose marker matches is reused, so work units, the merge and a resumed
build read it instead of reading and translating the corpora again.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from m5ser.config import Recipe, RecipeError
from m5ser.manifest import read_manifest, write_manifest, write_text_atomic
from m5ser.pipeline.assemble import language_pipeline
from m5ser.schema import Utterance
from m5ser.steps import chain

log = logging.getLogger(__name__)


@dataclass
class Plan:
    """What a language's plan holds (counts only; the items stay on disk)."""

    lang: str
    path: str  # planned.jsonl
    clips: int  # planned clips (kept items)
    dropped: dict[str, int] = field(default_factory=dict)  # text-level drops by reason
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # step name -> its counts


def plan_paths(recipe: Recipe, lang: str) -> tuple[Path, Path]:
    """(planned.jsonl, completion marker) of a language."""
    folder = recipe.work_dir / lang
    return folder / "planned.jsonl", folder / "planned.done"


def load_plan(recipe: Recipe, lang: str) -> Plan | None:
    """The language's finished plan for this recipe, or None (missing, or another recipe's)."""
    manifest, marker = plan_paths(recipe, lang)
    if not (marker.is_file() and manifest.is_file()):
        return None
    done = json.loads(marker.read_text(encoding="utf-8"))
    if done.get("fingerprint") != recipe.fingerprint():
        return None
    return Plan(lang, str(manifest), done["clips"], done["dropped"], done["counts"])


def plan_language(recipe: Recipe, lang: str) -> Plan:
    """Run the plan steps of `lang` unless a finished plan of this recipe exists; returns it."""
    existing = load_plan(recipe, lang)
    if existing is not None:
        return existing
    steps = language_pipeline(recipe, lang).plan
    items = sorted(chain([], steps), key=lambda u: u.id)
    ids = [u.id for u in items]
    if len(set(ids)) != len(ids):
        raise RuntimeError(f"{lang}: two planned items share an id (a source id repeats?)")
    dropped: dict[str, int] = {}
    for utt in items:
        if utt.drop_reason is not None:
            dropped[utt.drop_reason] = dropped.get(utt.drop_reason, 0) + 1
    plan = Plan(
        lang=lang,
        path=str(plan_paths(recipe, lang)[0]),
        clips=sum(u.kept for u in items),
        dropped=dict(sorted(dropped.items())),
        counts={s.name: dict(sorted(s.counts.items())) for s in steps if s.counts},
    )
    if plan.clips == 0:
        raise RecipeError(f"{lang}: no clip planned; every source row was dropped ({plan.dropped}); nothing is written")
    manifest, marker = plan_paths(recipe, lang)
    write_manifest(manifest, items)
    stamp: dict[str, Any] = {"fingerprint": recipe.fingerprint(), "clips": plan.clips}
    write_text_atomic(marker, json.dumps({**stamp, "dropped": plan.dropped, "counts": plan.counts}) + "\n")
    log.info("%s: planned %d clips, %d sentences dropped", lang, plan.clips, sum(dropped.values()))
    return plan


def require_plan(recipe: Recipe, lang: str) -> Plan:
    """The finished plan of `lang`; an error when the language was not planned for this recipe."""
    plan = load_plan(recipe, lang)
    if plan is None:
        raise RuntimeError(f"{lang}: no plan of this recipe in {plan_paths(recipe, lang)[0]} (run plan_language first)")
    return plan


def planned_clips(plan: Plan, limit: int | None = None) -> list[Utterance]:
    """The plan's clips (kept items) in id order; the first `limit` of them when given."""
    clips = [u for u in read_manifest(plan.path) if u.kept]
    return clips if limit is None else clips[:limit]


def text_drops(plan: Plan) -> list[Utterance]:
    """The plan's dropped items (sentences that never became clips)."""
    return [u for u in read_manifest(plan.path) if not u.kept]

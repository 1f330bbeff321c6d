"""Work units: (language, part) slices of a language's plan, run through the clip steps.

A unit reads its slice of ``work/<lang>/planned.jsonl`` (a hash partition of the clip ids,
stable under any limit or ordering), runs the recipe's steps after the plan (synthesis,
annotators, filters) and writes its part manifest atomically, then a completion marker.
A crash leaves either a whole finished unit or none; finished WAVs inside an unfinished
unit are reused.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from m5ser.config import Recipe
from m5ser.manifest import write_manifest, write_text_atomic
from m5ser.pipeline.assemble import language_pipeline
from m5ser.pipeline.plan import planned_clips, require_plan
from m5ser.schema import Utterance
from m5ser.steps import Step, chain

log = logging.getLogger(__name__)


@dataclass
class PartResult:
    """One finished work unit (language, part): its manifest of kept and dropped clips."""

    lang: str
    part: int
    parts: int
    manifest: str
    clips: int
    synthesis_calls: int


def part_of(utt_id: str, parts: int) -> int:
    """The work unit of a clip: a hash partition, stable under any limit or ordering.

    >>> part_of("0000000500000000", 4)
    1
    """
    return int(utt_id[:8], 16) % parts


def part_paths(recipe: Recipe, lang: str, part: int, parts: int) -> tuple:
    """(manifest, completion marker) of one work unit."""
    folder = recipe.work_dir / lang / "parts"
    stem = f"{part:05d}-of-{parts:05d}"
    return folder / f"{stem}.jsonl", folder / f"{stem}.done"


def run_steps(items: Sequence[Utterance], steps: Sequence[Step], label: str, progress: bool = True) -> list[Utterance]:
    """Run the steps over all items (a progress bar when asked and stderr is a terminal: a log file
    gets no redraws); returns every item, kept and dropped."""
    stream: Iterable[Utterance] = chain(items, steps)
    if not (progress and sys.stderr.isatty()):
        return list(stream)
    out = []
    columns = (TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns) as bar:
        task = bar.add_task(label, total=len(items))
        for utt in stream:
            out.append(utt)
            bar.advance(task)
    return out


def run_part(
    recipe: Recipe, lang: str, part: int, parts: int, *, limit: int | None = None, progress: bool = False
) -> PartResult:
    """Run the clip steps over one work unit of the language's plan; a unit whose marker
    (same recipe fingerprint and limit) exists is skipped."""
    manifest, marker = part_paths(recipe, lang, part, parts)
    stamp = {"fingerprint": recipe.fingerprint(), "limit": limit}
    if marker.exists():
        done = json.loads(marker.read_text(encoding="utf-8"))
        if {k: done.get(k) for k in stamp} == stamp:
            return PartResult(lang, part, parts, str(manifest), done["clips"], 0)
        log.info("%s part %d: marker from another recipe or limit; redoing it", lang, part)
    items = [u for u in planned_clips(require_plan(recipe, lang), limit) if part_of(u.id, parts) == part]
    steps = language_pipeline(recipe, lang).clips
    done_items = run_steps(items, steps, f"{lang} part {part + 1}/{parts}", progress)
    write_manifest(manifest, done_items)
    write_text_atomic(marker, json.dumps({"clips": len(done_items), **stamp}) + "\n")
    calls = sum(s.counts.get("synthesis_calls", 0) for s in steps)
    return PartResult(lang, part, parts, str(manifest), len(done_items), calls)

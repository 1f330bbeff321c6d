"""Build one language end to end: plan → synthesize → annotate → filter → shards."""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from m5ser.config import Recipe, load_emotions, voices_for
from m5ser.manifest import dumps, read_manifest, write_manifest, write_text_atomic
from m5ser.pipeline.plan import plan_language
from m5ser.quality.signal import SignalAnnotator, SignalFilter, TextLengthFilter
from m5ser.registry import Synthesizer
from m5ser.schema import Utterance
from m5ser.shards.parquet import write_language
from m5ser.steps import Step, chain
from m5ser.tts.synthesize import Synthesize

log = logging.getLogger(__name__)


@dataclass
class LanguageResult:
    """What one language's build produced."""

    lang: str
    planned: int
    kept: int
    dropped: dict[str, int]
    hours: float
    synthesis_calls: int
    shards: list[str] = field(default_factory=list)
    text_skipped: dict[str, dict[str, int]] = field(default_factory=dict)


def language_steps(recipe: Recipe, lang: str, factory: Callable[[str], Synthesizer] | None = None) -> list[Step]:
    """The step list for one language (the same for every language: config, not code)."""
    voices = {v.id: v for v in voices_for(recipe, lang)}
    quality = load_emotions(recipe.emotions_file).voice_quality if recipe.voice_quality else None
    return [
        TextLengthFilter(recipe.filters),
        Synthesize(recipe.work_dir / lang / "audio", voices, factory=factory, voice_quality=quality),
        SignalAnnotator(),
        SignalFilter(recipe.filters),
    ]


def _progress(total: int, label: str) -> Progress:
    return Progress(
        TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=False
    )


def run_steps(items: Sequence[Utterance], steps: Sequence[Step], label: str, progress: bool = True) -> list[Utterance]:
    """Run the steps over all items with a progress bar; returns every item (kept and dropped)."""
    stream: Iterable[Utterance] = chain(items, steps)
    if not progress:
        return list(stream)
    out = []
    with _progress(len(items), label) as bar:
        task = bar.add_task(label, total=len(items))
        for utt in stream:
            out.append(utt)
            bar.advance(task)
    return out


def write_removed(out_dir: Path, lang: str, dropped: Sequence[Utterance]) -> dict[str, int]:
    """Write `removed/<lang>/<reason>.jsonl` (replacing that language's old files)."""
    folder = out_dir / "removed" / lang
    if folder.exists():
        shutil.rmtree(folder)
    by_reason: dict[str, list[Utterance]] = defaultdict(list)
    for utt in dropped:
        by_reason[str(utt.drop_reason)].append(utt)
    for reason, items in sorted(by_reason.items()):
        lines = "".join(dumps(u) + "\n" for u in sorted(items, key=lambda u: u.id))
        write_text_atomic(folder / f"{reason}.jsonl", lines)
    return {reason: len(items) for reason, items in sorted(by_reason.items())}


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
    """The work unit of a clip: a hash partition, stable under any limit or ordering."""
    return int(utt_id[:8], 16) % parts


def part_paths(recipe: Recipe, lang: str, part: int, parts: int) -> tuple[Path, Path]:
    """(manifest, completion marker) of one work unit."""
    folder = recipe.work_dir / lang / "parts"
    stem = f"{part:05d}-of-{parts:05d}"
    return folder / f"{stem}.jsonl", folder / f"{stem}.done"


def planned_part(recipe: Recipe, lang: str, part: int, parts: int, limit: int | None = None) -> list[Utterance]:
    """The planned clips of one work unit (planning is cheap and deterministic)."""
    planned, _ = plan_language(recipe, lang)
    if limit is not None:
        planned = planned[:limit]
    return [u for u in planned if part_of(u.id, parts) == part]


def run_part(
    recipe: Recipe,
    lang: str,
    part: int,
    parts: int,
    *,
    limit: int | None = None,
    progress: bool = False,
    factory: Callable[[str], Synthesizer] | None = None,
) -> PartResult:
    """Synthesize, annotate and filter one work unit; a unit whose marker (same recipe
    fingerprint and limit) exists is skipped.

    The part manifest is written atomically, then the marker: a crash leaves either a whole
    finished unit or none, and finished WAVs inside an unfinished unit are reused.
    """
    manifest, marker = part_paths(recipe, lang, part, parts)
    stamp = {"fingerprint": recipe.fingerprint(), "limit": limit}
    if marker.exists():
        done = json.loads(marker.read_text(encoding="utf-8"))
        if {k: done.get(k) for k in stamp} == stamp:
            return PartResult(lang, part, parts, str(manifest), done["clips"], 0)
        log.info("%s part %d: marker from another recipe or limit; redoing it", lang, part)
    items = planned_part(recipe, lang, part, parts, limit)
    steps = language_steps(recipe, lang, factory)
    done_items = run_steps(items, steps, f"{lang} part {part + 1}/{parts}", progress)
    write_manifest(manifest, done_items)
    synth = next(s for s in steps if isinstance(s, Synthesize))
    write_text_atomic(marker, json.dumps({"clips": len(done_items), **stamp}) + "\n")
    return PartResult(lang, part, parts, str(manifest), len(done_items), synth.calls)


def finalize_language(recipe: Recipe, lang: str, parts: Sequence[PartResult]) -> LanguageResult:
    """Merge a language's finished units into removed/, shards, manifest and its report json."""
    done = sorted((u for p in parts for u in read_manifest(p.manifest)), key=lambda u: u.id)
    ids = [u.id for u in done]
    if len(set(ids)) != len(ids):
        raise RuntimeError(f"{lang}: a clip id appears in two work units")
    kept = [u for u in done if u.kept]
    dropped = write_removed(recipe.output, lang, [u for u in done if not u.kept])
    shards = write_language(lang, kept, recipe.output, max_shard_bytes=recipe.max_shard_bytes, wav=recipe.wav_sidecars)
    _, text_plan = plan_language(recipe, lang)
    result = LanguageResult(
        lang=lang,
        planned=len(done),
        kept=len(kept),
        dropped=dropped,
        hours=round(sum(u.duration_s for u in kept) / 3600, 4),
        synthesis_calls=sum(p.synthesis_calls for p in parts),
        shards=[str(p.relative_to(recipe.output)) for p in shards],
        text_skipped={name: dict(s.skipped) for name, s in text_plan.stats.items()},
    )
    write_text_atomic(
        recipe.output / "reports" / "languages" / f"{lang}.json",
        json.dumps({"recipe": recipe.name, "fingerprint": recipe.fingerprint(), **asdict(result)}, indent=2) + "\n",
    )
    log.info("%s: kept %d of %d, dropped %s", lang, result.kept, result.planned, dict(Counter(dropped)))
    return result


def build_language(
    recipe: Recipe,
    lang: str,
    *,
    limit: int | None = None,
    parts: int = 1,
    progress: bool = True,
    factory: Callable[[str], Synthesizer] | None = None,
) -> LanguageResult:
    """Build `lang` of `recipe` into `recipe.output` in-process; other languages are untouched."""
    if lang not in recipe.languages:
        raise KeyError(f"language '{lang}' is not in recipe {recipe.path} (has: {sorted(recipe.languages)})")
    results = [run_part(recipe, lang, i, parts, limit=limit, progress=progress, factory=factory) for i in range(parts)]
    return finalize_language(recipe, lang, results)


def clear_language(recipe: Recipe, lang: str) -> None:
    """Forget a language's finished work (markers, part manifests and audio) to force a rebuild."""
    folder = recipe.work_dir / lang
    if folder.exists():
        shutil.rmtree(folder)

"""Prefect flow `build-m5ser`: plan each language once, fan out (language, part) work units,
merge each language, publish.

Tasks wrap the `m5ser` library (which runs without Prefect too) and return paths and
counts, never audio. One `plan-language` task per language runs the recipe's plan steps
(ingest, choose, translate, cast) and keeps `work/<lang>/planned.jsonl`; the work units read
their slice of it. Resume has two layers: Prefect's cache (`INPUTS + TASK_SOURCE`, results
persisted under `<work_dir>/prefect-results`) and the library's completion markers (plan and
units), which stay the source of truth: a cached unit whose files are gone is redone.

Task runners: a process pool on this machine by default (Prefect's `ProcessPoolTaskRunner`,
one process per core); `dask="tcp://host:8786"` runs the units on that Dask scheduler and
`dask="local"` on a `LocalCluster` of worker processes (`prefect-dask`). The workers must
see the same file system (recipe, text sources, work and output folders).

Run it with `m5ser build RECIPE ...` (the one front door; `python -m flows.build_m5ser
RECIPE ...` is the same command), or through the served deployment:
`prefect deployment run build-m5ser/default -p recipe=...`.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from prefect import flow, get_client, task, unmapped
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import INPUTS, NO_CACHE, TASK_SOURCE
from prefect.futures import PrefectFuture, wait
from prefect.settings import PREFECT_API_URL
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner
from prefect.tasks import exponential_backoff

from m5ser.config import Recipe, load_recipe
from m5ser.errors import InputError
from m5ser.hub.publish import publish
from m5ser.hub.stats import quality_rows, read_stats
from m5ser.pipeline.build import clear_language
from m5ser.pipeline.merge import LanguageResult, finalize_language
from m5ser.pipeline.orchestrate import (
    DEFAULT_PARTS,
    artifact_key,
    group_by_language,
    select_languages,
    unit_is_done,
    work_units,
)
from m5ser.pipeline.plan import plan_language
from m5ser.pipeline.units import PartResult, run_part
from m5ser.pipeline.validate import validate_recipe


def retry_unless_bad_input(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a failed task unless its error is about the input (deterministic: the same again)."""
    try:
        state.result()
    except InputError:
        return False
    except Exception:  # any other failure may be transient: the retry policy decides
        return True
    return True


DEFAULT_RECIPE = "manifests/recipes/mini.yaml"
RESULTS_DIR = "prefect-results"
"""Folder under the recipe's work_dir that holds Prefect's persisted task results and cache records."""


def load_checked(recipe: str, root: str, fingerprint: str, wav: bool = False) -> Recipe:
    """Load the recipe; raise if its content changed since the flow started."""
    cfg = load_recipe(recipe, root=root)
    if cfg.fingerprint() != fingerprint:
        raise RuntimeError(f"{recipe} changed during the build (fingerprint {cfg.fingerprint()} != {fingerprint})")
    return replace(cfg, shards=replace(cfg.shards, wav=True)) if wav else cfg


@task(
    name="plan-language",
    task_run_name="plan-{lang}",
    cache_policy=NO_CACHE,  # the plan's completion marker is the cache (keyed by the recipe fingerprint)
    retries=1,
    retry_condition_fn=retry_unless_bad_input,
    retry_delay_seconds=5,
)
def plan_language_task(recipe: str, root: str, fingerprint: str, lang: str) -> int:
    """Read, choose, translate and cast a language's sentences once; returns its planned clips."""
    return plan_language(load_checked(recipe, root, fingerprint), lang).clips


@task(
    name="build-part",
    task_run_name="{lang}-part-{part}-of-{parts}",
    cache_policy=INPUTS + TASK_SOURCE,
    persist_result=True,
    retries=2,
    retry_condition_fn=retry_unless_bad_input,
    retry_delay_seconds=exponential_backoff(backoff_factor=5),
    retry_jitter_factor=0.5,
)
def build_part(
    recipe: str, root: str, fingerprint: str, lang: str, part: int, parts: int, limit: int | None
) -> PartResult:
    """Synthesize, annotate and filter one work unit; returns its part-manifest path and counts."""
    return run_part(load_checked(recipe, root, fingerprint), lang, part, parts, limit=limit)


@task(name="merge-language", task_run_name="merge-{lang}", cache_policy=NO_CACHE)
def merge_language(
    recipe: str, root: str, fingerprint: str, lang: str, parts: list[PartResult], wav: bool
) -> LanguageResult:
    """Merge a language's finished units into removed/, Parquet shards and its manifest."""
    return finalize_language(load_checked(recipe, root, fingerprint, wav), lang, parts)


@task(name="publish", cache_policy=NO_CACHE)
def publish_dataset(recipe: str, root: str, fingerprint: str) -> str:
    """Regenerate the dataset card and the quality report over every language in the output."""
    return str(publish(load_checked(recipe, root, fingerprint)))


def made_now(future: PrefectFuture[PartResult]) -> PartResult:
    """A unit's result, with zero synthesis calls when Prefect served it from its cache."""
    result = future.result()
    return replace(result, synthesis_calls=0) if future.state.name == "Cached" else result


def task_runner(workers: int | None = None, dask: str | None = None) -> TaskRunner:
    """Process pool by default; a Dask runner for `dask="local"` or a scheduler address."""
    n = workers or os.cpu_count() or 1
    if not dask:
        return ProcessPoolTaskRunner(max_workers=n)
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as e:
        raise ImportError("--dask needs prefect-dask: pip install 'm5ser[dask]'") from e
    if dask == "local":
        cluster = {"n_workers": n, "threads_per_worker": 1, "processes": True, "host": "127.0.0.1"}
        return DaskTaskRunner(cluster_class="distributed.LocalCluster", cluster_kwargs=cluster)
    return DaskTaskRunner(address=dask)


@contextmanager
def shared_api() -> Iterator[None]:
    """Point worker processes at this process's Prefect API while the block runs.

    Without PREFECT_API_URL, Prefect starts a temporary server per process; task-runner
    workers would each start their own. They inherit the environment, so name ours.
    """
    if PREFECT_API_URL.value():
        yield
        return
    with get_client(sync_client=True) as client:
        os.environ["PREFECT_API_URL"] = str(client.api_url)
    try:
        yield
    finally:
        os.environ.pop("PREFECT_API_URL", None)


@flow(name="build-m5ser-units", log_prints=True)
def build_units(
    recipe: str,
    root: str,
    fingerprint: str,
    languages: list[str],
    parts: int,
    limit: int | None,
    wav: bool,
    force: bool,
) -> list[LanguageResult]:
    """Plan every language, fan out every (language, part) unit on the task runner, then merge each language."""
    cfg = load_checked(recipe, root, fingerprint)
    storage = cfg.work_dir / RESULTS_DIR
    plans = plan_language_task.map(unmapped(recipe), unmapped(root), unmapped(fingerprint), languages)
    wait(plans)
    for lang, planned in zip(languages, plans, strict=True):
        print(f"{lang}: {planned.result()} clips planned")
    units = work_units(languages, parts)
    part_task = build_part.with_options(result_storage=storage, refresh_cache=force)
    common = (unmapped(recipe), unmapped(root), unmapped(fingerprint))
    futures = part_task.map(*common, [u[0] for u in units], [u[1] for u in units], unmapped(parts), unmapped(limit))
    wait(futures)
    results = [made_now(f) for f in futures]
    stale = [r for r in results if not unit_is_done(cfg, r)]
    if stale:  # the cache remembers a unit whose files were removed since: the markers win
        print(f"redoing {len(stale)} cached unit(s) whose part files are gone")
        redo = build_part.with_options(result_storage=storage, refresh_cache=True)
        again = redo.map(*common, [r.lang for r in stale], [r.part for r in stale], unmapped(parts), unmapped(limit))
        fresh = {(r.lang, r.part): r for r in (f.result() for f in again)}
        results = [fresh.get((r.lang, r.part), r) for r in results]
    merged = merge_language.map(*common, languages, group_by_language(results, languages), unmapped(wav))
    return [f.result() for f in merged]


def publish_artifacts(out_dir: Path, results: list[LanguageResult]) -> None:
    """A table artifact per language (`m5ser-<lang>-quality`) and the report as markdown.

    Both are views of the statistics the publish step wrote (``reports/stats.json``).
    """
    stats = read_stats(out_dir / "reports" / "stats.json")
    for r in results:
        create_table_artifact(
            table=quality_rows(stats, r.lang),
            key=artifact_key(r.lang),
            description=f"M5SER {r.lang}: kept {r.kept} of {r.planned} clips, {r.hours:.3f} h, shards in {out_dir}",
        )
    report = out_dir / "reports" / "quality.md"
    if report.is_file():
        create_markdown_artifact(markdown=report.read_text(encoding="utf-8"), key="m5ser-report")


@flow(name="build-m5ser", log_prints=True)
def build_m5ser(
    recipe: str = DEFAULT_RECIPE,
    languages: list[str] | None = None,
    limit: int | None = None,
    parts: int = DEFAULT_PARTS,
    workers: int | None = None,
    dask: str | None = None,
    wav: bool = False,
    force: bool = False,
    root: str | None = None,
) -> list[LanguageResult]:
    """Build M5SER from `recipe`: every language (or `languages`), then card, report and artifacts.

    `limit` caps clips per language (smoke runs); `parts` is the number of work units per
    language; `workers` sizes the process pool or local Dask cluster; `dask` is "local" or a
    scheduler address; `force` redoes finished units; `root` resolves relative recipe paths
    (default: the current directory).
    """
    root = str(Path(root or Path.cwd()).resolve())
    path = Path(recipe) if Path(recipe).is_absolute() else Path(root) / recipe
    cfg = load_recipe(path, root=root)
    validate_recipe(cfg)
    langs = select_languages(cfg, languages)
    if force:
        for lang in langs:
            clear_language(cfg, lang)
    start = time.perf_counter()
    units = build_units.with_options(task_runner=task_runner(workers, dask))
    with shared_api():
        results = units(str(path), root, cfg.fingerprint(), langs, parts, limit, wav, force)
    publish_dataset(str(path), root, cfg.fingerprint())
    publish_artifacts(cfg.output, results)
    for r in results:
        print(f"{r.lang}: kept {r.kept}/{r.planned}, dropped {r.dropped}, {r.hours:.3f} h, {r.synthesis_calls} calls")
    print(f"built {len(results)} language(s) in {time.perf_counter() - start:.1f} s into {cfg.output}")
    return results


def summary(results: list[LanguageResult]) -> dict[str, Any]:
    """A JSON-ready summary of a build (per language results and total synthesis calls)."""
    return {
        "languages": {r.lang: asdict(r) for r in results},
        "synthesis_calls": sum(r.synthesis_calls for r in results),
    }


if __name__ == "__main__":
    # The one front door: `python -m flows.build_m5ser ARGS` is `m5ser build ARGS` (same options,
    # same defaults). A new program image, not an import: the flow module never imports the CLI.
    os.execv(sys.executable, [sys.executable, "-m", "m5ser.cli", "build", *sys.argv[1:]])

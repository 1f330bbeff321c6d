"""Scale-out of the `build-m5ser` flow on Dask, measured, and a projection to 1,000 h of audio.

    .venv/bin/python bench/scale.py [--per-emotion 6] [--repeat 3] [--langs de en ru zh]

One run, side by side, on tiny recipes (`m5ser.testing.write_tiny_recipe`: the mini recipe's
sources and the clip steps up to the signal checks: synthesize with voice quality, signal,
signal_filter; no ASR/VAD/emotion checks), each variant from scratch in its own folder:
  direct      `build_language` per language in this process (no Prefect, no Dask): the
              per-clip cost of the library alone on one core
  local-1     `build_m5ser(dask="local", workers=1)` (a `distributed.LocalCluster`, 1 worker)
  local-2     the same with 2 workers
  cli-2       `build_m5ser(dask="tcp://127.0.0.1:PORT")` on a cluster this script starts from the
              command line (`dask scheduler --host 127.0.0.1` + 2 `dask worker` processes, one
              thread each) and stops afterwards; its start-up is timed apart
  train-mix   `build_language` in this process on the same sentences with the engines and the
              cast of manifests/recipes/train.yaml (espeak, mbrola, pico, rhvoice, festival;
              2 speakers per sentence), a sample of `--mix-limit` clips per language: the
              multi-engine per-clip cost next to `direct`
The `build_m5ser` calls are the flow behind `m5ser build RECIPE --dask local --workers N` and
`m5ser build RECIPE --dask tcp://...`. For a flow variant the Prefect API's task-run records
give the work units' summed run time (`busy`: one worker's seconds per clip = busy / planned
clips) and their span (first unit start to last unit end: the parallel phase's wall); the
rest of the wall (plan, cluster start for local-*, merge, publish) is printed apart. The
in-process variants run after an untimed warm-up build (imports, engine start-up) and count
wall / planned clips.

Projection of 1,000 h of kept audio: clips = 3.6e6 s / (mean kept clip seconds x kept
fraction); core-seconds = clips x per-clip cost on one Dask worker (local-1 busy / clips); wall
on one 2-core machine = core-seconds / measured 1 -> 2 speed-up (local-1 / local-2 units span);
on N such machines we assume the 2-worker efficiency holds per machine (not measured beyond 2).
The multi-engine recipe's per-clip cost is local-1's scaled by the in-process ratio train-mix /
direct. The ASR and emotion checks of mini.yaml are not included (they cost far
more per clip than synthesis; see bench/quality.py). The machine is shared (2 cores, other
engineers' jobs): only ratios in the same repeat mean much, and the spread over repeats is
printed.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")  # read by dask at import, here and in workers
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from m5ser.testing import write_tiny_recipe  # noqa: E402

CLIP_STEPS: list = [
    "ingest",
    "select",
    "translate",
    "normalize",
    {"cast": {"speakers_per_sentence": 1, "intensity": [0.6, 1.0]}},
    {"text_length": {"min_chars": 2, "max_chars": 300}},
    {"synthesize": {"voice_quality": True}},
    "signal",
    {
        "signal_filter": {
            "min_duration_s": 0.4,
            "max_duration_s": 20.0,
            "max_clipping_ratio": 0.001,
            "min_rms_dbfs": -40.0,
            "max_leading_silence_s": 1.0,
            "max_trailing_silence_s": 1.5,
            "min_snr_db": 20.0,
        }
    },
]
"""The pipeline of the tiny recipes: mini.yaml's plan without the model-based text checks, and
its clip steps up to the signal checks (train.yaml's clip steps)."""

LANG_SOURCES = {
    "en": {"sources": ["xed", "goemotions"], "translate": "identity"},
    "de": {"sources": ["xed"], "translate": "parallel"},
    "ru": {"sources": ["xed"], "translate": "parallel"},
    "zh": {"sources": ["xed"], "translate": "parallel"},
}
TRAIN_ENGINES = ["espeak", "mbrola", "pico", "rhvoice", "festival"]
HOURS = 1000.0


@dataclass
class Run:
    """One timed build: wall seconds, clips planned and kept, kept audio seconds; for a flow also
    the work units' summed run time (`busy`) and the span from the first unit's start to the last
    unit's end (`span`), as the Prefect API recorded them."""

    wall: float
    planned: int
    kept: int
    audio_s: float
    busy: float = 0.0
    span: float = 0.0
    units: int = 0

    @property
    def per_clip(self) -> float:
        """Wall seconds per planned clip."""
        return self.wall / self.planned


def tiny(folder: Path, langs: list[str], per_emotion: int, train_mix: bool) -> Path:
    """A tiny recipe in `folder`; with `train_mix`, train.yaml's engines and 2 speakers per sentence."""
    steps = [dict(s) if isinstance(s, dict) else s for s in CLIP_STEPS]
    overrides: dict = {}
    if train_mix:
        steps[4] = {"cast": {"speakers_per_sentence": 2, "intensity": [0.4, 1.0]}}
        overrides["build"] = {"engines": TRAIN_ENGINES}
    languages = {k: LANG_SOURCES[k] for k in langs}
    return write_tiny_recipe(folder, ROOT, languages=languages, per_emotion=per_emotion, steps=steps, **overrides)


def timed(fn: Callable[[], list], flow: bool) -> Run:
    """Time `fn()` (a list of LanguageResult) as one Run; with `flow`, read its units' times."""
    since = datetime.now(UTC)
    start = time.perf_counter()
    results = fn()
    wall = time.perf_counter() - start
    planned, kept = sum(r.planned for r in results), sum(r.kept for r in results)
    run = Run(wall, planned, kept, sum(r.hours for r in results) * 3600.0)
    return replace(run, **unit_times(since)) if flow else run


def unit_times(since: datetime) -> dict[str, float]:
    """Summed run time, span and count of the `build-part` task runs started after `since`."""
    from prefect import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterStartTime

    query = TaskRunFilter(start_time=TaskRunFilterStartTime(after_=since))
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(task_run_filter=query, limit=200)  # the API's maximum page
    if len(runs) == 200:
        raise RuntimeError("200+ task runs in one build: page the Prefect API query (fewer --parts or languages)")
    units = [r for r in runs if "-part-" in r.name and r.start_time and r.end_time and r.state_name == "Completed"]
    if not units:
        raise RuntimeError("no completed build-part task run found in the Prefect API")
    busy = sum((r.end_time - r.start_time).total_seconds() for r in units)
    span = (max(r.end_time for r in units) - min(r.start_time for r in units)).total_seconds()
    return {"busy": busy, "span": span, "units": len(units)}


def run_direct(recipe: Path, limit: int | None = None) -> list:
    """Every language with the library in this process, then card and report."""
    from m5ser.config import load_recipe
    from m5ser.hub.publish import publish
    from m5ser.pipeline.build import build_language

    cfg = load_recipe(recipe, root=ROOT)
    results = [build_language(cfg, lang, limit=limit, progress=False) for lang in cfg.languages]
    publish(cfg)
    return results


def run_flow(recipe: Path, dask: str, workers: int | None, parts: int, limit: int | None = None) -> list:
    """The `build-m5ser` flow on Dask (`m5ser build RECIPE --dask ... [--workers N] [--limit L]`)."""
    from flows.build_m5ser import build_m5ser

    return build_m5ser(str(recipe), limit=limit, parts=parts, workers=workers, dask=dask, root=str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def cli_cluster(workers: int, api_url: str, log: Path) -> Iterator[tuple[str, float]]:
    """`dask scheduler` + `workers` x `dask worker` on loopback; yields (address, start-up seconds)."""
    from distributed import Client

    dask_bin = str(Path(sys.executable).with_name("dask"))
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PREFECT_API_URL": api_url, "PYTHONPATH": str(ROOT)}
    common = {"cwd": str(ROOT), "env": env, "stdout": subprocess.DEVNULL}
    procs: list[subprocess.Popen] = []
    start = time.perf_counter()
    with open(log, "ab") as err:
        try:
            scheduler = [dask_bin, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"]
            procs.append(subprocess.Popen(scheduler, stderr=err, **common))
            for _ in range(workers):
                worker = [dask_bin, "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard"]
                worker += ["--host", "127.0.0.1"]
                procs.append(subprocess.Popen(worker, stderr=err, **common))
            with Client(address, timeout=60) as client:
                client.wait_for_workers(workers, timeout=120)
            yield address, time.perf_counter() - start
        finally:
            for p in reversed(procs):
                p.terminate()
            for p in reversed(procs):
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def start_api() -> tuple[str, float]:
    """Start (or reach) the Prefect API once; returns its URL and the seconds it took."""
    from prefect import get_client

    start = time.perf_counter()
    with get_client(sync_client=True) as client:
        client.api_healthcheck()
        url = str(client.api_url)
    return url, time.perf_counter() - start


def spread(values: list[float], fmt: str = "{:.3f}") -> str:
    """'median (min-max)' of `values`."""
    med = fmt.format(statistics.median(values))
    return med if len(values) == 1 else f"{med} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def hours(seconds: float) -> str:
    return f"{seconds / 3600:,.1f} h"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--per-emotion", type=int, default=6, help="sentences per language x emotion")
    p.add_argument("--langs", nargs="+", default=["de", "en", "ru", "zh"], choices=sorted(LANG_SOURCES))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--parts", type=int, default=4, help="work units per language")
    p.add_argument("--mix-limit", type=int, default=16, help="clips per language of the train-mix build")
    p.add_argument("--machines", type=int, nargs="+", default=[1, 4, 16, 64])
    args = p.parse_args()
    api_url, api_s = start_api()
    print(f"machine: {os.cpu_count()} cores SHARED with other engineers' jobs; load average {os.getloadavg()}")
    print(f"prefect API start-up (once, not in any wall below): {api_s:.1f} s")
    print(f"tiny recipes: languages {args.langs}, {args.per_emotion} sentences per emotion, parts {args.parts}")
    flows = {"local-1": 1, "local-2": 2, "cli-2": 2}  # Dask workers
    names = ["direct", "train-mix", *flows]
    full: dict[str, list[Run]] = {n: [] for n in names}
    cli_start: list[float] = []
    with tempfile.TemporaryDirectory(prefix="m5ser-scale-") as tmp:
        warm = tiny(Path(tmp) / "warm-up", args.langs, 1, train_mix=True)
        run_direct(warm, limit=2)  # imports, engine start-up and caches: paid once, not timed
        for i in range(args.repeat):
            for name in names:
                recipe = tiny(Path(tmp) / f"{name}-{i}", args.langs, args.per_emotion, train_mix=name == "train-mix")
                if name not in flows:
                    n = args.mix_limit if name == "train-mix" else None
                    run = timed(lambda r=recipe, n=n: run_direct(r, n), flow=False)
                elif name == "cli-2":
                    with cli_cluster(2, api_url, Path(tmp) / "dask-cli.log") as (address, up):
                        cli_start.append(up)
                        run = timed(lambda r=recipe, a=address: run_flow(r, a, None, args.parts), flow=True)
                else:
                    run = timed(lambda r=recipe, w=flows[name]: run_flow(r, "local", w, args.parts), flow=True)
                full[name].append(run)
                units = f"  units: {run.units} busy {run.busy:5.1f} s span {run.span:5.1f} s" if name in flows else ""
                print(
                    f"repeat {i + 1} {name:9s} {run.wall:6.1f} s wall {run.planned:4d} planned {run.kept:4d} kept"
                    f" {run.per_clip * 1000:6.1f} ms/clip{units}  load {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
    # per-clip cost: in-process builds (warm) wall / planned clips; flows: the work units' summed
    # run time / planned clips (one worker's seconds per clip, without plan, cluster start, merge)
    cost = {n: [r.per_clip for r in full[n]] for n in ("direct", "train-mix")}
    cost |= {n: [r.busy / r.planned for r in full[n]] for n in flows}
    fixed = {n: [r.wall - r.span for r in full[n]] for n in flows}
    print(f"\n{'variant':<11}{'s per clip: median (min-max)':>34}{'clips/s':>9}{'wall outside units, s':>26}")
    for name in names:
        fx = spread(fixed[name], "{:.1f}") if name in fixed else "-"
        print(f"{name:<11}{spread(cost[name], '{:.4f}'):>34}{1 / statistics.median(cost[name]):>9.1f}{fx:>26}")
    print(f"cli-2 cluster start-up (scheduler + 2 workers, in no wall above): {spread(cli_start, '{:.1f}')} s")

    def ratio(a: str, b: str) -> list[float]:
        return [x / y for x, y in zip(cost[a], cost[b], strict=True)]

    def span_ratio(a: str, b: str) -> list[float]:
        return [x.span / y.span for x, y in zip(full[a], full[b], strict=True)]

    speedup = span_ratio("local-1", "local-2")
    mix = ratio("train-mix", "direct")
    wall_speedup = [a.wall / b.wall for a, b in zip(full["local-1"], full["local-2"], strict=True)]
    print("\nratios, each from runs in the same repeat (median, min-max):")
    print(f"  speed-up 1 -> 2 workers, units span, local-1 / local-2:  {spread(speedup, '{:.2f}')}x")
    cli = span_ratio("local-1", "cli-2")
    print(f"  speed-up 1 -> 2 workers, units span, local-1 / cli-2:    {spread(cli, '{:.2f}')}x")
    print(f"  speed-up 1 -> 2 workers, whole tiny build wall:          {spread(wall_speedup, '{:.2f}')}x")
    print(
        f"  worker s per clip, local-2 / local-1 (contention):       {spread(ratio('local-2', 'local-1'), '{:.2f}')}x"
    )
    print(f"  Dask units on 1 worker / library in-process, per clip:   {spread(ratio('local-1', 'direct'), '{:.2f}')}x")
    print(f"  train.yaml engines / espeak, per clip (in-process):      {spread(mix, '{:.2f}')}x")

    per_clip = statistics.median(cost["local-1"])
    s = statistics.median(speedup)
    efficiency = min(s, 2.0) / 2
    print(f"\nprojection for {HOURS:,.0f} h of kept audio (signal checks only; no ASR/emotion checks):")
    print(f"  1 machine = 2 cores; measured 1 -> 2 speed-up {s:.2f}x (parallel efficiency {efficiency:.0%});")
    print("  N machines = 2N Dask workers at that efficiency (assumed: not measured beyond 2 workers)")
    for label, clip_cost, sample in (
        ("espeak-only (mini recipe)", per_clip, full["local-1"]),
        ("multi-engine (train.yaml)", per_clip * statistics.median(mix), full["train-mix"]),
    ):
        mean_clip = sum(r.audio_s for r in sample) / sum(r.kept for r in sample)
        kept_frac = sum(r.kept for r in sample) / sum(r.planned for r in sample)
        clips = HOURS * 3600 / (mean_clip * kept_frac)
        core_s = clips * clip_cost
        print(
            f"  {label}: {mean_clip:.2f} s per kept clip, {kept_frac:.0%} kept -> {clips / 1e6:.2f} M planned clips"
            f" x {clip_cost * 1000:.1f} ms = {hours(core_s)} of one worker"
        )
        cells = "  ".join(f"{n} machine(s) {hours(core_s / (2 * n * efficiency))}" for n in args.machines)
        print(f"    wall: {cells}")
    print("\nnoise: min-max over repeats on a shared 2-core machine (other engineers' jobs; the load")
    print("average is printed per run). Unit times come from the Prefect API's task-run records and")
    print("include every unit's task overhead; the wall outside the units (plan, cluster start, merge,")
    print("publish) is left out of the projection, where it is paid once per language (the plan step's")
    print("per-sentence work, cheap here, is the only part of it that grows with the build).")


if __name__ == "__main__":
    main()

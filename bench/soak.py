"""Kill -9 / resume soak test of a build: three hard kills (one inside a language's merge),
then a resume to completion, compared clip by clip with an uninterrupted build.

    .venv/bin/python bench/soak.py [--per-emotion 6] [--lang de --lang fr]

Prints clips expected / present / duplicated / mismatched (goal: equal / equal / 0 / 0) and
`m5ser verify` of the soaked folder.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from m5ser.shards.swap import STAGING
from m5ser.shards.verify import verify
from m5ser.testing import write_tiny_recipe

ROOT = Path(__file__).resolve().parents[1]


def build_command(recipe: Path) -> list[str]:
    return [sys.executable, "-m", "m5ser.cli", "build", str(recipe), "--parts", "4", "--workers", "2"]


def clips(out: Path) -> tuple[dict[str, str], int]:
    """Clip id -> hash of its audio and labels over every shard; and how many ids repeat."""
    found: dict[str, str] = {}
    repeats = 0
    for path in sorted((out / "data").rglob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            audio = row.pop("audio")["bytes"]
            digest = hashlib.sha256(audio + repr(sorted(row.items())).encode()).hexdigest()
            repeats += row["id"] in found
            found[row["id"]] = digest
    return found, repeats


def run_until(recipe: Path, env: dict[str, str], kill_when, limit_s: float) -> bool:
    """Start a build; kill its process group (-9) as soon as `kill_when()` holds. True if killed."""
    proc = subprocess.Popen(build_command(recipe), env=env, cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    start = time.monotonic()
    while proc.poll() is None and time.monotonic() - start < limit_s:
        if kill_when():
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.05)
    proc.wait()
    return False


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--per-emotion", type=int, default=6)
    p.add_argument("--lang", action="append", dest="langs")
    args = p.parse_args()
    langs = args.langs or ["de", "fr"]
    languages = {lang: {"sources": ["xed"], "translate": "parallel"} for lang in langs}
    env = dict(os.environ, PYTHONHASHSEED="0", PREFECT_SERVER_ANALYTICS_ENABLED="false")
    with tempfile.TemporaryDirectory(prefix="m5ser-soak-") as tmp:
        tmp_path = Path(tmp)
        reference = write_tiny_recipe(tmp_path / "reference", ROOT, languages, args.per_emotion)
        soaked = write_tiny_recipe(tmp_path / "soaked", ROOT, languages, args.per_emotion)
        t0 = time.monotonic()
        subprocess.run(build_command(reference), env=env, cwd=ROOT, check=True, capture_output=True)
        full = time.monotonic() - t0
        work, out = tmp_path / "soaked" / "out" / "work", tmp_path / "soaked" / "out" / "m5ser"

        def wavs() -> int:
            return len(list(work.glob("*/audio/*.wav")))

        kills = [
            ("during synthesis", lambda: wavs() >= 3),
            ("later in synthesis", lambda: wavs() >= 3 * len(langs) * args.per_emotion),
            ("inside a merge", lambda: (out / STAGING).is_dir() and any((out / STAGING).iterdir())),
        ]
        for name, when in kills:
            killed = run_until(soaked, env, when, limit_s=3 * full)
            print(f"kill -9 {name}: {'done' if killed else 'the build finished first'}")
        subprocess.run(build_command(soaked), env=env, cwd=ROOT, check=True, capture_output=True)
        expected, _ = clips(tmp_path / "reference" / "out" / "m5ser")
        present, repeats = clips(out)
        mismatched = sum(present.get(i) != d for i, d in expected.items() if i in present)
        print(
            f"clips expected {len(expected)} / present {len(present)} / duplicated {repeats} / mismatched {mismatched}"
        )
        problems = [p for v in verify(out) for p in v.problems]
        print(f"verify: {problems or 'ok'}")
        print(f"(uninterrupted build: {full:.0f} s)")


if __name__ == "__main__":
    main()

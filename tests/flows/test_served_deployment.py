"""Acceptance: a real Prefect server on loopback, the serve process, `prefect deployment run build-m5ser/default`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from m5ser.config import load_recipe

ROOT = Path(__file__).resolve().parents[2]
PREFECT = [sys.executable, "-m", "prefect"]


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float, proc: subprocess.Popen) -> None:
    """Poll `url` until it answers 200; fail if `proc` dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{proc.args} exited with {proc.returncode}"
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM a process group we started, SIGKILL it if it lingers."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`prefect server start` on 127.0.0.1 with a temp SQLite database; yields (API URL, client env)."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = dict(
        os.environ,
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{tmp_path / 'prefect.db'}",
        PREFECT_API_URL=api,
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    log = (tmp_path / "server.log").open("wb")
    cmd = [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(f"{api}/health", 180, proc)
        yield api, env
    finally:
        stop(proc)
        log.close()


@pytest.mark.slow
def test_served_deployment_runs_a_tiny_build(server, make_recipe, tmp_path):
    api, env = server
    path = make_recipe(per_emotion=1)
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [sys.executable, "-m", "flows.serve", "--recipe", str(path)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(f"{api}/deployments/name/build-m5ser/default", 180, serve)
        params = ["-p", f"recipe={path}", "-p", "parts=2"]
        run = subprocess.run(
            [*PREFECT, "deployment", "run", "build-m5ser/default", *params, "--watch", "--watch-timeout", "400"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=480,
        )
    finally:
        stop(serve)
        log.close()
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:] + (tmp_path / "serve.log").read_text()[-3000:]
    assert "Completed" in run.stdout + run.stderr
    out = load_recipe(path, root=ROOT).output
    assert list((out / "data" / "de").glob("*.parquet")) and (out / "reports" / "quality.md").is_file()

    # prefect.yaml registers the same deployment on a process work pool.
    subprocess.run([*PREFECT, "work-pool", "create", "m5ser", "--type", "process"], env=env, check=True, timeout=120)
    deploy = subprocess.run(
        [*PREFECT, "--no-prompt", "deploy", "--all"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-3000:]
    deployment = httpx.get(f"{api}/deployments/name/build-m5ser/default", timeout=30).json()
    assert deployment["work_pool_name"] == "m5ser"
    assert deployment["entrypoint"] == "flows.build_m5ser.build_m5ser"
    assert deployment["pull_steps"][0]["prefect.deployments.steps.set_working_directory"]["directory"] == str(ROOT)

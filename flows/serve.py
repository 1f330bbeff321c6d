"""Serve deployment `build-m5ser/default`: `python -m flows.serve` (needs PREFECT_API_URL of a running server).

Then `prefect deployment run build-m5ser/default -p recipe=manifests/recipes/mini.yaml`
runs a build in a subprocess of this process; relative recipe paths resolve against the
directory this was started in. `make serve` starts a local server and this together.
"""

from __future__ import annotations

import argparse

from prefect.deployments.runner import EntrypointType

from flows.build_m5ser import DEFAULT_RECIPE, build_m5ser

DEPLOYMENT = "default"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of `python -m flows.serve`."""
    p = argparse.ArgumentParser(prog="python -m flows.serve", description=__doc__)
    p.add_argument("--recipe", default=DEFAULT_RECIPE, help="default `recipe` parameter of the deployment")
    p.add_argument("--limit", type=int, default=1, help="flow runs this process executes at once")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Register the deployment and run its flow runs until interrupted."""
    args = parse_args(argv)
    build_m5ser.serve(
        name=DEPLOYMENT,
        parameters={"recipe": args.recipe},
        tags=["m5ser"],
        description="Build M5SER from a recipe (see flows/build_m5ser.py for the parameters).",
        limit=args.limit,
        entrypoint_type=EntrypointType.MODULE_PATH,  # workers import flows.build_m5ser by name
    )


if __name__ == "__main__":
    main()

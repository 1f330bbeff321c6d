"""Prefect flow `train-m5ser`: stage-1 training, the eGeMAPS baseline and real-corpus
evaluation, as tasks around the `m5ser.train` library (which runs without Prefect too).
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from m5ser.train.config import load_config


@task(name="train-stage1")
def train_stage1_task(config: str, overrides: list[str]) -> str:
    """Train stage 1 (+ baseline and configured evaluations); return the final checkpoint path."""
    from m5ser.train.trainer import train_stage1

    return str(train_stage1(load_config(config, overrides), progress=False))


@task(name="evaluate-corpus", retries=1, retry_delay_seconds=5)
def evaluate_task(checkpoint: str, corpus: str, norm: str, emotions_file: str) -> dict:
    """Score one checkpoint on one labelled corpus folder (the `m5ser eval` contract)."""
    from m5ser.train.evaluate import evaluate_corpus

    out = Path(checkpoint) / "eval" / f"{Path(corpus).name}-{norm}.json"
    return evaluate_corpus(checkpoint, corpus, out, norm=norm, emotions_file=emotions_file)


@flow(name="train-m5ser", log_prints=True)
def train_m5ser(
    config: str = "manifests/train/stage1.yaml",
    overrides: list[str] | None = None,
    corpora: list[str] | None = None,
    norms: list[str] | None = None,
) -> dict:
    """Train, then evaluate model and baseline on each corpus under each normalization."""
    final = train_stage1_task(config, overrides or [])
    cfg = load_config(Path(final) / "config.yaml")
    checkpoints = {"model": final}
    baseline = Path(cfg.out_dir) / "baseline"
    if (baseline / "meta.json").is_file():
        checkpoints["baseline"] = str(baseline)
    rows = []
    for corpus in corpora if corpora is not None else cfg.eval.corpora:
        for norm in norms or [cfg.eval.norm]:
            for system, ckpt in checkpoints.items():
                r = evaluate_task(ckpt, corpus, norm, cfg.data.emotions_file)
                rows.append(
                    {
                        "corpus": Path(corpus).name,
                        "system": system,
                        "norm": norm,
                        "ua": round(r["ua"], 4),
                        "wa": round(r["wa"], 4),
                        "macro_f1": round(r["macro_f1"], 4),
                        "n": r["n"],
                        "chance": round(r["chance"], 4),
                    }
                )
    if rows:
        create_table_artifact(rows, key="train-m5ser-real-eval", description="UA on real corpora")
    create_markdown_artifact((Path(final) / "report.md").read_text(encoding="utf-8"), key="train-m5ser-report")
    print(f"final checkpoint: {final}")
    return {"final": final, "eval": rows}


if __name__ == "__main__":
    train_m5ser()

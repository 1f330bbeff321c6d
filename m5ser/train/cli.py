"""Command line: `m5ser train stage1|stage2 --config FILE` and `m5ser eval --checkpoint DIR --corpus DIR`.

`train_app` and `eval_command` are mounted into the main `m5ser` CLI; `app` runs them
standalone (`python -m m5ser.train.cli ...`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

train_app = typer.Typer(help="Train M5SER speech-emotion models.", no_args_is_help=True)


@train_app.command("stage1")
def stage1(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Stage-1 YAML config.")] = None,
    resume: Annotated[Path | None, typer.Option(help="Checkpoint folder to continue from (uses its config).")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override, e.g. --set optim.epochs=2.")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Train stage 1 (contrastive + SupCon + CE + speaker adversary), the eGeMAPS baseline,
    evaluate the configured real corpora and write the report beside the final checkpoint.
    """
    from .config import load_config
    from .trainer import resume_stage1, train_stage1

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if resume is not None:
        final = resume_stage1(resume, set_ or [], progress=not quiet)
    elif config is not None:
        final = train_stage1(load_config(config, set_ or []), progress=not quiet)
    else:
        raise typer.BadParameter("give --config FILE or --resume CHECKPOINT")
    typer.echo(f"final checkpoint: {final}\nreport: {final / 'report.md'}")


@train_app.command("stage2")
def stage2(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Stage-2 YAML config.")] = None,
    resume: Annotated[Path | None, typer.Option(help="Epoch checkpoint (<out_dir>/last) to continue.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override, e.g. --set llm.mode=frozen.")] = None,
) -> None:
    """Train stage 2 (Whisper encoder → Q-Former/projector → causal LLM answering the emotion word)."""
    from .stage2.config import load_config as load_stage2_config
    from .stage2.train import resume_stage2, train_stage2

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if resume is not None:
        final = resume_stage2(resume)
    elif config is not None:
        final = train_stage2(load_stage2_config(config, set_ or []))
    else:
        raise typer.BadParameter("give --config FILE or --resume CHECKPOINT")
    typer.echo(f"final checkpoint: {final}")


def eval_command(
    checkpoint: Annotated[
        Path, typer.Option(help="Checkpoint folder (stage-1 model, eGeMAPS baseline or stage-2 speech LLM).")
    ],
    corpus: Annotated[Path, typer.Option(help="Folder with audio and labels.csv (path, emotion, speaker, language).")],
    out: Annotated[Path | None, typer.Option(help="JSON result file; the confusion PNG is written beside it.")] = None,
    norm: Annotated[str, typer.Option(help="Test-time feature normalization: none, corpus or speaker.")] = "corpus",
    predict: Annotated[str | None, typer.Option(help="head, text or fused (default: the checkpoint's).")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    strict: Annotated[bool, typer.Option(help="Fail on missing/unreadable audio instead of skipping it.")] = False,
    emotions: Annotated[
        Path, typer.Option(help="Emotions manifest whose `aliases:` map corpus label spellings.")
    ] = Path("manifests/emotions.yaml"),
    open_set: Annotated[
        bool, typer.Option("--open-set", help="Let the model answer with any of its labels, not only the corpus'.")
    ] = False,
) -> None:
    """Score a checkpoint on a labelled corpus; print one JSON object (ua, wa, macro_f1, n,
    n_ignored, recall per class, ua_open_set, ...). Labels outside the model's set are ignored
    and counted. By default the model answers among the labels the corpus has (the
    cross-corpus protocol); `ua_open_set` scores its unrestricted answers.
    """
    from .evaluate import evaluate_corpus

    if norm not in ("none", "corpus", "speaker"):
        raise typer.BadParameter(f"--norm must be none, corpus or speaker, not {norm!r}")
    result = evaluate_corpus(
        checkpoint,
        corpus,
        out,
        norm=norm,
        predict=predict,
        device=device,
        strict=strict,
        emotions_file=emotions,
        open_set=open_set,
    )
    typer.echo(json.dumps(result))


app = typer.Typer(help="M5SER training and evaluation.", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.command("eval")(eval_command)

if __name__ == "__main__":
    app()

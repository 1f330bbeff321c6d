"""From the recipe's ``steps:`` to the Step objects of one language, and where its plan ends."""

from __future__ import annotations

from dataclasses import dataclass, field

from m5ser import registry
from m5ser.config import Recipe, RecipeError, load_emotions, parse_section, voices_for
from m5ser.steps import MapStep, StepContext


def context(recipe: Recipe, lang: str) -> StepContext:
    """The StepContext of `lang`: recipe, label spec and the language's speakers."""
    if lang not in recipe.languages:
        raise KeyError(f"language '{lang}' is not in recipe {recipe.path} (has: {sorted(recipe.languages)})")
    return StepContext(recipe, lang, load_emotions(recipe.emotions), tuple(voices_for(recipe, lang)))


def step_class(recipe: Recipe, index: int) -> type[MapStep]:
    """The registered class of step `index`; an unknown name is a RecipeError naming it."""
    name = recipe.steps[index].name
    try:
        return registry.resolve("step", name)
    except KeyError as e:
        raise RecipeError(f"{recipe.path}: steps[{index}].{name}: {e.args[0]}") from None


def build_step(recipe: Recipe, index: int, ctx: StepContext) -> MapStep:
    """Step `index` of the recipe, its parameters checked against the step's ``Params``."""
    cfg = recipe.steps[index]
    where = f"steps[{index}].{cfg.name}"
    cls = step_class(recipe, index)
    try:
        return cls(parse_section(cls.Params, cfg.params, where), ctx)
    except RecipeError as e:
        message = str(e) if str(e).startswith(where) else f"{where}.{e}"
        raise RecipeError(f"{recipe.path}: {message}") from None


@dataclass
class LanguagePipeline:
    """The steps of one language, cut where the plan ends and where the language pass starts."""

    plan: list[MapStep]  # run once per language; their output is work/<lang>/planned.jsonl
    clips: list[MapStep]  # run in every work unit over its slice of the plan
    context: StepContext  # what the steps were built with (labels, the language's speakers)
    language: list[MapStep] = field(default_factory=list)  # from the first "language" step on: once over all clips


def plan_end(recipe: Recipe) -> int:
    """Index after the last ``stage = "plan"`` step; a ``clip`` step before it is an error."""
    stages = [step_class(recipe, i).stage for i in range(len(recipe.steps))]
    plans = [i for i, stage in enumerate(stages) if stage == "plan"]
    if not plans:
        raise RecipeError(f"{recipe.path}: steps: no step reads the sources (add ingest, select, translate, cast)")
    end = plans[-1] + 1
    early = [f"steps[{i}].{recipe.steps[i].name}" for i in range(end) if stages[i] in ("clip", "language")]
    if early:
        raise RecipeError(f"{recipe.path}: {early[0]} works on audio clips and must come after the plan's last step")
    return end


def language_start(recipe: Recipe) -> int:
    """Index of the first ``stage = "language"`` step (len(steps) if none): it and every step
    after it run once per language over all its clips, after the work units."""
    stages = [step_class(recipe, i).stage for i in range(len(recipe.steps))]
    return next((i for i, stage in enumerate(stages) if stage == "language"), len(stages))


def language_pipeline(recipe: Recipe, lang: str) -> LanguagePipeline:
    """Every step of `lang`, built from the recipe (validates all parameters)."""
    ctx = context(recipe, lang)
    end, start = plan_end(recipe), language_start(recipe)
    steps = [build_step(recipe, i, ctx) for i in range(len(recipe.steps))]
    return LanguagePipeline(plan=steps[:end], clips=steps[end:start], context=ctx, language=steps[start:])

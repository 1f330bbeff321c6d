"""Check a recipe before any audio is made: every step and its parameters, label maps,
speaker bank, engines and voices, translation routes, and the sources themselves (every
row is read: encoding, header, columns, labels)."""

from __future__ import annotations

from collections import Counter

from m5ser import registry
from m5ser.config import Recipe, RecipeError
from m5ser.pipeline.assemble import language_pipeline, plan_end
from m5ser.text.ingest import Ingest


def validate_recipe(recipe: Recipe) -> list[str]:
    """Raise RecipeError (naming file and key) on the first problem; return one finding per language."""
    plan_end(recipe)
    findings = []
    for lang, cfg in recipe.languages.items():
        pipeline = language_pipeline(recipe, lang)  # builds every step: parameters checked
        voices = pipeline.context.voices
        for voice in voices:
            engine = registry.resolve("synthesizer", voice.engine)
            known = getattr(engine, "known_voices", None)
            if known is not None and voice.voice.split("+")[0].lower() not in known():
                raise RecipeError(
                    f"{recipe.voices_dir / (lang + '.yaml')}: {voice.id}: {voice.engine} has no voice '{voice.voice}'"
                )
        try:
            translator = registry.resolve("translator", cfg.translate)
        except KeyError as e:
            raise RecipeError(f"{recipe.path}: languages.{lang}.translate: {e.args[0]}") from None
        if cfg.text_lang == lang and not getattr(translator, "same_language", False):
            raise RecipeError(f"{recipe.path}: languages.{lang}.translate '{cfg.translate}' needs translate_from")
        route: list[str] = []
        if hasattr(translator, "route"):
            try:
                route = translator(**cfg.translate_options).route(cfg.text_lang, lang)
            except ValueError as e:
                raise RecipeError(f"{recipe.path}: languages.{lang}: {e}") from None
        for name in cfg.sources:
            if not recipe.sources[name].path.exists():
                raise RecipeError(f"{recipe.path}: sources.{name}.path {recipe.sources[name].path} does not exist")
        rows = Counter(u.drop_reason or "ok" for step in pipeline.plan if isinstance(step, Ingest) for u in step([]))
        read = f"{sum(rows.values())} rows read" + (
            f" ({', '.join(f'{n} {r}' for r, n in sorted(rows.items()) if r != 'ok')} dropped)" if len(rows) > 1 else ""
        )
        steps = " → ".join(s.name for s in pipeline.plan + pipeline.clips + pipeline.language)
        sources = ", ".join(cfg.sources)
        via = f"{cfg.translate} ({', '.join(route)})" if route else cfg.translate
        findings.append(f"{lang}: {len(voices)} speakers, text from {sources} ({read}) via {via}; {steps}")
    return findings

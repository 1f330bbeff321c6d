"""The Translate step: per-source routes and the persistent translation cache (hit on a second run)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from m5ser import registry
from m5ser.config import load_emotions, load_recipe
from m5ser.schema import Utterance
from m5ser.steps import StepContext
from m5ser.testing import write_tiny_recipe
from m5ser.text.translate import RoutesTranslator, Translate, TranslateParams, TranslationCache

ROOT = Path(__file__).resolve().parents[2]


class Upper:
    """A deterministic stand-in MT backend that counts the texts it was asked for."""

    name = "upper"
    calls: ClassVar[list[str]] = []

    def __init__(self, model: str = "m1") -> None:
        self.model = model

    def route(self, src: str, tgt: str) -> list[str]:
        return [f"{src}-{tgt}"]

    def cache_id(self, src: str, tgt: str) -> str:
        return f"upper:{self.model}"

    def translate(self, texts, src, tgt):
        Upper.calls.extend(texts)
        return [t.upper() for t in texts]


@pytest.fixture
def ctx(tmp_path, monkeypatch):
    monkeypatch.setitem(registry._REGISTRY["translator"], "upper", f"{__name__}:Upper")
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    Upper.calls = []
    langs = {"es": {"sources": ["xed", "xed_neutral"], "translate": "routes",
                    "translate_options": {"routes": {"es": "parallel", "en": "upper"}}}}  # fmt: skip
    recipe = load_recipe(write_tiny_recipe(tmp_path, ROOT, languages=langs))
    return StepContext(recipe, "es", load_emotions(recipe.emotions))


def _sentences() -> list[Utterance]:
    return [
        Utterance(id="1", source_id="a", source_lang="en", source_text="hello there", lang="es", text="hello there"),
        Utterance(id="2", source_id="b", source_lang="es", source_text="¡Hola!", lang="es", text="¡Hola!"),
        Utterance(id="3", source_id="c", source_lang="en", source_text="good night", lang="es", text="good night"),
    ]


def test_routes_pick_a_backend_per_source_language(ctx):
    out = {u.source_id: u for u in Translate(TranslateParams(), ctx)(_sentences())}
    assert out["a"].text == "HELLO THERE" and out["a"].translation_backend == "upper"
    assert out["b"].text == "¡Hola!" and out["b"].translation_backend == "parallel"


def test_cache_is_hit_on_a_second_run(ctx):
    first = Translate(TranslateParams(), ctx)
    list(first(_sentences()))
    assert first.counts["cache_misses"] == 2 and first.counts["cache_hits"] == 0
    assert sorted(Upper.calls) == ["good night", "hello there"]
    second = Translate(TranslateParams(), ctx)
    out = list(second(_sentences()))
    assert second.counts["cache_hits"] == 2 and second.counts["cache_misses"] == 0
    assert len(Upper.calls) == 2  # the backend was not called again
    assert {u.text for u in out} == {"HELLO THERE", "¡Hola!", "GOOD NIGHT"}
    assert (ctx.recipe.work_dir / "cache" / "translations.sqlite").is_file()


def test_cache_key_separates_backend_model_and_languages(tmp_path):
    keys = {
        TranslationCache.key("upper:m1", "en", "es", "hi"),
        TranslationCache.key("upper:m2", "en", "es", "hi"),
        TranslationCache.key("upper:m1", "en", "fr", "hi"),
        TranslationCache.key("llm:x:prompt=abc", "en", "es", "hi"),
    }
    assert len(keys) == 4
    cache = TranslationCache(tmp_path / "c.sqlite")
    cache.put_many([(TranslationCache.key("upper:m1", "en", "es", "hi"), "HI")])
    cache.close()
    again = TranslationCache(tmp_path / "c.sqlite")
    assert again.get_many([TranslationCache.key("upper:m1", "en", "es", "hi")]) == {
        TranslationCache.key("upper:m1", "en", "es", "hi"): "HI"
    }


def test_routes_without_a_route_fail_clearly():
    with pytest.raises(ValueError, match="no route from 'en' to 'de'"):
        RoutesTranslator({"en": "apertium"}).route("de", "de")
    with pytest.raises(ValueError, match="no backend for source language 'ru'"):
        RoutesTranslator({"en": "identity"}).backend("ru")


def test_validate_names_the_route_and_rejects_a_language_without_one(tmp_path):
    from m5ser.config import RecipeError
    from m5ser.pipeline.validate import validate_recipe

    ok = {"es": {"sources": ["xed", "xed_neutral"], "translate": "routes",
                 "translate_options": {"routes": {"es": "parallel", "en": "apertium"}}}}  # fmt: skip
    findings = validate_recipe(load_recipe(write_tiny_recipe(tmp_path / "ok", ROOT, languages=ok)))
    assert "via routes (en:apertium:en-es, es:parallel)" in findings[0]
    bad = {"de": {"sources": ["xed", "xed_neutral"], "translate": "routes",
                  "translate_options": {"routes": {"de": "parallel", "en": "apertium"}}}}  # fmt: skip
    with pytest.raises(RecipeError, match=r"languages\.de: apertium has no route from 'en' to 'de'"):
        validate_recipe(load_recipe(write_tiny_recipe(tmp_path / "bad", ROOT, languages=bad)))

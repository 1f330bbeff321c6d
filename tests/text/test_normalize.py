"""TTS normalization: spoken text for the engines, the written text kept in metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("num2words")

from m5ser.schema import Utterance
from m5ser.text.normalize import Normalize, NormalizeParams, load_rules, normalize_text, split_sentences

RULES = Path(__file__).resolve().parents[2] / "manifests" / "normalize.yaml"


@pytest.mark.parametrize(
    ("lang", "written", "spoken"),
    [
        ("en", "Dr. Smith paid $5 & left on the 21st.", "Doctor Smith paid five dollars and left on the twenty-first."),
        ("de", "Es kostet 3,5 € und 12 %.", "Es kostet drei Komma fünf Euro und zwölf Prozent."),
        ("fr", "J'ai 2 chats.", "J'ai deux chats."),
        ("es", "Tengo 30 años.", "Tengo treinta años."),
        ("ja", "3人が来た。", "三人が来た。"),
        ("zh", "我有3个苹果", "我有3个苹果"),  # num2words has no Chinese: digits kept
        ("en", "The A4 sheet and mp3 files.", "The A4 sheet and mp3 files."),  # codes are not numbers
    ],
)
def test_normalize_text(lang, written, spoken):
    assert normalize_text(written, lang, load_rules(RULES)[lang]) == spoken


def test_step_keeps_the_written_text_and_splits_long_text():
    step = Normalize(NormalizeParams(rules=str(RULES), max_chars=30))
    items = [
        Utterance(id="a", source_id="s1", lang="en", text="I have 2 dogs."),
        Utterance(id="b", source_id="s2", lang="en", text="I am so angry. You lied to me again. Go away!"),
        Utterance(id="c", source_id="s3", lang="en", text="This single sentence is certainly far too long to say."),
        Utterance(id="d", source_id="s4", lang="en", text="Fine."),
    ]
    out = list(step(items))
    assert out[0].text == "I have two dogs." and out[0].metrics["written_text"] == "I have 2 dogs."
    parts = [u for u in out if u.metrics.get("sentence_of") == "s2"]
    assert [u.text for u in parts] == ["I am so angry.", "You lied to me again. Go away!"]
    assert [u.source_id for u in parts] == ["s2#1", "s2#2"] and len({u.id for u in parts}) == 2
    assert out[3].drop_reason == "too_long"
    assert out[4].text == "Fine." and "written_text" not in out[4].metrics
    assert step.counts["too_long"] == 1 and step.counts["split"] == 1


def test_split_sentences_gives_none_when_a_sentence_is_too_long():
    assert split_sentences("Short. " + "x" * 40 + ".", 20) is None

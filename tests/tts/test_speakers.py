"""Speaker assignment: balanced over language × emotion × gender × engine, seeded."""

from __future__ import annotations

from collections import Counter

import pytest

from m5ser.config import load_voices
from m5ser.schema import Voice
from m5ser.tts.speakers import assign_speakers

from ..conftest import ROOT


def bank(*specs: tuple[str, str, str, int]) -> list[Voice]:
    """Voices from (lang, engine, gender, count) specs."""
    out = []
    for lang, engine, gender, n in specs:
        for i in range(n):
            out.append(Voice(f"{lang}-{engine}-{gender[0]}{i}", lang, engine, f"v{i}", gender, "x"))
    return out


VOICES = bank(("en", "espeak", "male", 3), ("en", "espeak", "female", 3), ("en", "pico", "female", 1),
              ("en", "mbrola", "male", 2), ("en", "mbrola", "female", 1))  # fmt: skip
ITEMS = [(f"s{i}", e) for i in range(120) for e in ("angry", "sad", "happy")]


def spread(counter: Counter) -> int:
    return max(counter.values()) - min(counter.values())


def test_deterministic_and_order_free():
    a = assign_speakers(ITEMS, VOICES, seed=3)
    assert a == assign_speakers(ITEMS, VOICES, seed=3)
    assert a != assign_speakers(ITEMS, VOICES, seed=4)
    rev = assign_speakers(ITEMS[::-1], VOICES, seed=3)
    assert rev[::-1] == a


@pytest.mark.parametrize("emotion", ["angry", "sad", "happy"])
def test_balanced_within_each_emotion(emotion):
    got = [v for (_, e), v in zip(ITEMS, assign_speakers(ITEMS, VOICES, seed=1), strict=True) if e == emotion]
    assert spread(Counter(v.gender for v in got)) <= 1
    for gender in ("male", "female"):
        engines = Counter(v.engine for v in got if v.gender == gender)
        assert spread(engines) <= 1, engines
        for engine in engines:
            assert spread(Counter(v.id for v in got if v.gender == gender and v.engine == engine)) <= 1


def test_languages_balanced_when_mixed():
    voices = VOICES + bank(("de", "espeak", "male", 1), ("de", "espeak", "female", 1))
    got = assign_speakers(ITEMS, voices, seed=0)
    assert spread(Counter(v.lang for v in got)) <= 3  # ≤ 1 per emotion


def test_repeated_items_get_different_voices():
    got = assign_speakers([("s1", "sad")] * 4, VOICES, seed=0)
    assert len({v.id for v in got}) == 4


def test_rejects_empty_and_duplicate_banks():
    with pytest.raises(ValueError, match="no voices"):
        assign_speakers(ITEMS, [], seed=0)
    with pytest.raises(ValueError, match="duplicate"):
        assign_speakers(ITEMS, VOICES + VOICES[:1], seed=0)


def test_speaker_bank_acceptance():
    """≥ 30 voices over ≥ 8 languages from ≥ 4 engines; ≥ 4 per core language, both genders."""
    voices = [v for lang in ("en", "de", "fr", "es", "it", "zh", "ja", "ru")
              for v in load_voices(ROOT / "manifests/voices" / f"{lang}.yaml")]  # fmt: skip
    assert len({v.id for v in voices}) >= 30
    assert len({v.engine for v in voices}) >= 4
    for lang in ("en", "de", "fr", "es", "it", "zh"):
        mine = [v for v in voices if v.lang == lang]
        assert len(mine) >= 4 and {v.gender for v in mine} == {"male", "female"}
        assert len({v.engine for v in mine}) >= 2, lang
    assert all(v.license for v in voices)

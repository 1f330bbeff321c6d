from __future__ import annotations

from collections import Counter

import pytest

from m5ser.config import RecipeError
from m5ser.pipeline.plan import select, speakers_per_item, split_of
from m5ser.schema import Voice
from m5ser.text.readers import TextItem


def items(n_per: int, emotions=("happy", "sad")) -> list[TextItem]:
    return [TextItem(f"s{e}{i}", "c", "en", f"{e} {i}", e) for e in emotions for i in range(n_per)]


def voices(n: int) -> list[Voice]:
    return [Voice(f"v{i}", "en", "espeak", "en", "male" if i % 2 else "female", "GPL") for i in range(n)]


def test_select_caps_per_emotion_and_ignores_input_order():
    pool = items(10)
    chosen = select(pool, ["happy", "sad"], 3, seed=1)
    assert Counter(i.emotion for i in chosen) == {"happy": 3, "sad": 3}
    assert select(list(reversed(pool)), ["happy", "sad"], 3, seed=1) == chosen
    assert select(pool, ["happy", "sad"], 3, seed=2) != chosen


def test_split_is_by_sentence_and_proportional():
    splits = Counter(split_of(f"s{i}", 0, 0.1, 0.2) for i in range(5000))
    assert splits["test"] / 5000 == pytest.approx(0.2, abs=0.03)
    assert splits["dev"] / 5000 == pytest.approx(0.1, abs=0.03)
    assert split_of("x", 0, 0.1, 0.2) == split_of("x", 0, 0.1, 0.2)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_speakers_are_distinct_per_sentence_and_balanced_per_emotion(k):
    chosen = speakers_per_item(items(12), voices(4), k=k, seed=0)
    assert all(len({v.id for v in c}) == k for c in chosen)
    per_emotion = Counter((item.emotion, v.id) for item, c in zip(items(12), chosen, strict=True) for v in c)
    assert set(per_emotion.values()) == {3 * k}


def test_more_speakers_than_the_bank_is_an_error():
    with pytest.raises(RecipeError, match="only 2"):
        speakers_per_item(items(1), voices(2), k=3, seed=0)

"""The card says which emotions a language has no clips for, instead of relabelling to fill them."""

from __future__ import annotations

from m5ser.hub.card import _missing_md
from m5ser.hub.stats import Stats


def test_missing_emotions_are_listed_per_language():
    stats = Stats(languages=["de", "es"], kept={"de": {"angry": 3, "neutral": 0}, "es": {"angry": 2, "neutral": 1}})
    text = _missing_md(["neutral", "angry"], stats)
    assert "- `de`: no `neutral`" in text and "`es`" not in text
    assert "no other label was relabelled" in text


def test_nothing_missing_says_nothing():
    stats = Stats(languages=["es"], kept={"es": {"angry": 2, "neutral": 1}})
    assert _missing_md(["neutral", "angry"], stats) == ""

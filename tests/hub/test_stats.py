"""Statistics of a published folder: one aggregator; text-level drops apart; quality rows as a view."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from m5ser.config import load_recipe
from m5ser.hub.stats import Stats, collect_stats, is_text_drop, label_order, quality_rows, read_stats, summarize
from m5ser.pipeline.build import build_language
from m5ser.shards.parquet import write_language
from m5ser.testing import make_dropped_set, make_kept_set, make_text_drops, make_utterance, write_removed

LABELS = ("neutral", "happy", "sad", "angry", "fear", "disgust", "surprise")
EMOTIONS = ["angry", "neutral"]
TEXT_DROPS = {"no_single_label": 3, "empty_text": 1}


@pytest.fixture
def published(tmp_path: Path) -> Path:
    """de and fr kept clips; de clip drops (two reasons); no text-level drop yet."""
    out = tmp_path / "out"
    kept = make_kept_set(tmp_path / "in", ["de", "fr"], EMOTIONS, n_per=3)
    for lang, clips in kept.items():
        write_language(lang, clips, out)
    write_removed(out, make_dropped_set(tmp_path / "in", ["de"], ["angry"], {"low_snr": 2, "too_short": 1})["de"])
    return out


def _add_text_drops(out: Path) -> None:
    """Text-level drops in de (no emotion, and `sad`, a label no clip has) and in ja (no clip at all)."""
    drops = make_text_drops(["de", "ja"], TEXT_DROPS)
    drops["de"] += make_text_drops(["de"], {"duplicate_text": 2}, emotion="sad")["de"]
    write_removed(out, drops["de"] + drops["ja"])


def test_is_text_drop_means_no_speaker() -> None:
    assert is_text_drop(make_utterance(speaker_id="", drop_reason="empty_text"))
    assert not is_text_drop(make_utterance(drop_reason="low_snr"))


def test_text_drops_are_counted_apart_and_kept_out_of_clip_tables(published: Path) -> None:
    before = collect_stats(published, LABELS)
    _add_text_drops(published)
    after = collect_stats(published, LABELS)

    assert after.text_drops == {
        "de": {"duplicate_text": 2, "empty_text": 1, "no_single_label": 3},
        "fr": {},
        "ja": {"empty_text": 1, "no_single_label": 3},
    }
    assert after.total("text_drops") == 10
    assert after.languages == ["de", "fr", "ja"]  # a language whose sentences all failed still shows
    # every clip table is unchanged: counts, emotions (no "" and no "sad"), metrics and raw values
    clip_tables = [f for f in Stats.__dataclass_fields__ if f not in {"languages", "text_drops", "text_examples"}]
    for name in clip_tables:
        a, b = getattr(before, name), getattr(after, name)
        if isinstance(a, dict):
            b = {k: v for k, v in b.items() if k != "ja"}
        assert a == b, name
    assert after.emotions == ["neutral", "angry"]
    assert after.kept["ja"] == {} and after.dropped["ja"] == {} and after.metric_keys["ja"] == []
    assert after.values["duration_s"]["dropped"] == before.values["duration_s"]["dropped"]  # no 0 s clips
    assert after.to_dict()["totals"] == {**before.to_dict()["totals"], "text_drops": 10}


def test_clip_facts_of_kept_clips(published: Path) -> None:
    stats = collect_stats(published, LABELS)
    assert stats.kept == {"de": {"angry": 3, "neutral": 3}, "fr": {"angry": 3, "neutral": 3}}
    assert stats.dropped == {"de": {"angry": 3}, "fr": {}}
    assert stats.drops_by_reason_emotion["de"] == {"low_snr": {"angry": 2}, "too_short": {"angry": 1}}
    assert stats.speakers["de"] == {"de-espeak-f1": 2, "de-espeak-m0": 2, "de-espeak-m2": 2}
    assert stats.speaker_voices["de"]["de-espeak-f1"] == {"engine": "espeak", "voice": "de+f1", "gender": "female"}
    assert stats.speaker_genders["de"] == {"female": 1, "male": 2}
    assert stats.engines == {"de": {"espeak": 6}, "fr": {"espeak": 6}}
    assert stats.corpora == {"de": {"xed": 6}, "fr": {"xed": 6}}
    assert stats.routes == {"de": {"identity": 6}, "fr": {"identity": 6}}
    assert dict(stats.pooled("engines")) == {"espeak": 12}


def test_quality_rows_equal_the_per_emotion_counts_of_stats(published: Path) -> None:
    _add_text_drops(published)
    stats = collect_stats(published, LABELS)
    rows = quality_rows(stats, "de")
    assert [r["emotion"] for r in rows] == ["neutral", "angry", "total"]  # label order; text drops absent
    for row in rows[:-1]:
        e = row["emotion"]
        assert row["kept"] == stats.kept["de"].get(e, 0)
        assert row["hours"] == pytest.approx(stats.hours["de"].get(e, 0.0), abs=1e-4)
        assert row["dropped"] == stats.dropped["de"].get(e, 0)
        for reason, by_emotion in stats.drops_by_reason_emotion["de"].items():
            assert row[f"dropped_{reason}"] == by_emotion.get(e, 0)
    total = rows[-1]
    assert (total["kept"], total["dropped"]) == (stats.total("kept", "de"), stats.total("dropped", "de"))
    assert {k: v for k, v in total.items() if k.startswith("dropped_")} == {
        f"dropped_{r}": n for r, n in stats.drops_by_reason["de"].items()
    }
    assert {tuple(r) for r in rows} == {tuple(total)}  # one column set for the table artifact
    assert quality_rows(stats, "ja") == [{"emotion": "total", "kept": 0, "hours": 0.0, "dropped": 0}]


def test_quality_rows_count_kept_hours_and_drops_per_reason(tiny_recipe, root):
    recipe = load_recipe(tiny_recipe({"de": {"sources": ["xed"], "translate": "parallel"}}, per_emotion=1), root=root)
    result = build_language(recipe, "de", parts=2, progress=False)
    stats = collect_stats(recipe.output, LABELS)
    rows = quality_rows(stats, "de")
    total = rows[-1]
    assert total["emotion"] == "total"
    assert (total["kept"], total["dropped"]) == (result.kept, sum(result.dropped.values()))
    assert total["hours"] == pytest.approx(result.hours, abs=1e-3)
    for reason, n in result.dropped.items():
        assert total[f"dropped_{reason}"] == n
    assert stats.text_drops["de"] == result.text_dropped  # sentences dropped before casting: apart
    assert sum(r["kept"] for r in rows[:-1]) == total["kept"]
    assert {tuple(r) for r in rows} == {tuple(total)}


def test_stats_json_round_trip(published: Path, tmp_path: Path) -> None:
    _add_text_drops(published)
    stats = collect_stats(published, LABELS)
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(stats.to_dict()))
    again = read_stats(path)
    assert again.text_drops == stats.text_drops and again.speaker_voices == stats.speaker_voices
    assert quality_rows(again, "de") == quality_rows(stats, "de")
    assert again.values == {}  # raw values are not stored


def test_empty_folder(tmp_path: Path) -> None:
    stats = collect_stats(tmp_path, LABELS)
    assert stats.languages == [] and stats.total("kept") == 0 and stats.total("text_drops") == 0


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], {"n": 0, "mean": None, "p5": None, "p50": None, "p95": None}),
        ([3.0], {"n": 1, "mean": 3.0, "p5": 3.0, "p50": 3.0, "p95": 3.0}),
        ([float(i) for i in range(101)], {"n": 101, "mean": 50.0, "p5": 5.0, "p50": 50.0, "p95": 95.0}),
    ],
)
def test_summarize(values: list[float], expected: dict) -> None:
    assert summarize(values) == expected


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (LABELS, ["neutral", "surprise", "awe", "zeal"]),
        ((), ["awe", "neutral", "surprise", "zeal"]),
        (("surprise", "neutral"), ["surprise", "neutral", "awe", "zeal"]),
    ],
)
def test_label_order_follows_the_given_labels_then_unknown_sorted(labels: tuple, expected: list[str]) -> None:
    assert label_order(["surprise", "zeal", "neutral", "awe"], labels) == expected

"""Quality report: files exist, stats.json matches the fixtures, honest about checks not run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from m5ser.hub.report import PLOTS, Stats, collect_stats, label_order, print_summary, summarize, write_report
from m5ser.shards.parquet import write_language
from m5ser.testing import make_dropped_set, make_kept_set, write_removed

EMOTIONS = ["angry", "neutral", "happy"]
N_PER = 4


@pytest.fixture
def published(tmp_path: Path) -> Path:
    """en and de kept clips; en clips carry an extra ASR metric; drops in both languages."""
    out = tmp_path / "out"
    kept = make_kept_set(tmp_path / "in", ["en", "de"], EMOTIONS, n_per=N_PER)
    for utt in kept["en"]:
        utt.metrics["asr_cer"] = 0.1
    for lang, clips in kept.items():
        write_language(lang, clips, out)
    dropped = make_dropped_set(tmp_path / "in", ["en", "de"], ["angry"], {"low_snr": 2})
    dropped["de"] += make_dropped_set(tmp_path / "in2", ["de"], ["happy"], {"too_short": 1})["de"]
    write_removed(out, dropped["en"] + dropped["de"])
    return out


def test_report_files_exist(published: Path) -> None:
    path = write_report(published)
    assert path == published / "reports" / "quality.md"
    for name in PLOTS:
        assert (published / "reports" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({name})" in path.read_text()
    assert (published / "reports" / "stats.json").is_file()
    assert not [p for p in (published / "reports").iterdir() if p.name.startswith(".")]  # no temp files left


def test_stats_match_fixtures(published: Path) -> None:
    write_report(published)
    stats = json.loads((published / "reports" / "stats.json").read_text())
    assert stats["languages"] == ["de", "en"]
    assert stats["emotions"] == ["neutral", "happy", "angry"]  # emotions.yaml order
    assert stats["kept"] == {lang: {e: N_PER for e in sorted(EMOTIONS)} for lang in ("de", "en")}
    assert stats["dropped"] == {"de": {"angry": 2, "happy": 1}, "en": {"angry": 2}}
    assert stats["drops_by_reason"] == {"de": {"low_snr": 2, "too_short": 1}, "en": {"low_snr": 2}}
    assert stats["totals"] == {"kept": 24, "dropped": 5, "hours": pytest.approx(24 * 0.2375 / 3600, abs=1e-5)}
    # durations cycle 0.2, 0.25, 0.3, 0.2 s per emotion
    assert sum(stats["hours"]["de"].values()) == pytest.approx(3 * 0.95 / 3600, abs=1e-6)
    assert stats["speakers"]["de"] == {
        "de-espeak-f1": 3,
        "de-espeak-f3": 3,
        "de-espeak-m0": 3,
        "de-espeak-m2": 3,
    }
    assert stats["splits"]["en"] == {"dev": 3, "train": 9}
    assert stats["metric_keys"]["en"] == ["asr_cer", "clipping_ratio", "rms_db", "snr_db"]
    assert "asr_cer" not in stats["metric_keys"]["de"]
    snr = stats["metrics"]["snr_db"]["de"]
    assert snr["kept"]["n"] == 12 and snr["kept"]["mean"] == pytest.approx(21.5)  # 20 + i, i = 0..3
    assert snr["dropped"] == {"n": 3, "mean": 2.0, "p5": 2.0, "p50": 2.0, "p95": 2.0}
    assert stats["metrics"]["duration_s"]["en"]["kept"]["p50"] == pytest.approx(0.225)


def test_quality_md_says_which_checks_were_not_run(published: Path) -> None:
    text = write_report(published).read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `asr_cer` |"))
    assert row == "| `asr_cer` | **not run** | 86 % |"  # columns: de, en (12 of 14 en clips)
    assert "- `de`: not checked: `asr_cer`" in text
    assert "| de | 2 | 1 |" in text  # drops by reason: low_snr, too_short


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


def test_label_order_puts_unknown_labels_last() -> None:
    assert label_order(["surprise", "zeal", "neutral", "awe"]) == ["neutral", "surprise", "awe", "zeal"]


def test_empty_folder_still_reports(tmp_path: Path) -> None:
    text = write_report(tmp_path).read_text()
    assert "0 clips were synthesized" in text and "No clip was dropped." in text


def test_print_summary(published: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stats = collect_stats(published)
    print_summary(stats)
    first = capsys.readouterr().out
    angry = next(line for line in first.splitlines() if "angry" in line)
    assert angry.split() == ["│", "angry", "│", "4/2", "│", "4/2", "│"]  # de, en: 4 kept / 2 dropped
    assert "low_snr" in first and "too_short" in first
    print_summary(json.loads(json.dumps(stats.to_dict())))  # from stats.json content
    assert capsys.readouterr().out == first
    assert isinstance(Stats.from_dict(stats.to_dict()), Stats)

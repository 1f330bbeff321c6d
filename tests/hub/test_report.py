"""Quality report: files exist, stats.json matches the fixtures, honest about checks not run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from m5ser.hub.report import PLOTS, print_summary, write_report
from m5ser.hub.stats import Stats, collect_stats
from m5ser.shards.parquet import write_language
from m5ser.testing import make_dropped_set, make_kept_set, make_text_drops, write_removed

LABELS = ("neutral", "happy", "sad", "angry", "fear", "disgust", "surprise")
EMOTIONS = ["angry", "neutral", "happy"]
N_PER = 4


def report(out: Path) -> Path:
    """Collect the folder's statistics and write the report, as `publish` does."""
    return write_report(out, collect_stats(out, LABELS))


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
    path = report(published)
    assert path == published / "reports" / "quality.md"
    for name in PLOTS:
        assert (published / "reports" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({name})" in path.read_text()
    assert (published / "reports" / "stats.json").is_file()
    assert not [p for p in (published / "reports").iterdir() if p.name.startswith(".")]  # no temp files left


def test_stats_match_fixtures(published: Path) -> None:
    report(published)
    stats = json.loads((published / "reports" / "stats.json").read_text())
    assert stats["languages"] == ["de", "en"]
    assert stats["emotions"] == ["neutral", "happy", "angry"]  # order of the labels given
    assert stats["kept"] == {lang: {e: N_PER for e in sorted(EMOTIONS)} for lang in ("de", "en")}
    assert stats["dropped"] == {"de": {"angry": 2, "happy": 1}, "en": {"angry": 2}}
    assert stats["drops_by_reason"] == {"de": {"low_snr": 2, "too_short": 1}, "en": {"low_snr": 2}}
    hours = pytest.approx(24 * 0.2375 / 3600, abs=1e-5)
    assert stats["totals"] == {"kept": 24, "dropped": 5, "hours": hours, "text_drops": 0}
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
    text = report(published).read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `asr_cer` |"))
    assert row == "| `asr_cer` | **not run** | 86 % |"  # columns: de, en (12 of 14 en clips)
    assert "- `de`: not checked: `asr_cer`" in text
    assert "| de | 2 | 1 |" in text  # drops by reason: low_snr, too_short


def test_empty_folder_still_reports(tmp_path: Path) -> None:
    text = report(tmp_path).read_text()
    assert "0 clips were synthesized" in text and "No clip was dropped." in text


def test_print_summary(published: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stats = collect_stats(published, LABELS)
    print_summary(stats)
    first = capsys.readouterr().out
    angry = next(line for line in first.splitlines() if "angry" in line)
    assert angry.split() == ["│", "angry", "│", "4/2", "│", "4/2", "│"]  # de, en: 4 kept / 2 dropped
    assert "low_snr" in first and "too_short" in first
    print_summary(json.loads(json.dumps(stats.to_dict())))  # from stats.json content
    assert capsys.readouterr().out == first
    assert isinstance(Stats.from_dict(stats.to_dict()), Stats)


def test_text_level_drops_get_their_own_table(published: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clips_only = report(published).read_text()
    assert "No source sentence was dropped before synthesis." in clips_only
    drops = make_text_drops(["de"], {"no_single_label": 3, "empty_text": 1})
    write_removed(published, drops["de"])
    text = report(published).read_text()
    section = text[text.index("## Text-level drops") : text.index("## Splits and speakers")]
    assert "never became clips" in section
    assert "| lang | empty_text | no_single_label | sentences |" in section
    assert "| de | 1 | 3 | 4 |" in section
    # the clip sections are word for word the same as without text-level drops

    def clip_sections(md: str) -> str:
        return md[md.index("## Kept clips") : md.index("## Text-level drops")] + md[md.index("## Splits") :]

    assert clip_sections(text) == clip_sections(clips_only)
    assert "29 clips were synthesized and checked" in text and "4 source sentence(s) were dropped" in text
    stats = json.loads((published / "reports" / "stats.json").read_text())
    assert stats["text_drops"]["de"] == {"empty_text": 1, "no_single_label": 3}
    assert stats["drops_by_reason"]["de"] == {"low_snr": 2, "too_short": 1}
    print_summary(Stats.from_dict(stats))
    assert "text-level drops by reason" in capsys.readouterr().out

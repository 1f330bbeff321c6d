"""ASR status, WER per engine × language, per-reason rates and worst examples: stats and report views."""

from __future__ import annotations

from pathlib import Path

from m5ser.hub.checks import checks_md
from m5ser.hub.report import write_report
from m5ser.hub.stats import collect_stats, read_stats
from m5ser.shards.parquet import write_language
from m5ser.testing import make_dropped_set, make_kept_set, write_removed

LABELS = ("neutral", "angry")


def _asr(clips, status: str, wer: float, lang_heard: str) -> None:
    for utt in clips:
        utt.metrics.update(
            asr_status=status, asr_text="heard words", asr_lang=lang_heard, asr_lang_prob=0.9,
            wer=wer, cer=wer / 2, asr_error=wer,
        )  # fmt: skip


def _published(tmp_path: Path) -> Path:
    """de: checked by the ear; ru: transcribed but unchecked; fr: no ASR at all."""
    out = tmp_path / "out"
    kept = make_kept_set(tmp_path / "in", ["de", "ru", "fr"], ["angry", "neutral"], n_per=2)
    _asr(kept["de"], "checked", 0.2, "de")
    _asr(kept["ru"], "unchecked", 0.9, "pl")
    for lang, clips in kept.items():
        write_language(lang, clips, out)
    dropped = make_dropped_set(tmp_path / "in", ["de"], ["angry"], {"asr_mismatch": 3, "wrong_language": 1})["de"]
    for i, utt in enumerate(dropped):
        _asr([utt], "checked", 0.7 + 0.1 * i, "en")
    write_removed(out, dropped)
    return out


def test_asr_status_rates_and_worst(tmp_path: Path) -> None:
    stats = collect_stats(_published(tmp_path), LABELS)
    assert stats.asr_status == {"de": {"checked": 8}, "fr": {"not_run": 4}, "ru": {"unchecked": 4}}
    de = stats.asr_rates["espeak"]["de"]
    assert de["wer"]["n"] == 8 and de["wer"]["p50"] == 0.2 + (0.7 - 0.2) / 2  # 4 kept at .2, 4 dropped .7–1.0
    assert "fr" not in stats.asr_rates["espeak"]
    worst = stats.worst["asr_mismatch"]
    assert [round(r["metrics"]["asr_error"], 2) for r in worst] == [0.9, 0.8, 0.7]  # worst first
    assert worst[0]["transcript"] == "heard words" and "asr_text" not in worst[0]["metrics"]


def test_report_says_not_checked_never_passed(tmp_path: Path) -> None:
    out = _published(tmp_path)
    stats = collect_stats(out, LABELS)
    text = "\n".join(checks_md(stats))
    assert "| de | checked | checked 8 |" in text
    assert "| fr | **not checked** | **not checked** 4 |" in text
    assert "| ru | **not checked** | transcribed, **not checked** 4 |" in text
    assert "| espeak | ru | 4 | 0.90 |" in text
    assert "**asr_mismatch**" in text and "**wrong_language**" in text
    report = write_report(out, stats).read_text()
    assert "## WER / CER per engine × language" in report
    again = read_stats(out / "reports" / "stats.json")  # the new tables survive stats.json
    assert again.asr_status == stats.asr_status and again.worst.keys() == stats.worst.keys()

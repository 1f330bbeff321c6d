"""Report sections of the automatic checks (ASR, language ID, per-reason rates, worst examples).

Views of `m5ser.hub.stats.Stats` (``asr_status``, ``asr_rates``, ``worst``,
``drops_by_reason_emotion``), rendered into ``reports/quality.md`` by `m5ser.hub.report`.
"""

from __future__ import annotations

from typing import Any

from m5ser.hub.stats import WORST_SHOWN, Stats

ASR_STATUS_WORDS = {"checked": "checked", "unchecked": "transcribed, **not checked**", "not_run": "**not checked**"}


def _fmt(x: Any, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _md(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def asr_status_md(stats: Stats) -> list[str]:
    """Per language: how many clips the ear checked; a language with none checked says so."""
    rows = []
    for lang in stats.languages:
        counts = stats.asr_status.get(lang, {})
        total = sum(counts.values())
        checked = counts.get("checked", 0)
        verdict = "checked" if checked == total and total else "partly checked" if checked else "**not checked**"
        parts = ", ".join(f"{ASR_STATUS_WORDS.get(k, k)} {v}" for k, v in sorted(counts.items()))
        rows.append([lang, verdict, parts or "–"])
    return [
        "## ASR and language-ID status per language",
        "",
        (
            "Whisper back-transcription per language (clips kept and dropped). **not checked** means no "
            "clip of the language was judged by the ear (no ASR step, the language skipped, or marked "
            "`unchecked` because Whisper cannot read that engine's speech): its clips passed no ASR "
            "check, they were not tested by one."
        ),
        "",
        _md(["lang", "ASR", "clips by status"], rows),
        "",
    ]


def asr_rates_md(stats: Stats) -> list[str]:
    """WER and CER (median and mean) per TTS engine × language."""
    rows = [
        [
            engine,
            lang,
            by["wer"]["n"],
            _fmt(by["wer"]["p50"]),
            _fmt(by["wer"]["mean"]),
            _fmt(by["cer"]["p50"]),
            _fmt(by["cer"]["mean"]),
        ]
        for engine, langs in stats.asr_rates.items()
        for lang, by in langs.items()
    ]
    return [
        "## WER / CER per engine × language",
        "",
        (
            "Whisper's transcript (decoded in the clip's language) against the clip's text, after "
            "normalization (lower case, no punctuation). All transcribed clips, kept and dropped. "
            "A high error for one engine in one language is a fact about that engine's speech."
        ),
        "",
        _md(["engine", "lang", "clips", "WER p50", "WER mean", "CER p50", "CER mean"], rows)
        if rows
        else "No clip was transcribed.",
        "",
    ]


def reason_rates_md(stats: Stats) -> list[str]:
    """Per reason: the share of each language × emotion's clips it dropped."""
    out = ["## Drop rate per reason, language × emotion", ""]
    reasons = stats.reasons()
    if not reasons:
        return [*out, "No clip was dropped.", ""]
    out += [
        "Share of the clips of a language × emotion (kept + dropped) that each reason removed.",
        "",
    ]
    for reason in reasons:
        rows = []
        for lang in stats.languages:
            by = stats.drops_by_reason_emotion.get(lang, {}).get(reason, {})
            cells = []
            for emo in stats.emotions:
                n = stats.kept.get(lang, {}).get(emo, 0) + stats.dropped.get(lang, {}).get(emo, 0)
                cells.append(f"{100 * by.get(emo, 0) / n:.0f} %" if n else "–")
            rows.append([lang, *cells])
        out += [f"**{reason}**", "", _md(["lang", *stats.emotions], rows), ""]
    return out


def worst_md(stats: Stats) -> list[str]:
    """The worst dropped clips of each reason: text, transcript and the deciding metrics."""
    out = [f"## The {WORST_SHOWN} worst examples per reason", ""]
    if not stats.worst:
        return [*out, "No clip was dropped.", ""]
    for reason, rows in stats.worst.items():
        table = []
        for r in rows:
            m = r["metrics"]
            keys = ("asr_error", "asr_lang", "asr_lang_prob", "snr_db", "rms_dbfs", "clipping_ratio")
            shown = ", ".join(f"{k}={m[k]}" for k in keys if k in m)
            table.append([r["lang"], r["emotion"], r["engine"], r["text"], r["transcript"] or "–", shown])
        out += [f"**{reason}**", "", _md(["lang", "emotion", "engine", "text", "transcript", "metrics"], table), ""]
    return out


def checks_md(stats: Stats) -> list[str]:
    """Every section of the automatic checks, in report order."""
    return [*asr_status_md(stats), *asr_rates_md(stats), *reason_rates_md(stats), *worst_md(stats)]

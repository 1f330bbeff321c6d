"""Quality report over a published folder: ``reports/quality.md``, ``stats.json`` and plots.

A pure view of `m5ser.hub.stats.Stats` (which reads ``manifests/<lang>.jsonl`` and
``removed/<lang>/<reason>.jsonl``), so the report covers every language present,
whichever one was rebuilt last. Also home of the markdown tables the card shares.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from m5ser.hub.checks import checks_md
from m5ser.hub.stats import TEXT_METRICS, Stats, summarize
from m5ser.manifest import atomic_open, write_text_atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from rich.console import Console

PLOTS = ("clips_by_lang_emotion.png", "metric_histograms.png", "text_adequacy.png")


# ---------------------------------------------------------------------------- plots


def _pyplot() -> Any:
    """matplotlib.pyplot on the non-interactive Agg backend (imported lazily)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_clips(stats: Stats) -> Figure:
    """Grouped bars per language (one per emotion): kept solid, dropped hatched on top."""
    from matplotlib.patches import Patch

    plt = _pyplot()

    langs, emos = stats.languages, stats.emotions
    width = 0.8 / max(len(emos), 1)
    colors = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(langs) + 2), 4.5))
    x = np.arange(len(langs))
    for j, emo in enumerate(emos):
        kept = np.array([stats.kept[lang].get(emo, 0) for lang in langs])
        dropped = np.array([stats.dropped[lang].get(emo, 0) for lang in langs])
        pos = x - 0.4 + width * (j + 0.5)
        ax.bar(pos, kept, width, color=colors(j % 10))
        ax.bar(pos, dropped, width, bottom=kept, color=colors(j % 10), alpha=0.35, hatch="//")
    ax.set_xticks(x, langs)
    ax.set_xlabel("language")
    ax.set_ylabel("clips")
    ax.set_title("Clips per language × emotion (solid: kept, hatched: dropped)")
    handles = [Patch(color=colors(j % 10), label=emo) for j, emo in enumerate(emos)]
    handles += [Patch(facecolor="white", edgecolor="grey", hatch="//", label="dropped")]
    ax.legend(handles=handles, fontsize="small", ncols=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def _plot_histograms(
    stats: Stats, thresholds: Mapping[str, Sequence[float]] | None = None, max_metrics: int = 12
) -> Figure:
    """One histogram per metric (all languages pooled), kept vs dropped, with the recipe's
    thresholds for that metric as dashed lines."""
    plt = _pyplot()

    keys = sorted(stats.values, key=lambda k: (k != "duration_s", k))[:max_metrics]
    cols = min(3, max(len(keys), 1))
    rows = max(1, math.ceil(len(keys) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax in axes.flat[len(keys) :]:
        ax.axis("off")
    for ax, key in zip(axes.flat, keys, strict=False):
        kept, dropped = stats.values[key]["kept"], stats.values[key]["dropped"]
        both = kept + dropped
        bins = np.histogram_bin_edges(both, bins=30) if both else 10
        ax.hist(kept, bins=bins, alpha=0.6, label=f"kept ({len(kept)})", color="tab:blue")
        ax.hist(dropped, bins=bins, alpha=0.6, label=f"dropped ({len(dropped)})", color="tab:red")
        for i, value in enumerate((thresholds or {}).get(key, [])):
            ax.axvline(value, color="black", linestyle="--", linewidth=1, label="threshold" if i == 0 else None)
        ax.set_title(key)
        ax.legend(fontsize="small")
    if not keys:
        axes.flat[0].text(0.5, 0.5, "no clips", ha="center", va="center")
    fig.suptitle("Metric distributions, kept vs dropped (all languages)")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------- markdown


def _plot_text(stats: Stats) -> Figure:
    """Per language: histograms of the text checks' metrics (adequacy, length ratio, copy similarity)."""
    plt = _pyplot()
    langs = [lang for lang in stats.languages if stats.text_values.get(lang)]
    fig, axes = plt.subplots(
        max(1, len(langs)), len(TEXT_METRICS), figsize=(12, 2.2 * max(1, len(langs))), squeeze=False
    )
    if not langs:
        for ax in axes.flat:
            ax.axis("off")
        axes.flat[0].text(0.5, 0.5, "no text check ran (no translated sentence)", ha="center", va="center")
    for row, lang in zip(axes, langs, strict=False):
        for ax, key in zip(row, TEXT_METRICS, strict=True):
            values = stats.text_values[lang].get(key, [])
            if values:
                ax.hist(values, bins=20, color="tab:green")
            else:
                ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes)
            ax.set_title(f"{lang}: {key} (n={len(values)})", fontsize="small")
    fig.suptitle("Text checks per language (one value per source sentence, kept and dropped)")
    fig.tight_layout()
    return fig


def text_section(stats: Stats) -> list[str]:
    """Per language: the text routes of the kept clips, the text-level drops with examples, the plot."""
    routes = md_table(
        ["lang", "routes (kept clips)"],
        [
            [lang, ", ".join(f"`{r}` {n}" for r, n in stats.routes.get(lang, {}).items()) or "–"]
            for lang in stats.languages
        ],
    )
    examples = [
        [lang, f"`{reason}`", _cell(e["source_text"]), _cell(e["text"]), _cell(e["note"])]
        for lang in stats.languages
        for reason, rows in stats.text_examples.get(lang, {}).items()
        for e in rows
    ]
    parts = [
        "## Text per language",
        "",
        "How each language got its text (translation route per kept clip), and examples of the sentences "
        "dropped before any audio was made (up to three per reason; all are in `removed/<lang>/<reason>.jsonl`).",
        "",
        routes,
        "",
    ]
    if examples:
        parts += [md_table(["lang", "reason", "source text", "text", "note"], examples), ""]
    parts += ["![Text checks per language](text_adequacy.png)", ""]
    return parts


def _cell(text: str, width: int = 80) -> str:
    """Markdown-table-safe, shortened text."""
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table.

    >>> print(md_table(["a", "b"], [[1, 2]]))
    | a | b |
    |---|---|
    | 1 | 2 |
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _fmt(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def kept_table(stats: Stats) -> str:
    """Kept clips per language × emotion, with totals and hours."""
    rows = [
        [
            lang,
            *(stats.kept[lang].get(e, 0) for e in stats.emotions),
            stats.total("kept", lang),
            _fmt(float(stats.total("hours", lang)), 3),
        ]
        for lang in stats.languages
    ]
    rows.append(
        [
            "**all**",
            *(sum(stats.kept[x].get(e, 0) for x in stats.languages) for e in stats.emotions),
            stats.total("kept"),
            _fmt(float(stats.total("hours")), 3),
        ]
    )
    return md_table(["lang", *stats.emotions, "clips", "hours"], rows)


def text_drops_table(stats: Stats) -> str:
    """Text-level drops (source sentences that never became clips) per language × reason."""
    reasons = stats.reasons("text_drops")
    if not reasons:
        return "No source sentence was dropped before synthesis."
    rows = [
        [lang, *(stats.text_drops[lang].get(r, 0) for r in reasons), stats.total("text_drops", lang)]
        for lang in stats.languages
        if stats.text_drops.get(lang)
    ]
    return md_table(["lang", *reasons, "sentences"], rows)


def _quality_md(stats: Stats) -> str:
    langs, emos = stats.languages, stats.emotions
    all_keys = sorted({k for keys in stats.metric_keys.values() for k in keys})
    reasons = stats.reasons()
    total_kept, total_dropped = stats.total("kept"), stats.total("dropped")
    seen = total_kept + total_dropped
    text_dropped = stats.total("text_drops")
    parts = [
        "# M5SER quality report",
        "",
        f"{seen} clips were synthesized and checked in {len(langs)} language(s): {total_kept} kept "
        f"({_fmt(float(stats.total('hours')), 3)} h), {total_dropped} dropped"
        + (f" ({100 * total_dropped / seen:.1f} %)." if seen else "."),
        (
            f"Before synthesis, {text_dropped} source sentence(s) were dropped at the text level "
            "(see *Text-level drops*); they never became clips and are not counted in the clip tables."
            if text_dropped
            else "No source sentence was dropped at the text level."
        ),
        (
            "Numbers come from `manifests/<lang>.jsonl` (kept) and `removed/<lang>/<reason>.jsonl` "
            "(dropped); raw numbers are in `stats.json`."
        ),
        "",
        "## Kept clips per language × emotion",
        "",
        "Clips that passed every check, by intended emotion, with total duration in hours.",
        "",
        kept_table(stats),
        "",
        "## Dropped clips per language × emotion",
        "",
        (
            "Clips removed by a filter. A large share in one cell points at a prosody preset the "
            "engine renders badly for that language."
        ),
        "",
        md_table(
            ["lang", *emos, "dropped", "drop rate"],
            [
                [
                    lang,
                    *(stats.dropped[lang].get(e, 0) for e in emos),
                    stats.total("dropped", lang),
                    _rate(stats.total("dropped", lang), stats.total("kept", lang)),
                ]
                for lang in langs
            ],
        ),
        "",
        "![Clips per language and emotion](clips_by_lang_emotion.png)",
        "",
        "## Drops by reason",
        "",
        (
            "Each dropped clip carries one reason (the first filter it failed); the clips and their "
            "metrics are in `removed/<lang>/<reason>.jsonl`."
        ),
        "",
        md_table(
            ["lang", *reasons],
            [[lang, *(stats.drops_by_reason[lang].get(r, 0) for r in reasons)] for lang in langs],
        )
        if reasons
        else "No clip was dropped.",
        "",
        "## Text-level drops",
        "",
        (
            "Sentences of the source corpora that never became clips: they were dropped before any "
            "speaker was cast (for example no single label, empty text, a duplicate), so they have no "
            "audio and are not counted in any clip table above or below. They are listed with an empty "
            "`speaker_id` in `removed/<lang>/<reason>.jsonl`."
        ),
        "",
        text_drops_table(stats),
        "",
        *text_section(stats),
        "## Splits and speakers",
        "",
        "Kept clips per split, and the number of distinct speakers (voice variants).",
        "",
        md_table(
            ["lang", "train", "dev", "test", "speakers", "clips per speaker (min–max)"],
            [
                [
                    lang,
                    *(stats.splits[lang].get(s, 0) for s in ("train", "dev", "test")),
                    len(stats.speakers[lang]),
                    f"{min(stats.speakers[lang].values())}–{max(stats.speakers[lang].values())}"
                    if stats.speakers[lang]
                    else "–",
                ]
                for lang in langs
            ],
        ),
        "",
        "## Checks run per language",
        "",
        (
            "Which measurements exist for each language, as the share of its clips (kept and dropped) "
            "that carry them. **not run** means no clip of that language has the metric, so the "
            "corresponding filter did not check it (for example, no offline ASR exists for most "
            "non-English languages, so their transcripts were not checked)."
        ),
        "",
    ]
    if all_keys:
        rows = []
        for key in all_keys:
            row = [f"`{key}`"]
            for lang in langs:
                n = stats.total("kept", lang) + stats.total("dropped", lang)
                have = stats.metric_coverage[lang].get(key, 0)
                row.append("**not run**" if have == 0 else f"{100 * have / n:.0f} %")
            rows.append(row)
        parts.append(md_table(["metric", *langs], rows))
        missing = {lang: [k for k in all_keys if k not in stats.metric_keys[lang]] for lang in langs}
        notes = [f"- `{lang}`: not checked: {', '.join(f'`{k}`' for k in ks)}" for lang, ks in missing.items() if ks]
        if notes:
            parts += ["", *notes]
    else:
        parts.append("No clip carries any numeric metric: no signal check was run.")
    parts += ["", *checks_md(stats)]
    parts += [
        "",
        "## Metric distributions",
        "",
        (
            "5th, 50th and 95th percentiles of each metric over kept and dropped clips (all languages; "
            "per-language summaries are in `stats.json`). `duration_s` is the clip duration. In the "
            "histograms, dashed lines are the recipe's thresholds for that metric (per-language "
            "overrides of a filter are not drawn)."
        ),
        "",
        md_table(
            [
                "metric",
                "kept n",
                "kept p5",
                "kept p50",
                "kept p95",
                "dropped n",
                "dropped p5",
                "dropped p50",
                "dropped p95",
            ],
            [[f"`{key}`", *_pooled(stats, key, "kept"), *_pooled(stats, key, "dropped")] for key in stats.values],
        ),
        "",
        "![Metric histograms, kept vs dropped](metric_histograms.png)",
        "",
    ]
    return "\n".join(parts)


def _rate(dropped: float, kept: float) -> str:
    return f"{100 * dropped / (dropped + kept):.1f} %" if dropped + kept else "–"


def _pooled(stats: Stats, key: str, status: str) -> list[str]:
    s = summarize(stats.values[key][status])
    return [str(s["n"]), _fmt(s["p5"]), _fmt(s["p50"]), _fmt(s["p95"])]


def write_report(out_dir: Path, stats: Stats, thresholds: Mapping[str, Sequence[float]] | None = None) -> Path:
    """Write ``reports/quality.md``, ``stats.json`` and the plots of `stats` (the statistics
    of `out_dir`, from `m5ser.hub.stats.collect_stats`); returns quality.md."""
    reports = out_dir / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    write_text_atomic(reports / "stats.json", json.dumps(stats.to_dict(), indent=2, sort_keys=True) + "\n")
    plots = (_plot_clips, lambda st: _plot_histograms(st, thresholds), _plot_text)
    for name, plot in zip(PLOTS, plots, strict=True):
        fig = plot(stats)
        try:
            with atomic_open(reports / name, "wb") as f:
                fig.savefig(f, format="png", dpi=100, metadata={"Software": None})
        finally:
            _pyplot().close(fig)
    path = reports / "quality.md"
    write_text_atomic(path, _quality_md(stats))
    return path


def print_summary(stats: Stats | Mapping[str, Any], console: Console | None = None) -> None:
    """Print rich tables: totals per language, kept/dropped per emotion, drops by reason
    and, when there are any, text-level drops by reason.

    Emotions are rows and languages columns, so the tables stay narrow for six languages.
    """
    from rich.console import Console
    from rich.table import Table as RichTable

    if not isinstance(stats, Stats):
        stats = Stats.from_dict(stats)
    console = console or Console()
    langs = stats.languages
    totals = RichTable(title="M5SER per language")
    for col in ("lang", "kept", "dropped", "drop rate", "hours", "speakers"):
        totals.add_column(col, justify="left" if col == "lang" else "right")
    for lang in langs:
        kept, dropped = stats.total("kept", lang), stats.total("dropped", lang)
        hours = _fmt(float(stats.total("hours", lang)), 3)
        totals.add_row(lang, str(kept), str(dropped), _rate(dropped, kept), hours, str(len(stats.speakers[lang])))
    console.print(totals)
    by_emotion = RichTable(title="kept/dropped per emotion")
    by_emotion.add_column("emotion")
    for lang in langs:
        by_emotion.add_column(lang, justify="right")
    for emo in stats.emotions:
        by_emotion.add_row(emo, *(f"{stats.kept[x].get(emo, 0)}/{stats.dropped[x].get(emo, 0)}" for x in langs))
    console.print(by_emotion)
    for table, title in (("drops_by_reason", "drops by reason"), ("text_drops", "text-level drops by reason")):
        reasons = stats.reasons(table)
        if not reasons:
            continue
        why = RichTable(title=title)
        why.add_column("reason")
        for lang in langs:
            why.add_column(lang, justify="right")
        rows: Mapping[str, Mapping[str, int]] = getattr(stats, table)
        for r in reasons:
            why.add_row(r, *(str(rows.get(x, {}).get(r, 0)) for x in langs))
        console.print(why)

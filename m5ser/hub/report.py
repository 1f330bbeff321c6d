"""Quality report over a published folder: ``reports/quality.md``, ``stats.json`` and plots.

Everything is computed from the files in the folder (``manifests/<lang>.jsonl`` for kept
clips, ``removed/<lang>/<reason>.jsonl`` for dropped ones), so the report always covers
every language present, whichever one was rebuilt last.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from m5ser.manifest import atomic_open, read_manifest, write_text_atomic
from m5ser.schema import Utterance
from m5ser.shards.parquet import read_published_manifest

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from rich.console import Console

EMOTIONS_YAML = Path(__file__).resolve().parents[2] / "manifests" / "emotions.yaml"
"""Label order for tables and plots comes from here when the file exists."""

PLOTS = ("clips_by_lang_emotion.png", "metric_histograms.png")

# Nested count tables: lang -> key -> count (key = emotion, reason, speaker or split).
Table = dict[str, dict[str, int]]


def label_order(present: Iterable[str]) -> list[str]:
    """Labels in the order of ``manifests/emotions.yaml``, then unknown ones sorted."""
    known: list[str] = []
    if EMOTIONS_YAML.is_file():
        known = list(yaml.safe_load(EMOTIONS_YAML.read_text(encoding="utf-8")).get("labels", []))
    present = set(present)
    return [e for e in known if e in present] + sorted(present - set(known))


def summarize(values: Sequence[float]) -> dict[str, float | int | None]:
    """Count, mean and 5th/50th/95th percentiles (None when empty).

    >>> summarize([1.0, 2.0, 3.0])["p50"]
    2.0
    """
    if not values:
        return {"n": 0, "mean": None, "p5": None, "p50": None, "p95": None}
    a = np.asarray(values, dtype=np.float64)
    p5, p50, p95 = (float(x) for x in np.percentile(a, [5, 50, 95]))
    return {"n": int(a.size), "mean": float(a.mean()), "p5": p5, "p50": p50, "p95": p95}


@dataclass
class Stats:
    """Counts and metric summaries of a published folder (the content of ``stats.json``)."""

    languages: list[str] = field(default_factory=list)
    emotions: list[str] = field(default_factory=list)
    kept: Table = field(default_factory=dict)  # lang -> emotion -> kept clips
    dropped: Table = field(default_factory=dict)  # lang -> emotion -> dropped clips
    drops_by_reason: Table = field(default_factory=dict)  # lang -> reason -> dropped clips
    hours: dict[str, dict[str, float]] = field(default_factory=dict)  # lang -> emotion -> kept hours
    speakers: Table = field(default_factory=dict)  # lang -> speaker_id -> kept clips
    speaker_genders: Table = field(default_factory=dict)  # lang -> gender -> distinct kept speakers
    splits: Table = field(default_factory=dict)  # lang -> split -> kept clips
    metric_keys: dict[str, list[str]] = field(default_factory=dict)  # lang -> numeric metric keys seen
    metric_coverage: Table = field(default_factory=dict)  # lang -> metric -> clips carrying it
    # metric -> lang -> "kept" | "dropped" -> summary; "duration_s" is the clip duration.
    metrics: dict[str, dict[str, dict[str, dict[str, Any]]]] = field(default_factory=dict)
    # metric -> "kept" | "dropped" -> raw values over all languages (plots only; not in JSON).
    values: dict[str, dict[str, list[float]]] = field(default_factory=dict, repr=False)

    def total(self, table: str, lang: str | None = None) -> int | float:
        """Sum of one table, over all languages or one."""
        rows: Mapping[str, Mapping[str, Any]] = getattr(self, table)
        langs = [lang] if lang is not None else list(rows)
        return sum(sum(rows.get(x, {}).values()) for x in langs)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["values"]
        out["totals"] = {
            "kept": self.total("kept"),
            "dropped": self.total("dropped"),
            "hours": round(float(self.total("hours")), 6),
        }
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stats:
        """Rebuild from ``stats.json`` content (raw metric values are not stored there)."""
        names = {f for f in cls.__dataclass_fields__ if f != "values"}
        return cls(**{k: v for k, v in data.items() if k in names})


def _numeric_metrics(utt: Utterance) -> dict[str, float]:
    """Finite numeric metric values of a clip (booleans and non-numbers are skipped)."""
    out = {}
    for key, value in utt.metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            out[key] = float(value)
    return out


def _read_removed(out_dir: Path, lang: str) -> Iterable[tuple[str, Utterance]]:
    for path in sorted((out_dir / "removed" / lang).glob("*.jsonl")):
        for utt in read_manifest(path):
            yield utt.drop_reason or path.stem, utt


def collect_stats(out_dir: Path) -> Stats:
    """Read every manifest and removed file under `out_dir` into a `Stats`."""
    out_dir = Path(out_dir)
    langs = {p.stem for p in (out_dir / "manifests").glob("*.jsonl")}
    langs |= {p.name for p in (out_dir / "removed").glob("*") if p.is_dir()}
    stats = Stats(languages=sorted(langs))
    emotions: set[str] = set()
    # metric -> lang -> kept|dropped -> values
    raw: dict[str, dict[str, dict[str, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: {"kept": [], "dropped": []})
    )
    for lang in stats.languages:
        kept: Counter[str] = Counter()
        dropped: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        hours: Counter[str] = Counter()
        speakers: Counter[str] = Counter()
        gender_of: dict[str, str] = {}
        splits: Counter[str] = Counter()
        coverage: Counter[str] = Counter()
        manifest = out_dir / "manifests" / f"{lang}.jsonl"
        kept_items = read_published_manifest(manifest) if manifest.is_file() else iter(())
        items = [("kept", "", utt) for utt in kept_items]
        items += [("dropped", reason, utt) for reason, utt in _read_removed(out_dir, lang)]
        for status, reason, utt in items:
            emotions.add(utt.emotion)
            if status == "kept":
                kept[utt.emotion] += 1
                hours[utt.emotion] += utt.duration_s / 3600
                speakers[utt.speaker_id] += 1
                gender_of[utt.speaker_id] = utt.gender or "unknown"
                splits[utt.split] += 1
            else:
                dropped[utt.emotion] += 1
                reasons[reason] += 1
            numeric = _numeric_metrics(utt)
            coverage.update(numeric.keys())
            for key, value in {"duration_s": float(utt.duration_s), **numeric}.items():
                raw[key][lang][status].append(value)
        stats.kept[lang] = dict(sorted(kept.items()))
        stats.dropped[lang] = dict(sorted(dropped.items()))
        stats.drops_by_reason[lang] = dict(sorted(reasons.items()))
        stats.hours[lang] = {k: round(v, 6) for k, v in sorted(hours.items())}
        stats.speakers[lang] = dict(sorted(speakers.items()))
        stats.speaker_genders[lang] = dict(sorted(Counter(gender_of.values()).items()))
        stats.splits[lang] = dict(sorted(splits.items()))
        stats.metric_coverage[lang] = dict(sorted(coverage.items()))
        stats.metric_keys[lang] = sorted(coverage)
    stats.emotions = label_order(emotions)
    for key in sorted(raw):
        stats.metrics[key] = {
            lang: {status: summarize(vals) for status, vals in by_status.items()}
            for lang, by_status in sorted(raw[key].items())
        }
        stats.values[key] = {
            status: [v for lang in sorted(raw[key]) for v in raw[key][lang][status]] for status in ("kept", "dropped")
        }
    return stats


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


def _plot_histograms(stats: Stats, max_metrics: int = 12) -> Figure:
    """One histogram per metric (all languages pooled), kept vs dropped."""
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
        ax.set_title(key)
        ax.legend(fontsize="small")
    if not keys:
        axes.flat[0].text(0.5, 0.5, "no clips", ha="center", va="center")
    fig.suptitle("Metric distributions, kept vs dropped (all languages)")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------- markdown


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


def _quality_md(stats: Stats) -> str:
    langs, emos = stats.languages, stats.emotions
    all_keys = sorted({k for keys in stats.metric_keys.values() for k in keys})
    reasons = sorted({r for by in stats.drops_by_reason.values() for r in by})
    total_kept, total_dropped = stats.total("kept"), stats.total("dropped")
    seen = total_kept + total_dropped
    parts = [
        "# M5SER quality report",
        "",
        f"{seen} clips were synthesized and checked in {len(langs)} language(s): {total_kept} kept "
        f"({_fmt(float(stats.total('hours')), 3)} h), {total_dropped} dropped"
        + (f" ({100 * total_dropped / seen:.1f} %)." if seen else "."),
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
    parts += [
        "",
        "## Metric distributions",
        "",
        (
            "5th, 50th and 95th percentiles of each metric over kept and dropped clips (all languages; "
            "per-language summaries are in `stats.json`). `duration_s` is the clip duration."
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


def write_report(out_dir: Path) -> Path:
    """Write ``reports/quality.md``, ``stats.json`` and the plots; returns quality.md."""
    out_dir = Path(out_dir)
    stats = collect_stats(out_dir)
    reports = out_dir / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    write_text_atomic(reports / "stats.json", json.dumps(stats.to_dict(), indent=2, sort_keys=True) + "\n")
    for name, plot in zip(PLOTS, (_plot_clips, _plot_histograms), strict=True):
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
    """Print three rich tables: totals per language, kept/dropped per emotion, drops by reason.

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
    reasons = sorted({r for by in stats.drops_by_reason.values() for r in by})
    if reasons:
        why = RichTable(title="drops by reason")
        why.add_column("reason")
        for lang in langs:
            why.add_column(lang, justify="right")
        for r in reasons:
            why.add_row(r, *(str(stats.drops_by_reason[x].get(r, 0)) for x in langs))
        console.print(why)

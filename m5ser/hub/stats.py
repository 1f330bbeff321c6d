"""The statistics of a published folder: the one place that reads its manifests.

Kept clips come from ``manifests/<lang>.jsonl``, drops from ``removed/<lang>/<reason>.jsonl``.
A removed record is either a **clip drop** (a synthesized clip that failed a check) or a
**text-level drop** (a source sentence dropped before any speaker was cast; see
`is_text_drop`). Text-level drops are counted apart in `Stats.text_drops` and stay out of
every clip table (kept/dropped per emotion, drop rates, metric distributions, histograms).

The report (``reports/quality.md``, ``stats.json``, plots), the dataset card and the
Prefect quality tables are views of one `Stats`, so they cannot disagree.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from m5ser.manifest import read_manifest
from m5ser.schema import Utterance
from m5ser.shards.parquet import read_published_manifest

Table = dict[str, dict[str, int]]
"""Nested counts: lang -> key -> count (key = emotion, reason, speaker, split, ...)."""

STATUSES = ("kept", "dropped")
"""Clip statuses of the metric summaries and raw values."""

UNKNOWN_ROUTE = "unknown"
"""Translation route recorded for a kept clip whose ``translation_backend`` is empty."""


def is_text_drop(utt: Utterance) -> bool:
    """Whether a removed record is a text-level drop rather than a dropped clip.

    Text-level drops are sentences of the source corpora dropped before any speaker was
    cast (reasons such as ``no_single_label``, ``empty_text``, ``duplicate_text``): they
    have no speaker, no audio and a zero duration, and their emotion may be empty.

    >>> from m5ser.schema import Utterance
    >>> is_text_drop(Utterance(drop_reason="empty_text")), is_text_drop(Utterance(speaker_id="de-m1"))
    (True, False)
    """
    return not utt.cast


def label_order(present: Iterable[str], labels: Sequence[str]) -> list[str]:
    """The `present` labels in the order of `labels`, then unknown ones sorted.

    >>> label_order(["surprise", "zeal", "neutral", "awe"], ["neutral", "happy", "surprise"])
    ['neutral', 'surprise', 'awe', 'zeal']
    """
    present = set(present)
    return [e for e in labels if e in present] + sorted(present - set(labels))


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
    """Counts and metric summaries of a published folder (the content of ``stats.json``).

    Every clip table counts clips only; `text_drops` counts the text-level drops.
    """

    languages: list[str] = field(default_factory=list)  # every language with kept or removed records
    emotions: list[str] = field(default_factory=list)  # labels of the clips, in the recipe's label order
    kept: Table = field(default_factory=dict)  # lang -> emotion -> kept clips
    dropped: Table = field(default_factory=dict)  # lang -> emotion -> dropped clips
    drops_by_reason: Table = field(default_factory=dict)  # lang -> reason -> dropped clips
    # lang -> reason -> emotion -> dropped clips (the cross table behind the two above)
    drops_by_reason_emotion: dict[str, Table] = field(default_factory=dict)
    text_drops: Table = field(default_factory=dict)  # lang -> reason -> source sentences dropped before casting
    hours: dict[str, dict[str, float]] = field(default_factory=dict)  # lang -> emotion -> kept hours
    speakers: Table = field(default_factory=dict)  # lang -> speaker_id -> kept clips
    speaker_genders: Table = field(default_factory=dict)  # lang -> gender -> distinct kept speakers
    # lang -> speaker_id -> {"engine", "voice", "gender"} of its kept clips (last clip read wins)
    speaker_voices: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    engines: Table = field(default_factory=dict)  # lang -> tts_backend -> kept clips
    corpora: Table = field(default_factory=dict)  # lang -> source_corpus -> kept clips
    routes: Table = field(default_factory=dict)  # lang -> translation_backend (or "unknown") -> kept clips
    splits: Table = field(default_factory=dict)  # lang -> split -> kept clips
    metric_keys: dict[str, list[str]] = field(default_factory=dict)  # lang -> numeric metric keys seen
    metric_coverage: Table = field(default_factory=dict)  # lang -> metric -> clips carrying it
    # metric -> lang -> "kept" | "dropped" -> summary; "duration_s" is the clip duration.
    metrics: dict[str, dict[str, dict[str, dict[str, Any]]]] = field(default_factory=dict)
    # lang -> ASR status of its clips (kept and dropped): "checked", "unchecked" (transcribed, the
    # ear is known not to work there: never filtered), "not_run" (no ASR metrics) -> clips
    asr_status: Table = field(default_factory=dict)
    # tts engine -> lang -> "wer" | "cer" -> summary, over every transcribed clip (kept and dropped)
    asr_rates: dict[str, dict[str, dict[str, dict[str, Any]]]] = field(default_factory=dict)
    # reason -> the WORST_SHOWN worst dropped clips (see WORST_BY): lang, emotion, engine, text, transcript, metrics
    worst: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # metric -> "kept" | "dropped" -> raw values over all languages (plots only; not in JSON).
    values: dict[str, dict[str, list[float]]] = field(default_factory=dict, repr=False)
    # lang -> reason -> up to TEXT_EXAMPLES text-level drops: source_id, source_text, text, note
    text_examples: dict[str, dict[str, list[dict[str, str]]]] = field(default_factory=dict)
    # lang -> text metric (TEXT_METRICS) -> values over its sentences, kept and dropped (plots only; not in JSON)
    text_values: dict[str, dict[str, list[float]]] = field(default_factory=dict, repr=False)

    def total(self, table: str, lang: str | None = None) -> int | float:
        """Sum of one two-level table, over all languages or one.

        >>> Stats(kept={"de": {"sad": 2}, "fr": {"sad": 1}}).total("kept")
        3
        """
        rows: Mapping[str, Mapping[str, Any]] = getattr(self, table)
        langs = [lang] if lang is not None else list(rows)
        return sum(sum(rows.get(x, {}).values()) for x in langs)

    def pooled(self, table: str) -> Counter[str]:
        """One two-level table summed over languages (key -> count).

        >>> dict(Stats(engines={"de": {"espeak": 2}, "fr": {"espeak": 1, "piper": 1}}).pooled("engines"))
        {'espeak': 3, 'piper': 1}
        """
        out: Counter[str] = Counter()
        for by_key in getattr(self, table).values():
            out.update(by_key)
        return out

    def reasons(self, table: str = "drops_by_reason") -> list[str]:
        """Every reason of `drops_by_reason` (clip drops) or `text_drops`, sorted."""
        return sorted({r for by in getattr(self, table).values() for r in by})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content of ``stats.json`` (raw values left out; totals added)."""
        out = asdict(self)
        del out["values"], out["text_values"]
        out["totals"] = {
            "kept": self.total("kept"),
            "dropped": self.total("dropped"),
            "hours": round(float(self.total("hours")), 6),
            "text_drops": self.total("text_drops"),
        }
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stats:
        """Rebuild from ``stats.json`` content (raw metric values are not stored there)."""
        names = {f for f in cls.__dataclass_fields__ if f not in ("values", "text_values")}
        return cls(**{k: v for k, v in data.items() if k in names})


TEXT_METRICS = ("adequacy", "length_ratio", "copy_similarity")
"""Metrics the text checks add to a sentence (m5ser.text.checks), shown per language."""

TEXT_EXAMPLES = 3
"""Examples shown per language and text-level drop reason."""


def read_stats(path: str | Path) -> Stats:
    """A `Stats` from a ``stats.json`` written by the report (no raw metric values)."""
    return Stats.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _numeric_metrics(utt: Utterance) -> dict[str, float]:
    """Finite numeric metric values of a clip (booleans and non-numbers are skipped)."""
    out = {}
    for key, value in utt.metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            out[key] = float(value)
    return out


def _read_removed(out_dir: Path, lang: str) -> Iterator[tuple[str, Utterance]]:
    """(reason, record) of every removed record of `lang`; the reason falls back to the file name."""
    for path in sorted((out_dir / "removed" / lang).glob("*.jsonl")):
        for utt in read_manifest(path):
            yield utt.drop_reason or path.stem, utt


WORST_SHOWN = 5
WORST_BY: dict[str, tuple[str, bool]] = {
    # reason -> (metric, larger is worse): how the report picks the worst examples of a reason;
    # other reasons show their first clips by id.
    "asr_mismatch": ("asr_error", True),
    "wrong_language": ("asr_lang_prob", True),
    "low_snr": ("snr_db", False),
    "too_quiet": ("rms_dbfs", False),
    "clipping": ("clipping_ratio", True),
    "too_short": ("duration_s", False),
    "too_long": ("duration_s", True),
}


def _worst(reason: str, clips: list[Utterance]) -> list[dict[str, Any]]:
    """The WORST_SHOWN worst clips of one drop reason, as report rows."""
    metric, larger = WORST_BY.get(reason, ("", True))

    def severity(utt: Utterance) -> tuple[float, str]:
        value = utt.duration_s if metric == "duration_s" else utt.metrics.get(metric)
        number = float(value) if isinstance(value, int | float) else 0.0
        return (-number if larger else number, utt.id)

    return [
        {
            "id": utt.id, "lang": utt.lang, "emotion": utt.emotion, "engine": utt.tts_backend,
            "text": utt.text, "transcript": utt.metrics.get("asr_text", ""),
            "metrics": {k: v for k, v in utt.metrics.items() if k != "asr_text"},
        }
        for utt in sorted(clips, key=severity)[:WORST_SHOWN]
    ]  # fmt: skip


def _sorted(counts: Mapping[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items()))


def _text_values(utt: Utterance, into: dict[str, list[float]]) -> None:
    for key in TEXT_METRICS:
        value = utt.metrics.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            into[key].append(float(value))


def collect_stats(out_dir: str | Path, labels: Sequence[str]) -> Stats:
    """Read every manifest and removed file under `out_dir` into a `Stats`.

    `labels` is the label order of tables and plots (the recipe's ``emotions.yaml``
    labels); labels present but not listed come after, sorted.
    """
    out_dir = Path(out_dir)
    langs = {p.stem for p in (out_dir / "manifests").glob("*.jsonl")}
    langs |= {p.name for p in (out_dir / "removed").glob("*") if p.is_dir()}
    stats = Stats(languages=sorted(langs))
    emotions: set[str] = set()
    # metric -> lang -> kept|dropped -> values
    raw: dict[str, dict[str, dict[str, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: {status: [] for status in STATUSES})
    )
    # engine -> lang -> wer|cer -> values; reason -> dropped clips
    asr_raw: dict[str, dict[str, dict[str, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    dropped_clips: dict[str, list[Utterance]] = defaultdict(list)
    for lang in stats.languages:
        kept: Counter[str] = Counter()
        drops: dict[str, Counter[str]] = defaultdict(Counter)  # reason -> emotion -> clips
        text_drops: Counter[str] = Counter()
        hours: Counter[str] = Counter()
        speakers: Counter[str] = Counter()
        voices: dict[str, dict[str, str]] = {}
        engines: Counter[str] = Counter()
        corpora: Counter[str] = Counter()
        routes: Counter[str] = Counter()
        splits: Counter[str] = Counter()
        coverage: Counter[str] = Counter()
        asr_status: Counter[str] = Counter()
        examples: dict[str, list[dict[str, str]]] = defaultdict(list)
        text_values: dict[str, list[float]] = defaultdict(list)
        sentences: set[str] = set()
        manifest = out_dir / "manifests" / f"{lang}.jsonl"
        kept_items = read_published_manifest(manifest) if manifest.is_file() else iter(())
        items = [("kept", "", utt) for utt in kept_items]
        for reason, utt in _read_removed(out_dir, lang):
            if is_text_drop(utt):
                text_drops[reason] += 1
                if len(examples[reason]) < TEXT_EXAMPLES:
                    note = str(utt.metrics.get("error", ""))
                    examples[reason].append(
                        {"source_id": utt.source_id, "source_text": utt.source_text, "text": utt.text, "note": note}
                    )
                _text_values(utt, text_values)
            else:
                items.append(("dropped", reason, utt))
        for status, reason, utt in items:
            emotions.add(utt.emotion)
            if utt.source_id not in sentences:  # a sentence's text metrics once, however many clips it has
                sentences.add(utt.source_id)
                _text_values(utt, text_values)
            if status == "kept":
                kept[utt.emotion] += 1
                hours[utt.emotion] += utt.duration_s / 3600
                speakers[utt.speaker_id] += 1
                voices[utt.speaker_id] = {"engine": utt.tts_backend, "voice": utt.voice, "gender": utt.gender}
                engines[utt.tts_backend] += 1
                corpora[utt.source_corpus] += 1
                routes[utt.translation_backend or UNKNOWN_ROUTE] += 1
                splits[utt.split] += 1
            else:
                drops[reason][utt.emotion] += 1
                dropped_clips[reason].append(utt)
            asr_status[utt.metrics.get("asr_status", "not_run")] += 1
            for rate in ("wer", "cer"):
                if isinstance(utt.metrics.get(rate), int | float):
                    asr_raw[utt.tts_backend][lang][rate].append(float(utt.metrics[rate]))
            numeric = _numeric_metrics(utt)
            coverage.update(numeric.keys())
            for key, value in {"duration_s": float(utt.duration_s), **numeric}.items():
                raw[key][lang][status].append(value)
        dropped: Counter[str] = Counter()
        for by_emotion in drops.values():
            dropped.update(by_emotion)
        stats.kept[lang] = _sorted(kept)
        stats.dropped[lang] = _sorted(dropped)
        stats.drops_by_reason[lang] = {r: sum(drops[r].values()) for r in sorted(drops)}
        stats.drops_by_reason_emotion[lang] = {r: _sorted(drops[r]) for r in sorted(drops)}
        stats.text_drops[lang] = _sorted(text_drops)
        stats.hours[lang] = {k: round(v, 6) for k, v in sorted(hours.items())}
        stats.speakers[lang] = _sorted(speakers)
        stats.speaker_voices[lang] = dict(sorted(voices.items()))
        genders = Counter(v["gender"] or "unknown" for v in voices.values())
        stats.speaker_genders[lang] = _sorted(genders)
        stats.engines[lang] = _sorted(engines)
        stats.corpora[lang] = _sorted(corpora)
        stats.routes[lang] = _sorted(routes)
        stats.splits[lang] = _sorted(splits)
        stats.metric_coverage[lang] = _sorted(coverage)
        stats.metric_keys[lang] = sorted(coverage)
        stats.asr_status[lang] = _sorted(asr_status)
        stats.text_examples[lang] = dict(sorted(examples.items()))
        stats.text_values[lang] = dict(sorted(text_values.items()))
    stats.emotions = label_order(emotions, labels)
    stats.asr_rates = {
        engine: {lang: {rate: summarize(v) for rate, v in sorted(by.items())} for lang, by in sorted(langs_.items())}
        for engine, langs_ in sorted(asr_raw.items())
    }
    stats.worst = {reason: _worst(reason, clips) for reason, clips in sorted(dropped_clips.items())}
    for key in sorted(raw):
        stats.metrics[key] = {
            lang: {status: summarize(vals) for status, vals in by_status.items()}
            for lang, by_status in sorted(raw[key].items())
        }
        stats.values[key] = {
            status: [v for lang in sorted(raw[key]) for v in raw[key][lang][status]] for status in STATUSES
        }
    return stats


def quality_rows(stats: Stats, lang: str) -> list[dict[str, Any]]:
    """One row per emotion of `lang` plus a total: kept clips, kept hours, dropped clips, drops per reason.

    Clips only (text-level drops are not in these rows). Every row has the same columns,
    as a Prefect table artifact needs.

    >>> s = Stats(emotions=["sad"], kept={"de": {"sad": 2}}, hours={"de": {"sad": 0.001}},
    ...           drops_by_reason_emotion={"de": {"low_snr": {"sad": 1}}})
    >>> quality_rows(s, "de")[-1]
    {'emotion': 'total', 'kept': 2, 'hours': 0.001, 'dropped': 1, 'dropped_low_snr': 1}
    """
    kept = stats.kept.get(lang, {})
    hours = stats.hours.get(lang, {})
    drops = stats.drops_by_reason_emotion.get(lang, {})
    reasons = sorted(drops)
    emotions = [e for e in stats.emotions if kept.get(e) or any(by.get(e) for by in drops.values())]

    def row(name: str, pick: Sequence[str]) -> dict[str, Any]:
        by_reason = {f"dropped_{r}": sum(drops[r].get(e, 0) for e in pick) for r in reasons}
        return {
            "emotion": name,
            "kept": sum(kept.get(e, 0) for e in pick),
            "hours": round(sum(hours.get(e, 0.0) for e in pick), 4),
            "dropped": sum(by_reason.values()),
            **by_reason,
        }

    return [row(e, [e]) for e in emotions] + [row("total", emotions)]

"""The per-language text report: routes, examples of text-level drops, the text-check plot."""

from __future__ import annotations

from pathlib import Path

from m5ser.hub.report import write_report
from m5ser.hub.stats import TEXT_EXAMPLES, collect_stats
from m5ser.shards.parquet import write_language
from m5ser.testing import make_kept_set, make_text_drops, write_removed

LABELS = ("neutral", "happy", "sad", "angry", "fear", "disgust", "surprise")


def test_the_report_shows_routes_examples_and_text_metrics_per_language(tmp_path: Path) -> None:
    out = tmp_path / "out"
    kept = make_kept_set(tmp_path, ["es"], ["happy"], 2, translation_backend="apertium")
    for i, utt in enumerate(kept["es"]):
        utt.metrics.update(adequacy=0.9 + 0.01 * i, length_ratio=1.1, copy_similarity=0.2)
    write_language("es", kept["es"], out)
    drops = make_text_drops(["es"], {"low_adequacy": TEXT_EXAMPLES + 2})["es"]
    for i, utt in enumerate(drops):
        utt.source_text, utt.text = f"Source line {i}", f"Línea {i}"
        utt.metrics["adequacy"] = 0.5
    write_removed(out, drops)
    stats = collect_stats(out, LABELS)
    assert len(stats.text_examples["es"]["low_adequacy"]) == TEXT_EXAMPLES
    assert sorted(stats.text_values["es"]["adequacy"]) == [0.5] * (TEXT_EXAMPLES + 2) + [0.9, 0.91]
    report = write_report(out, stats).read_text(encoding="utf-8")
    section = report[report.index("## Text per language") :]
    assert "| es | `apertium` 2 |" in section
    shown = [i for i in range(TEXT_EXAMPLES + 2) if f"| es | `low_adequacy` | Source line {i} | Línea {i} |" in section]
    assert len(shown) == TEXT_EXAMPLES  # three examples per reason, not all
    assert (out / "reports" / "text_adequacy.png").stat().st_size > 1000
    assert "text_values" not in (out / "reports" / "stats.json").read_text(encoding="utf-8")


def test_histograms_draw_the_recipes_thresholds(tmp_path: Path, monkeypatch) -> None:
    from m5ser.config import load_recipe
    from m5ser.hub import report
    from m5ser.hub.publish import recipe_thresholds

    root = Path(__file__).resolve().parents[2]
    thresholds = recipe_thresholds(load_recipe(root / "manifests/recipes/mini.yaml", root=root))
    assert thresholds["snr_db"] == [20.0] and thresholds["duration_s"] == [0.4, 20.0]
    assert thresholds["cer"] == [0.5] and thresholds["vad_speech_ratio"] == [0.3]

    out = tmp_path / "out"
    kept = make_kept_set(tmp_path, ["es"], ["happy"], 3)
    write_language("es", kept["es"], out)
    drawn: list[float] = []
    real = report._plot_histograms

    def spy(stats, limits=None, max_metrics=12):
        fig = real(stats, limits, max_metrics)
        drawn.extend(line.get_xdata()[0] for ax in fig.axes for line in ax.lines)
        return fig

    monkeypatch.setattr(report, "_plot_histograms", spy)
    report.write_report(out, collect_stats(out, LABELS), thresholds={"snr_db": [20.0]})
    assert drawn == [20.0]

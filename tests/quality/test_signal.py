from __future__ import annotations

import numpy as np
import pytest

from m5ser.quality.metrics import signal_metrics
from m5ser.quality.signal import SignalFilter, SignalThresholds, TextLength, TextLengthFilter
from m5ser.quality.threshold import MetricFilter, MetricThreshold
from m5ser.schema import Utterance
from m5ser.steps import chain

SR = 16_000
GOOD = {"duration_s": 2.0, "clipping_ratio": 0.0, "rms_dbfs": -20.0, "leading_silence_s": 0.1,
        "trailing_silence_s": 0.1, "snr_db": 60.0}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({}, None),
        ({"duration_s": 0.39}, "too_short"),
        ({"duration_s": 0.4}, None),  # strict <: exactly the minimum is kept
        ({"duration_s": 20.01}, "too_long"),
        ({"clipping_ratio": 0.002}, "clipping"),
        ({"clipping_ratio": 0.001}, None),
        ({"rms_dbfs": -41.0}, "too_quiet"),
        ({"leading_silence_s": 1.2}, "silence"),
        ({"trailing_silence_s": 1.6}, "silence"),
        ({"snr_db": 19.9}, "low_snr"),
        ({"duration_s": 0.1, "snr_db": 3.0}, "too_short"),  # the first failing check names the reason
    ],
)
def test_signal_filter_thresholds(change, reason):
    cfg = SignalThresholds(min_duration_s=0.4, max_duration_s=20.0, min_rms_dbfs=-40.0, min_snr_db=20.0)
    utt = Utterance(id="x", metrics={**GOOD, **change})
    [out] = list(SignalFilter(cfg)([utt]))
    assert out.drop_reason == reason


def test_filters_pass_dropped_items_through_and_count():
    items = [Utterance(id="a", text="ok"), Utterance(id="b", text="fine"), Utterance(id="c", drop_reason="tts_error")]
    text_filter = TextLengthFilter(TextLength(min_chars=3))
    out = list(chain(items, [text_filter]))
    assert [(u.id, u.drop_reason) for u in out] == [("a", "text_length"), ("b", None), ("c", "tts_error")]
    assert text_filter.counts == {"text_length": 1}


@pytest.mark.parametrize(
    ("metrics", "reason"),
    [({"speech_ratio": 0.49}, "low_speech"), ({"speech_ratio": 0.5}, None), ({"speech_ratio": 0.95}, None),
     ({"speech_ratio": 0.96}, "low_speech")],
)  # fmt: skip
def test_metric_filter_compares_strictly(metrics, reason):
    step = MetricFilter(MetricThreshold(metric="speech_ratio", reason="low_speech", min=0.5, max=0.95))
    [out] = list(step([Utterance(id="x", metrics=metrics)]))
    assert out.drop_reason == reason


def test_metric_filter_on_a_missing_metric_says_which_step_is_missing():
    with pytest.raises(KeyError, match="metric 'wer' is missing"):
        list(MetricFilter(MetricThreshold(metric="wer", reason="high_wer", max=0.3))([Utterance(id="x")]))
    keep = MetricFilter(MetricThreshold(metric="wer", reason="high_wer", max=0.3, missing="keep"))
    assert [u.drop_reason for u in keep([Utterance(id="x")])] == [None]


def tone(seconds: float, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_metrics_measure_silences_clipping_and_snr():
    rng = np.random.default_rng(0)
    quiet = np.zeros(int(0.5 * SR), dtype=np.float32)
    x = np.concatenate([quiet, tone(1.0), np.zeros(SR, dtype=np.float32)])
    m = signal_metrics(x, SR)
    assert m["duration_s"] == pytest.approx(2.5)
    assert m["leading_silence_s"] == pytest.approx(0.5, abs=0.03)
    assert m["trailing_silence_s"] == pytest.approx(1.0, abs=0.03)
    assert m["clipping_ratio"] == 0.0
    assert m["rms_dbfs"] == pytest.approx(20 * np.log10(0.3 / np.sqrt(2) / np.sqrt(2.5)), abs=0.1)
    noisy = x + rng.normal(0, 0.03, len(x)).astype(np.float32)
    assert 10 < signal_metrics(noisy, SR)["snr_db"] < 30
    assert signal_metrics(np.clip(tone(1.0, 2.0), -1, 1), SR)["clipping_ratio"] > 0.1


@pytest.mark.parametrize("n", [1, 399, 400, 401, 560, 16_007])
def test_frame_energies_are_the_per_frame_mean_squares(n):
    """The strided frame energies equal each 25 ms frame's mean square computed on its own."""
    from m5ser.quality.metrics import frame_energy_db

    x = np.random.default_rng(n).uniform(-0.5, 0.5, n).astype(np.float32)
    padded = np.pad(x, (0, max(0, 400 - n)))
    starts = range(0, padded.size - 400 + 1, 160)
    expected = [10 * np.log10(np.mean(padded[s : s + 400].astype(np.float64) ** 2) + 1e-10) for s in starts]
    np.testing.assert_array_equal(frame_energy_db(x, SR), expected)

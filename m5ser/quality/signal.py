"""Annotate-then-filter steps for text length and signal quality."""

from __future__ import annotations

from typing import Any

from m5ser import audio
from m5ser.config import FilterConfig
from m5ser.quality.metrics import signal_metrics
from m5ser.schema import Utterance
from m5ser.steps import Annotator, Filter


class TextLengthFilter(Filter):
    """Drops text outside [min_chars, max_chars] before any synthesis (reason ``text_length``)."""

    name = "text_length"

    def __init__(self, cfg: FilterConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def reason(self, utt: Utterance) -> str | None:
        n = len(utt.text.strip())
        return "text_length" if n < self.cfg.min_chars or n > self.cfg.max_chars else None


class SignalAnnotator(Annotator):
    """Adds duration, clipping, level, silence and SNR metrics from the clip's WAV."""

    name = "signal"

    def measure(self, utt: Utterance) -> dict[str, Any]:
        samples = audio.load(utt.audio_path, utt.sample_rate)
        return signal_metrics(samples, utt.sample_rate)


class SignalFilter(Filter):
    """Drops clips whose signal metrics fail the recipe's thresholds.

    Comparisons (a clip is dropped when): duration_s < min_duration_s → ``too_short``;
    duration_s > max_duration_s → ``too_long``; clipping_ratio > max_clipping_ratio →
    ``clipping``; rms_dbfs < min_rms_dbfs → ``too_quiet``; leading_silence_s >
    max_leading_silence_s or trailing_silence_s > max_trailing_silence_s → ``silence``;
    snr_db < min_snr_db → ``low_snr``. The first failing check names the reason.
    """

    name = "signal_filter"

    def __init__(self, cfg: FilterConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def reason(self, utt: Utterance) -> str | None:
        m, c = utt.metrics, self.cfg
        checks = [
            (m["duration_s"] < c.min_duration_s, "too_short"),
            (m["duration_s"] > c.max_duration_s, "too_long"),
            (m["clipping_ratio"] > c.max_clipping_ratio, "clipping"),
            (m["rms_dbfs"] < c.min_rms_dbfs, "too_quiet"),
            (m["leading_silence_s"] > c.max_leading_silence_s, "silence"),
            (m["trailing_silence_s"] > c.max_trailing_silence_s, "silence"),
            (m["snr_db"] < c.min_snr_db, "low_snr"),
        ]
        return next((why for failed, why in checks if failed), None)

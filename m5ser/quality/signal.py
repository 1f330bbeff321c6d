"""Annotate-then-filter steps for text length and signal quality."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from m5ser import audio
from m5ser.config import check_range
from m5ser.quality.metrics import signal_metrics
from m5ser.schema import Utterance
from m5ser.steps import Annotator, Filter, NoParams


@dataclass(frozen=True)
class TextLength:
    min_chars: int = 2  # drop text shorter than this (characters, stripped)
    max_chars: int = 300  # drop text longer than this

    def __post_init__(self) -> None:
        check_range(self, "min_chars", low=0)
        check_range(self, "max_chars", low=self.min_chars)


class TextLengthFilter(Filter):
    """Drops text outside [min_chars, max_chars] before any synthesis (reason ``text_length``)."""

    name = "text_length"
    Params = TextLength

    def reason(self, utt: Utterance) -> str | None:
        n = len(utt.text.strip())
        return "text_length" if n < self.params.min_chars or n > self.params.max_chars else None


class SignalAnnotator(Annotator):
    """Adds duration, clipping, level, silence and SNR metrics from the clip's WAV."""

    name = "signal"
    Params = NoParams
    stage = "clip"

    def measure(self, utt: Utterance) -> dict[str, Any]:
        samples = audio.load(utt.audio_path, utt.sample_rate)
        return signal_metrics(samples, utt.sample_rate)


@dataclass(frozen=True)
class SignalThresholds:
    """A clip is dropped when a comparison spelled out here fails."""

    min_duration_s: float = 0.5  # drop if duration_s < this
    max_duration_s: float = 20.0  # drop if duration_s > this
    max_clipping_ratio: float = 0.001  # drop if the share of |x| >= 0.999 samples > this
    min_rms_dbfs: float = -45.0  # drop if rms_dbfs < this
    max_leading_silence_s: float = 1.0  # drop if leading_silence_s > this
    max_trailing_silence_s: float = 1.5  # drop if trailing_silence_s > this
    min_snr_db: float = 15.0  # drop if snr_db < this

    def __post_init__(self) -> None:
        for name in ("min_duration_s", "max_leading_silence_s", "max_trailing_silence_s"):
            check_range(self, name, low=0)
        check_range(self, "max_duration_s", low=max(self.min_duration_s, 1e-9))
        check_range(self, "max_clipping_ratio", low=0, high=1)
        check_range(self, "min_rms_dbfs", high=0)

    def thresholds(self) -> dict[str, list[float]]:
        """Metric -> threshold values (drawn on the report's histograms)."""
        return {
            "duration_s": [self.min_duration_s, self.max_duration_s],
            "clipping_ratio": [self.max_clipping_ratio],
            "rms_dbfs": [self.min_rms_dbfs],
            "leading_silence_s": [self.max_leading_silence_s],
            "trailing_silence_s": [self.max_trailing_silence_s],
            "snr_db": [self.min_snr_db],
        }


class SignalFilter(Filter):
    """Drops clips whose signal metrics fail the thresholds.

    Comparisons (a clip is dropped when): duration_s < min_duration_s → ``too_short``;
    duration_s > max_duration_s → ``too_long``; clipping_ratio > max_clipping_ratio →
    ``clipping``; rms_dbfs < min_rms_dbfs → ``too_quiet``; leading_silence_s >
    max_leading_silence_s or trailing_silence_s > max_trailing_silence_s → ``silence``;
    snr_db < min_snr_db → ``low_snr``. The first failing check names the reason.
    """

    name = "signal_filter"
    Params = SignalThresholds
    stage = "clip"

    def reason(self, utt: Utterance) -> str | None:
        m, c = utt.metrics, self.params
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

"""F0 sanity with Praat (parselmouth): voiced fraction and octave jumps of a clip's pitch track.

Adds ``f0_voiced_fraction`` (voiced 10 ms frames / all frames), ``f0_median_hz`` and
``f0_octave_jumps`` (the share of consecutive voiced frame pairs whose F0 changes by more than
``jump_ratio``, i.e. about an octave: a pitch-tracking or rendering glitch). Filter with
``metric_filter`` (``{metric: f0_octave_jumps, max: 0.05, reason: f0_jumps}``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from m5ser import audio
from m5ser.schema import Utterance
from m5ser.steps import Annotator

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class F0Params:
    floor_hz: float = 60.0  # Praat pitch floor
    ceiling_hz: float = 600.0  # Praat pitch ceiling
    jump_ratio: float = 1.8  # a frame-to-frame F0 ratio above this (or below its inverse) is a jump


def f0_metrics(samples: np.ndarray, params: F0Params) -> dict[str, float]:
    """Voiced fraction, median F0 and octave-jump share of one 16 kHz clip."""
    import parselmouth

    if len(samples) < int(0.1 * SAMPLE_RATE):
        return {"f0_voiced_fraction": 0.0, "f0_median_hz": 0.0, "f0_octave_jumps": 0.0}
    sound = parselmouth.Sound(np.asarray(samples, dtype=np.float64), sampling_frequency=SAMPLE_RATE)
    f0 = sound.to_pitch(time_step=0.01, pitch_floor=params.floor_hz, pitch_ceiling=params.ceiling_hz)
    values = f0.selected_array["frequency"]
    voiced = values > 0
    pairs = voiced[1:] & voiced[:-1]
    ratios = values[1:][pairs] / values[:-1][pairs]
    jumps = float(np.mean((ratios > params.jump_ratio) | (ratios < 1 / params.jump_ratio))) if len(ratios) else 0.0
    return {
        "f0_voiced_fraction": round(float(np.mean(voiced)) if len(values) else 0.0, 3),
        "f0_median_hz": round(float(np.median(values[voiced])) if voiced.any() else 0.0, 1),
        "f0_octave_jumps": round(jumps, 4),
    }


class F0Annotator(Annotator):
    """Adds F0 sanity metrics (Praat autocorrelation pitch, 10 ms frames)."""

    name = "f0"
    Params = F0Params
    stage = "clip"

    def measure(self, utt: Utterance) -> dict[str, Any]:
        return f0_metrics(audio.load(utt.audio_path, SAMPLE_RATE), self.params)

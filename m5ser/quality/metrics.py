"""Signal measurements of one clip: duration, clipping, level, silences, SNR."""

from __future__ import annotations

import numpy as np

FRAME_S = 0.025
HOP_S = 0.010
CLIP_LEVEL = 0.999
SILENCE_BELOW_PEAK_DB = 40.0  # a frame is silent when its energy is this far below the loudest frame
_EPS = 1e-10


def frame_energy_db(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mean-square energy per 25 ms frame (10 ms hop), in dBFS."""
    frame, hop = int(FRAME_S * sample_rate), int(HOP_S * sample_rate)
    if len(samples) < frame:
        samples = np.pad(samples, (0, frame - len(samples)))
    n = 1 + (len(samples) - frame) // hop
    squares = np.square(samples[: (n - 1) * hop + frame], dtype=np.float64)  # each sample squared once
    frames = np.lib.stride_tricks.sliding_window_view(squares, frame)[::hop]  # a view: no copy per frame
    return 10.0 * np.log10(frames.mean(axis=1) + _EPS)


def signal_metrics(samples: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Metrics the signal filters read. SNR is the 95th over the 10th percentile frame energy,
    capped at 100 dB (clean synthetic silence has no noise floor)."""
    samples = np.asarray(samples, dtype=np.float32)
    duration = len(samples) / sample_rate
    if len(samples) == 0:
        return {"duration_s": 0.0, "clipping_ratio": 0.0, "rms_dbfs": -100.0, "peak_dbfs": -100.0,
                "leading_silence_s": 0.0, "trailing_silence_s": 0.0, "snr_db": 0.0, "speech_ratio": 0.0}  # fmt: skip
    energy = frame_energy_db(samples, sample_rate)
    voiced = energy > energy.max() - SILENCE_BELOW_PEAK_DB
    first, last = np.argmax(voiced), len(voiced) - 1 - np.argmax(voiced[::-1])
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    magnitude = np.abs(samples)
    peak = float(np.max(magnitude))
    high, low = np.percentile(energy, [95, 10])
    snr = float(high - low)
    return {
        "duration_s": round(duration, 4),
        "clipping_ratio": round(float(np.mean(magnitude >= CLIP_LEVEL)), 6),
        "rms_dbfs": round(20 * np.log10(rms + _EPS), 2),
        "peak_dbfs": round(20 * np.log10(peak + _EPS), 2),
        "leading_silence_s": round(first * HOP_S, 3),
        "trailing_silence_s": round(max(0.0, duration - (last * HOP_S + FRAME_S)), 3),
        "snr_db": round(min(snr, 100.0), 2),
        "speech_ratio": round(float(np.mean(voiced)), 3),
    }

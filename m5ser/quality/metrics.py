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
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    return 10.0 * np.log10(np.mean(samples[idx].astype(np.float64) ** 2, axis=1) + _EPS)


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
    peak = float(np.max(np.abs(samples)))
    snr = float(np.percentile(energy, 95) - np.percentile(energy, 10))
    return {
        "duration_s": round(duration, 4),
        "clipping_ratio": round(float(np.mean(np.abs(samples) >= CLIP_LEVEL)), 6),
        "rms_dbfs": round(20 * np.log10(rms + _EPS), 2),
        "peak_dbfs": round(20 * np.log10(peak + _EPS), 2),
        "leading_silence_s": round(first * HOP_S, 3),
        "trailing_silence_s": round(max(0.0, duration - (last * HOP_S + FRAME_S)), 3),
        "snr_db": round(min(snr, 100.0), 2),
        "speech_ratio": round(float(np.mean(voiced)), 3),
    }

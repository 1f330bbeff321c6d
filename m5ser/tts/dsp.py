"""Engine-independent emotion rendering with praat-parselmouth.

Two layers, both driven by data in `manifests/emotions.yaml`:

- `apply_prosody`: the `rendering` rules (F0 level, F0 range, F0 contour, tempo, pauses,
  loudness) for engines without prosody controls (Piper, Kokoro, Pico, RHVoice, festival).
  F0 and tempo go through Praat's PSOLA (Manipulation → overlap-add resynthesis).
- `apply_voice_quality`: the `voice_quality` rules (spectral tilt coupled to loudness as a
  vocal-effort cue, aspiration noise, jitter, shimmer, phrase-final creak) for every engine,
  espeak-ng included. The clip's RMS level is kept: loudness is not a cue (corpora are
  level-normalized), spectral balance is.

Every random choice comes from the `seed` argument, so a clip renders the same way twice.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from scipy.signal import butter, sosfilt, sosfiltfilt

from m5ser.registry import require
from m5ser.schema import Prosody

RENDERING_VERSION = 3
"""Bumped whenever a change here changes rendered audio; part of every clip's audio key, so
work audio rendered by an older version is never reused."""

PITCH_FLOOR = 60.0  # Hz, lower bound of Praat's pitch search
PITCH_CEILING = 600.0  # Hz, upper bound of Praat's pitch search
PEAK_LIMIT = 0.98  # output peaks are scaled down to this
_PRAAT_RANDOM = threading.Lock()  # Praat's random generator is process-wide


@dataclass(frozen=True, slots=True)
class VoiceQuality:
    """Voice-quality shifts of one clip (already scaled by intensity)."""

    tilt_db: float = 0.0  # gain (dB) above 4 kHz vs below 1 kHz in the loudest frames; + = more effort
    breathiness: float = 0.0  # aspiration-noise RMS relative to the speech RMS, 0..1
    jitter: float = 0.0  # SD of the frame-to-frame F0 perturbation, percent
    shimmer: float = 0.0  # SD of the amplitude perturbation per 10 ms, percent
    creak: float = 0.0  # 0..1: phrase-final F0 drop with irregular periods

    def is_neutral(self) -> bool:
        return all(getattr(self, f.name) == 0 for f in fields(self))


def voice_quality_for(emotion: str, intensity: float, rules: Mapping[str, Mapping[str, Any]]) -> VoiceQuality:
    """The `voice_quality` rule of `emotion` scaled by `intensity` (0..1); no rule → neutral.

    >>> voice_quality_for("angry", 0.5, {"angry": {"tilt_db": 6, "jitter": 1}})
    VoiceQuality(tilt_db=3.0, breathiness=0.0, jitter=0.5, shimmer=0.0, creak=0.0)
    """
    rule = rules.get(emotion) or {}
    known = {f.name for f in fields(VoiceQuality)}
    unknown = set(rule) - known
    if unknown:
        raise ValueError(f"voice_quality.{emotion}: unknown {sorted(unknown)}; known {sorted(known)}")
    return VoiceQuality(**{k: float(v) * intensity for k, v in rule.items()})


def _semitones(percent: float) -> float:
    """A percent change of frequency in semitones (percent > -100)."""
    return 12.0 * math.log2(max(1.0 + percent / 100.0, 0.05))


def _contour_semitones(contour: list[list[float]], rel: np.ndarray) -> np.ndarray:
    if not contour:
        return np.zeros_like(rel)
    xs = np.array([p[0] for p in contour], dtype=float)
    ys = np.array([p[1] for p in contour], dtype=float)
    pct = np.interp(rel, xs, ys)
    return 12.0 * np.log2(np.maximum(1.0 + pct / 100.0, 0.05))


MAX_PERIOD = 0.02000000001  # s: longest period PSOLA treats as voiced (Praat's Manipulation constant)


def _pitch_tier(times: np.ndarray, f0: np.ndarray, xmin: float, xmax: float) -> Any:
    """A Praat PitchTier with a point (t, f) for every pair, built by one Praat script (a
    `praat.call` per point costs ~0.3 ms; `repr` keeps every float exactly)."""
    parselmouth = require("parselmouth", "tts")
    tier = parselmouth.praat.call("Create PitchTier", "f0", xmin, xmax)
    script = "\n".join(f"Add point: {t!r}, {f!r}" for t, f in zip(times.tolist(), f0.tolist(), strict=True))
    parselmouth.praat.run(tier, script)
    return tier


def manipulate(
    samples: np.ndarray,
    sr: int,
    *,
    pitch: float = 0.0,
    range_: float = 0.0,
    contour: list[list[float]] | None = None,
    rate: float = 0.0,
    jitter: float = 0.0,
    creak: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """PSOLA resynthesis with a new F0 track and tempo.

    `pitch`/`range_`/`rate` are SSML-style percent changes; `contour` is [[percent of the
    voiced span, percent F0 change], ...]; `jitter` is the SD of frame-level F0 noise in
    percent; `creak` (0..1) lowers and roughens the last voiced fifth of the utterance.
    """
    parselmouth = require("parselmouth", "tts")
    call = parselmouth.praat.call
    if samples.size == 0:
        return samples.astype(np.float32)
    snd = parselmouth.Sound(samples.astype(np.float64), sampling_frequency=float(sr))
    # One pitch analysis drives both the new F0 track and the glottal pulses (picked at the
    # waveform peaks of each period); `Manipulation` would add a second analysis and a
    # cross-correlation pulse search at several times the cost.
    pitch_obj = snd.to_pitch(time_step=0.01, pitch_floor=PITCH_FLOOR, pitch_ceiling=PITCH_CEILING)
    pulses = call([snd, pitch_obj], "To PointProcess (peaks)", "yes", "no")
    f0 = pitch_obj.selected_array["frequency"]
    times = pitch_obj.xs()
    voiced = f0 > 0
    if voiced.sum() < 2:
        return samples.astype(np.float32) if rate == 0 else _tempo_only(snd, rate)
    rng = np.random.default_rng(seed)
    t_v, f_v = times[voiced], f0[voiced]
    median = float(np.median(f_v))
    st = 12.0 * np.log2(f_v / median)
    span = max(t_v[-1] - t_v[0], 1e-3)
    rel = (t_v - t_v[0]) / span * 100.0
    factor = max(1.0 + range_ / 100.0, 0.1)
    new_st = _semitones(pitch) + st * factor + _contour_semitones(contour or [], rel)
    if jitter > 0:
        new_st += rng.normal(0.0, _semitones(jitter), size=new_st.shape)
    if creak > 0:
        tail = rel > 80.0
        ramp = (rel[tail] - 80.0) / 20.0
        new_st[tail] -= creak * 6.0 * ramp + np.abs(rng.normal(0.0, creak * 2.0, size=ramp.shape))
    new_f0 = np.clip(median * 2.0 ** (new_st / 12.0), 40.0, 900.0)
    tier = _pitch_tier(t_v, new_f0, snd.xmin, snd.xmax)
    return _overlap_add(snd, pulses, tier, rate, seed)


def _duration_tier(snd: Any, rate: float) -> Any:
    call = require("parselmouth", "tts").praat.call
    dur = call("Create DurationTier", "tempo", snd.xmin, snd.xmax)
    call(dur, "Add point", snd.xmin, 1.0 / max(1.0 + rate / 100.0, 0.2))
    return dur


def _overlap_add(snd: Any, pulses: Any, tier: Any, rate: float, seed: int) -> np.ndarray:
    """PSOLA: the sound's periods at `pulses`, moved to the F0 of `tier`, stretched by `rate`.

    Praat fills unvoiced stretches with randomly placed copies of the source, drawn from its
    process-wide generator: it is seeded from `seed` here (under a lock) and set back to
    unpredictable afterwards, so a clip renders the same way in any process.
    """
    praat = require("parselmouth", "tts").praat
    duration = _duration_tier(snd, rate)
    with _PRAAT_RANDOM:
        praat.run(f"random_initializeWithSeedUnsafelyButPredictably ({seed % 2**31})")
        try:
            out = praat.call([snd, pulses, tier, duration], "To Sound...", MAX_PERIOD)
        finally:
            praat.run("random_initializeSafelyAndUnpredictably ()")
    return np.asarray(out.values[0], dtype=np.float32)


def _tempo_only(snd: Any, rate: float) -> np.ndarray:
    """Tempo change of a sound with (almost) no voiced frames: its own F0 track, stretched."""
    call = require("parselmouth", "tts").praat.call
    manip = call(snd, "To Manipulation", 0.01, PITCH_FLOOR, PITCH_CEILING)
    call([manip, _duration_tier(snd, rate)], "Replace duration tier")
    return np.asarray(call(manip, "Get resynthesis (overlap-add)").values[0], dtype=np.float32)


def _frame_rms(samples: np.ndarray, hop: int) -> np.ndarray:
    n = len(samples) // hop
    frames = samples[: n * hop].reshape(n, hop) if n else np.zeros((0, hop), dtype=samples.dtype)
    return np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)


def insert_pauses(samples: np.ndarray, sr: int, pause_ms: int, *, min_gap_ms: int = 60) -> np.ndarray:
    """Lengthen every internal silence (≥ `min_gap_ms`, 35 dB under the loudest frame) by `pause_ms`."""
    if pause_ms <= 0 or samples.size == 0:
        return samples
    hop = max(1, sr // 100)
    rms = _frame_rms(samples, hop)
    if rms.size == 0:
        return samples
    silent = 20 * np.log10(rms / rms.max()) < -35.0
    voiced_idx = np.flatnonzero(~silent)
    if voiced_idx.size == 0:
        return samples
    first, last = voiced_idx[0], voiced_idx[-1]
    cuts: list[int] = []
    i = first
    while i <= last:
        if silent[i]:
            j = i
            while j <= last and silent[j]:
                j += 1
            if (j - i) * 10 >= min_gap_ms:
                cuts.append(((i + j) // 2) * hop)
            i = j
        else:
            i += 1
    if not cuts:
        return samples
    gap = np.zeros(int(sr * pause_ms / 1000), dtype=samples.dtype)
    pieces, prev = [], 0
    for c in cuts:
        pieces += [samples[prev:c], gap]
        prev = c
    pieces.append(samples[prev:])
    return np.concatenate(pieces)


def _match_rms(out: np.ndarray, ref: np.ndarray) -> np.ndarray:
    r_out = float(np.sqrt(np.mean(out.astype(np.float64) ** 2)))
    r_ref = float(np.sqrt(np.mean(ref.astype(np.float64) ** 2)))
    return out * (r_ref / r_out) if r_out > 0 else out


def _limit(samples: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    out = samples * (PEAK_LIMIT / peak) if peak > PEAK_LIMIT else samples
    return out.astype(np.float32)


def spectral_tilt(samples: np.ndarray, sr: int, tilt_db: float) -> np.ndarray:
    """Shelf gain `tilt_db` above 4 kHz (ramping in over 1–4 kHz), applied in full to the
    loudest frames and to 40 % in frames 40 dB down: louder syllables get brighter, as with
    real vocal effort. The RMS level is kept."""
    if tilt_db == 0 or samples.size == 0:
        return samples
    nper = 1 << round(math.log2(sr * 0.032))
    frames, window = _frames(samples, nper)
    # Hann frames at 50 % overlap already add up to a constant: more overlap buys nothing here.
    z = np.fft.rfft(frames * window, axis=1)
    f = np.fft.rfftfreq(nper, 1.0 / sr)
    shelf = np.clip(np.log2(np.maximum(f, 1.0) / 1000.0) / 2.0, 0.0, 1.0)
    level = 10 * np.log10(np.sum(np.abs(z / window.sum()) ** 2, axis=1) + 1e-12)  # per frame, as scipy's stft scales
    weight = 0.4 + 0.6 * np.clip((level - (level.max() - 40.0)) / 40.0, 0.0, 1.0)
    z *= 10 ** (tilt_db * weight[:, None] * shelf[None, :] / 20.0)
    y = _overlap_add_frames(np.fft.irfft(z, n=nper, axis=1) * window, window)
    return _match_rms(y[: samples.size].astype(np.float32), samples)


def _frames(samples: np.ndarray, nper: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames of `nper` samples at hop `nper // 2` over `samples` padded by `nper // 2` zeros at
    both ends (and at the end to a whole frame), and the periodic Hann window: the framing of
    `scipy.signal.stft(boundary="zeros", padded=True)`, without its per-call overhead."""
    hop = nper // 2
    n = samples.size + 2 * hop
    n_frames = max(1, -(-(n - nper) // hop) + 1)
    padded = np.zeros((n_frames - 1) * hop + nper, dtype=np.float64)
    padded[hop : hop + samples.size] = samples
    frames = np.lib.stride_tricks.sliding_window_view(padded, nper)[::hop]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(nper) / nper)
    return frames, window


def _overlap_add_frames(frames: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Overlap-add windowed frames at hop `nper // 2`, divided by the summed squared window,
    boundary padding removed (the inverse of `_frames`, as `scipy.signal.istft`)."""
    n_frames, nper = frames.shape
    hop = nper // 2
    out = np.zeros((n_frames + 1) * hop)
    norm = np.zeros_like(out)
    w2 = window**2
    for i in range(2):  # even frames, then odd frames: neither set overlaps itself
        sel = frames[i::2]
        start = i * hop
        span = sel.shape[0] * nper
        out[start : start + span] += sel.reshape(-1)
        norm[start : start + span] += np.tile(w2, sel.shape[0])
    return (out / np.where(norm > 1e-10, norm, 1.0))[hop:]


@functools.lru_cache(maxsize=32)
def _butter(order: int, band: float | tuple[float, float], btype: str, sr: int) -> np.ndarray:
    """A Butterworth design in second-order sections (designed once per band and rate)."""
    return butter(order, band, btype=btype, fs=sr, output="sos")


def _envelope(samples: np.ndarray, sr: int, cutoff_hz: float = 30.0) -> np.ndarray:
    """Amplitude envelope below `cutoff_hz`: |x| averaged over 2.5 ms blocks, low-passed with
    zero phase at the block rate, interpolated back to every sample."""
    block = max(1, sr // 400)
    n = -(-samples.size // block)
    padded = np.zeros(n * block)
    padded[: samples.size] = np.abs(samples)
    coarse = padded.reshape(n, block).mean(axis=1)
    rate = sr // block
    if n > 3 * 2 * 2:  # sosfiltfilt pads by 3 x the number of taps
        coarse = sosfiltfilt(_butter(2, cutoff_hz, "lowpass", rate), coarse)
    centres = (np.arange(n) + 0.5) * block
    return np.maximum(np.interp(np.arange(samples.size), centres, coarse), 0.0)


def add_breathiness(samples: np.ndarray, sr: int, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Mix in aspiration noise (band 1.5–7 kHz) that follows the speech envelope."""
    if amount <= 0 or samples.size == 0:
        return samples
    high = min(7000.0, sr / 2 * 0.9)
    sos = _butter(4, (1500.0, high), "bandpass", sr)
    noise = sosfilt(sos, rng.standard_normal(samples.size))  # white noise: phase is irrelevant
    env = _envelope(samples, sr)
    shaped = noise * env
    r_s = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    r_n = float(np.sqrt(np.mean(shaped**2)))
    if r_n == 0:
        return samples
    out = samples + (amount * r_s / r_n) * shaped
    return _match_rms(out.astype(np.float32), samples)


def add_shimmer(samples: np.ndarray, sr: int, percent: float, rng: np.random.Generator) -> np.ndarray:
    """Random amplitude perturbation with SD `percent`, one value per 10 ms, smoothly interpolated."""
    if percent <= 0 or samples.size == 0:
        return samples
    hop = max(1, sr // 100)
    knots = 1.0 + rng.normal(0.0, percent / 100.0, size=samples.size // hop + 2)
    gain = np.interp(np.arange(samples.size) / hop, np.arange(knots.size), np.clip(knots, 0.2, 2.0))
    return (samples * gain).astype(np.float32)


def contour_of(prosody: Prosody) -> list[list[float]]:
    """The clip's F0 contour targets as [[percent of utterance, F0 percent], ...]."""
    return [[float(x), float(y)] for x, y in prosody.contour_points]


def apply_prosody(samples: np.ndarray, sr: int, prosody: Prosody) -> np.ndarray:
    """Render an emotion's prosody onto neutral speech: pauses, F0 level/range/contour,
    tempo and loudness (engines that set the rate natively pass ``rate=0``)."""
    out = insert_pauses(samples.astype(np.float32), sr, prosody.pause_ms)
    out = manipulate(out, sr, pitch=prosody.pitch, range_=prosody.range, contour=contour_of(prosody), rate=prosody.rate)
    out = out * max(1.0 + prosody.volume / 100.0, 0.05)
    return _limit(out)


def apply_voice_quality(samples: np.ndarray, sr: int, quality: VoiceQuality, *, seed: int = 0) -> np.ndarray:
    """Render voice-quality cues (jitter, creak, spectral tilt, breathiness, shimmer); RMS kept."""
    if quality.is_neutral() or samples.size == 0:
        return samples.astype(np.float32)
    rng = np.random.default_rng(seed)
    out = samples.astype(np.float32)
    if quality.jitter > 0 or quality.creak > 0:
        out = _match_rms(manipulate(out, sr, jitter=quality.jitter, creak=quality.creak, seed=seed), samples)
    out = spectral_tilt(out, sr, quality.tilt_db)
    out = add_breathiness(out, sr, quality.breathiness, rng)
    out = add_shimmer(out, sr, quality.shimmer, rng)
    return _limit(out)


@dataclass(frozen=True, slots=True)
class Measures:
    """Prosodic measurements of one clip (for tests and benches)."""

    f0_mean_hz: float  # mean F0 over voiced frames (0 if none)
    f0_range_st: float  # 5th-95th percentile F0 span, semitones
    speech_s: float  # duration of frames within 35 dB of the loudest (pauses excluded)
    duration_s: float


def measure(samples: np.ndarray, sr: int) -> Measures:
    """F0 level and range (Praat autocorrelation pitch) and active-speech duration."""
    parselmouth = require("parselmouth", "tts")
    duration = samples.size / sr
    hop = max(1, sr // 100)
    rms = _frame_rms(samples, hop)
    speech_s = float(np.sum(20 * np.log10(rms / rms.max()) > -35.0)) * hop / sr if rms.size else 0.0
    snd = parselmouth.Sound(samples.astype(np.float64), sampling_frequency=float(sr))
    f0 = snd.to_pitch(time_step=0.01, pitch_floor=PITCH_FLOOR, pitch_ceiling=PITCH_CEILING).selected_array["frequency"]
    f0 = f0[f0 > 0]
    if f0.size < 2:
        return Measures(0.0, 0.0, speech_s, duration)
    lo, hi = np.percentile(f0, [5, 95])
    return Measures(float(f0.mean()), float(12 * np.log2(hi / lo)), speech_s, duration)

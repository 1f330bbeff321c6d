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
import scipy.fft
from scipy.signal import butter, sosfilt, sosfilt_zi

from m5ser.registry import require
from m5ser.schema import Prosody

RENDERING_VERSION = 6
"""Bumped whenever a change here changes rendered audio; part of every clip's audio key, so
work audio rendered by an older version is never reused."""

PITCH_FLOOR = 60.0  # Hz, lower bound of Praat's pitch search
KNOT_STEP = 0.01  # s, spacing of the new F0 track's points (and of jitter's F0 noise)
VOICE_QUALITY_PITCH_FLOOR = 75.0
"""Hz, the pitch floor of the jitter/creak pass (Praat's default). Its analysis window is three
periods of the floor: 40 ms instead of 50 ms halves the FFT at 16 kHz and cuts the pitch analysis
by ~25 %; ~3 % of the voiced frames of espeak's German clips lie under it, which keep their
original periods (no jitter) instead."""
VOICE_QUALITY_PITCH_STEP = 0.04
"""s, the pitch analysis step of the jitter/creak pass: a quarter of the frames of a 10 ms analysis,
half the pitch analysis of the 20 ms step of rendering version 5 (the pass: ~0.7x its time); the
analysis window (three periods of the 75 Hz floor, 40 ms) still covers every sample. The F0 track
is interpolated back to KNOT_STEP points, so jitter keeps its rate (bench/jitter_pass.py compares
time, added jitter, F0 and F0 range of the 10 ms, 20 ms and 40 ms analyses)."""
VOICE_QUALITY_PITCH_CANDIDATES = 4
"""Pitch candidates per frame of the jitter/creak pass (Praat's default: 15): ~15 % less pitch
analysis; on the mini recipe's 1,604 clips (8 languages) 1,595 F0 tracks are identical to 15
candidates' and 0.006 % of the frames differ (octave choices)."""
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
    pitch_floor: float = PITCH_FLOOR,
    pitch_step: float = KNOT_STEP,
    pitch_candidates: int = 15,
) -> np.ndarray:
    """PSOLA resynthesis with a new F0 track and tempo.

    `pitch`/`range_`/`rate` are SSML-style percent changes; `contour` is [[percent of the
    voiced span, percent F0 change], ...]; `jitter` is the SD of frame-level F0 noise in
    percent; `creak` (0..1) lowers and roughens the last voiced fifth of the utterance;
    `pitch_floor` (Hz), `pitch_step` (s) and `pitch_candidates` (per frame) set the pitch
    analysis (Praat's autocorrelation method) that drives the periods; the
    new F0 track has a point every KNOT_STEP in voiced stretches whatever the analysis step.
    """
    parselmouth = require("parselmouth", "tts")
    if samples.size == 0:
        return samples.astype(np.float32)
    snd = parselmouth.Sound(samples.astype(np.float64), sampling_frequency=float(sr))
    # One pitch analysis drives both the new F0 track and the glottal pulses (picked at the
    # waveform peaks of each period); `Manipulation` would add a second analysis and a
    # cross-correlation pulse search at several times the cost.
    pitch_obj = snd.to_pitch_ac(
        time_step=pitch_step,
        pitch_floor=pitch_floor,
        max_number_of_candidates=pitch_candidates,
        pitch_ceiling=PITCH_CEILING,
    )
    f0 = pitch_obj.selected_array["frequency"]
    times = pitch_obj.xs()
    voiced = f0 > 0
    if voiced.sum() < 2:
        return samples.astype(np.float32) if rate == 0 else _tempo_only(snd, rate)
    rng = np.random.default_rng(seed)
    t_v, f_v = _knots(times, f0, round(pitch_step / KNOT_STEP))
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
    return _overlap_add(snd, pitch_obj, t_v, new_f0, rate, seed)


def _knots(times: np.ndarray, f0: np.ndarray, per_frame: int) -> tuple[np.ndarray, np.ndarray]:
    """(times, F0) of the voiced frames (`f0 > 0`), with `per_frame - 1` more points evenly
    spaced between each two adjacent voiced frames (F0 interpolated in log frequency)."""
    voiced = f0 > 0
    t_v, f_v = times[voiced], f0[voiced]
    if per_frame <= 1:
        return t_v, f_v
    pairs = np.flatnonzero(voiced[:-1] & voiced[1:])
    frac = np.arange(1, per_frame)[None, :] / per_frame
    t_in = times[pairs, None] + frac * (times[pairs + 1, None] - times[pairs, None])
    log_f = np.log(f0[pairs, None]) + frac * (np.log(f0[pairs + 1, None]) - np.log(f0[pairs, None]))
    t_all = np.concatenate([t_v, t_in.ravel()])
    order = np.argsort(t_all, kind="stable")
    return t_all[order], np.concatenate([f_v, np.exp(log_f).ravel()])[order]


def _duration_tier(snd: Any, rate: float) -> Any:
    call = require("parselmouth", "tts").praat.call
    dur = call("Create DurationTier", "tempo", snd.xmin, snd.xmax)
    call(dur, "Add point", snd.xmin, 1.0 / max(1.0 + rate / 100.0, 0.2))
    return dur


def _overlap_add(snd: Any, pitch: Any, times: np.ndarray, f0: np.ndarray, rate: float, seed: int) -> np.ndarray:
    """PSOLA: the sound's periods (glottal pulses at the waveform peak of each period of `pitch`),
    moved to a PitchTier with a point (t, f) for every pair of `times` and `f0`, stretched by `rate`.

    One Praat script does it all: every `praat.call` or `praat.run` costs ~0.2 ms of interpreter
    start-up, as much as the pulses themselves (`repr` keeps every float exactly in the script).
    Praat fills unvoiced stretches with randomly placed copies of the source, drawn from its
    process-wide generator: it is seeded from `seed` here (under a lock) and set back to
    unpredictable afterwards, so a clip renders the same way in any process.
    """
    praat = require("parselmouth", "tts").praat
    xmin, xmax = snd.xmin, snd.xmax
    script = "\n".join(
        [
            'sound = selected("Sound")',
            'pitch = selected("Pitch")',
            "selectObject: sound, pitch",
            'pulses = To PointProcess (peaks): "yes", "no"',
            f'tier = Create PitchTier: "f0", {xmin!r}, {xmax!r}',
            *(f"Add point: {t!r}, {f!r}" for t, f in zip(times.tolist(), f0.tolist(), strict=True)),
            f'duration = Create DurationTier: "tempo", {xmin!r}, {xmax!r}',
            f"Add point: {xmin!r}, {1.0 / max(1.0 + rate / 100.0, 0.2)!r}",
            "selectObject: sound, pulses, tier, duration",
            f"random_initializeWithSeedUnsafelyButPredictably ({seed % 2**31})",
            f"To Sound: {MAX_PERIOD!r}",
            "random_initializeSafelyAndUnpredictably ()",
        ]
    )
    with _PRAAT_RANDOM:
        try:
            out = praat.run([snd, pitch], script)
        except BaseException:
            praat.run("random_initializeSafelyAndUnpredictably ()")
            raise
    return np.asarray(out[0].values[0], dtype=np.float32)


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
    real vocal effort. The RMS level is kept. Computed in float32 with `scipy.fft` (which
    transforms float32 natively, at ~0.6x the time of float64; numpy 2.4's float32 `rfft` takes
    longer than its float64 one); the output is float32 anyway."""
    if tilt_db == 0 or samples.size == 0:
        return samples
    nper = 1 << round(math.log2(sr * 0.032))
    frames, window = _frames(samples, nper)
    # Hann frames at 50 % overlap already add up to a constant: more overlap buys nothing here.
    z = scipy.fft.rfft(frames * window, axis=1)
    f = np.fft.rfftfreq(nper, 1.0 / sr)
    shelf = np.clip(np.log2(np.maximum(f, 1.0) / 1000.0) / 2.0, 0.0, 1.0)
    power = np.einsum("ij,ij->i", z.real, z.real) + np.einsum("ij,ij->i", z.imag, z.imag)
    # per frame, as scipy's stft scales
    level = 10 * np.log10(power.astype(np.float64) / float(window.sum()) ** 2 + 1e-12)
    weight = 0.4 + 0.6 * np.clip((level - (level.max() - 40.0)) / 40.0, 0.0, 1.0)
    ramp = slice(int(np.searchsorted(shelf, 0.0, side="right")), int(np.searchsorted(shelf, 1.0)))  # 1-4 kHz
    neper = (tilt_db * math.log(10.0) / 20.0 * weight).astype(np.float32)  # the full shelf's gain, as a natural log
    z[:, ramp] *= np.exp(neper[:, None] * shelf[ramp].astype(np.float32)[None, :])
    z[:, ramp.stop :] *= np.exp(neper)[:, None]  # the full shelf: one gain per frame
    # (bins under 1 kHz keep a gain of 1)
    y = _overlap_add_frames(scipy.fft.irfft(z, n=nper, axis=1) * window, window)
    return _match_rms(y[: samples.size], samples).astype(np.float32, copy=False)


def _frames(samples: np.ndarray, nper: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames of `nper` samples at hop `nper // 2` over `samples` padded by `nper // 2` zeros at
    both ends (and at the end to a whole frame), and the periodic Hann window: the framing of
    `scipy.signal.stft(boundary="zeros", padded=True)`, without its per-call overhead."""
    hop = nper // 2
    n = samples.size + 2 * hop
    n_frames = max(1, -(-(n - nper) // hop) + 1)
    padded = np.zeros((n_frames - 1) * hop + nper, dtype=np.float32)
    padded[hop : hop + samples.size] = samples
    frames = np.lib.stride_tricks.sliding_window_view(padded, nper)[::hop]
    return frames, _hann(nper)


@functools.lru_cache(maxsize=8)
def _hann(nper: int) -> np.ndarray:
    """The periodic Hann window of `nper` samples (float32), computed once per length."""
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(nper) / nper)).astype(np.float32)
    window.flags.writeable = False
    return window


def _overlap_add_frames(frames: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Overlap-add windowed frames at hop `nper // 2`, divided by the summed squared window,
    boundary padding removed (the inverse of `_frames`, as `scipy.signal.istft`)."""
    n_frames, nper = frames.shape
    hop = nper // 2
    # hop-long blocks: block j = first half of frame j + second of j - 1
    out = np.zeros((n_frames + 1, hop), dtype=frames.dtype)
    out[:-1] = frames[:, :hop]
    out[1:] += frames[:, hop:]
    w2 = window**2
    both = w2[:hop] + w2[hop:]
    out[1:-1] /= np.where(both > 1e-10, both, 1.0)
    out[-1] /= np.where(w2[hop:] > 1e-10, w2[hop:], 1.0)  # the last block lies under one frame only
    return out.reshape(-1)[hop:]  # (so does the first: it is all padding)


@functools.lru_cache(maxsize=32)
def _butter(order: int, band: float | tuple[float, float], btype: str, sr: int) -> np.ndarray:
    """A Butterworth design in second-order sections (designed once per band and rate)."""
    return butter(order, band, btype=btype, fs=sr, output="sos")


@functools.lru_cache(maxsize=32)
def _butter_zi(order: int, band: float | tuple[float, float], btype: str, sr: int) -> np.ndarray:
    """The steady-state initial conditions (`sosfilt_zi`) of `_butter(...)`, computed once per design."""
    zi = sosfilt_zi(_butter(order, band, btype, sr))
    zi.flags.writeable = False
    return zi


def _filtfilt(x: np.ndarray, order: int, band: float | tuple[float, float], btype: str, sr: int) -> np.ndarray:
    """`scipy.signal.sosfiltfilt(_butter(order, band, btype, sr), x)` for 1-D `x`, the same numbers
    (odd extension by 3 x the number of taps, steady-state initial conditions scaled by the first
    sample of each pass), the initial conditions solved for once per design (`_butter_zi`) instead
    of on every call."""
    sos = _butter(order, band, btype, sr)
    edge = 3 * (2 * sos.shape[0] + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum())))
    if x.size <= edge:
        raise ValueError(f"zero-phase filtering needs more than {edge} samples, got {x.size}")
    ext = np.concatenate((2 * x[:1] - x[edge:0:-1], x, 2 * x[-1:] - x[-2 : -(edge + 2) : -1]))
    zi = _butter_zi(order, band, btype, sr)
    y, _ = sosfilt(sos, ext, zi=zi * ext[:1])
    y, _ = sosfilt(sos, y[::-1], zi=zi * y[-1:])
    return y[::-1][edge:-edge]


def _envelope(samples: np.ndarray, sr: int, cutoff_hz: float = 30.0) -> np.ndarray:
    """Amplitude envelope below `cutoff_hz` (float32): |x| averaged over 2.5 ms blocks, low-passed
    with zero phase at the block rate, linearly interpolated between the block centres back to
    every sample (held flat before the first centre and after the last)."""
    block = max(1, sr // 400)
    n = -(-samples.size // block)
    padded = np.zeros(n * block, dtype=np.float32)
    np.abs(samples, out=padded[: samples.size])
    coarse = padded.reshape(n, block).mean(axis=1, dtype=np.float64)
    rate = sr // block
    if n > 3 * 2 * 2:  # sosfiltfilt pads by 3 x the number of taps
        coarse = _filtfilt(coarse, 2, cutoff_hz, "lowpass", rate)
    coarse = coarse.astype(np.float32)
    half = -(-block // 2)  # the first sample at or after the first block's centre (block / 2)
    env = np.empty(n * block + half, dtype=np.float32)
    env[:half] = coarse[0]
    steps = ((np.arange(block) + (half - block / 2)) / block).astype(np.float32)  # past a centre, in blocks
    ramps = env[half : half + (n - 1) * block].reshape(n - 1, block)
    np.multiply(np.diff(coarse)[:, None], steps[None, :], out=ramps)
    ramps += coarse[:-1, None]
    env[half + (n - 1) * block :] = coarse[-1]
    return np.maximum(env[: samples.size], 0.0, out=env[: samples.size])  # the low-pass may undershoot


def add_breathiness(samples: np.ndarray, sr: int, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Mix in aspiration noise (band 1.5–7 kHz) that follows the speech envelope. The source is
    float32 uniform white noise (a quarter of the cost of normal deviates; the band-pass makes it
    Gaussian and its level is set from its RMS), far above float32's rounding."""
    if amount <= 0 or samples.size == 0:
        return samples
    high = min(7000.0, sr / 2 * 0.9)
    sos = _butter(4, (1500.0, high), "bandpass", sr).astype(np.float32)
    white = rng.random(samples.size, dtype=np.float32)
    white -= np.float32(0.5)  # zero mean: no start-up transient of the band-pass
    noise = sosfilt(sos, white)  # white noise: phase is irrelevant
    shaped = noise * _envelope(samples, sr)
    r_s = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    r_n = float(np.sqrt(np.mean(np.square(shaped, dtype=np.float64))))
    if r_n == 0:
        return samples
    out = samples + np.float32(amount * r_s / r_n) * shaped
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
        shaken = manipulate(
            out,
            sr,
            jitter=quality.jitter,
            creak=quality.creak,
            seed=seed,
            pitch_floor=VOICE_QUALITY_PITCH_FLOOR,
            pitch_step=VOICE_QUALITY_PITCH_STEP,
            pitch_candidates=VOICE_QUALITY_PITCH_CANDIDATES,
        )
        out = _match_rms(shaken, samples)
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

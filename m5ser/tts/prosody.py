"""Per-clip emotion prosody: the emotion's preset scaled by intensity, plus seeded jitter."""

from __future__ import annotations

import hashlib

import numpy as np

from m5ser.config import EmotionSpec
from m5ser.schema import Prosody, Voice

_NUMERIC = ("rate", "pitch", "range", "volume")
_LIMITS = {"rate": (-60.0, 150.0), "pitch": (-60.0, 150.0), "range": (-90.0, 250.0), "volume": (-80.0, 100.0)}


def clip_rng(seed: int, utt_id: str) -> np.random.Generator:
    """A generator that depends only on the recipe seed and the clip id (order-free)."""
    digest = hashlib.blake2b(f"{seed}:{utt_id}".encode(), digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(digest, "little"))


def render(spec: EmotionSpec, emotion: str, intensity: float, voice: Voice, rng: np.random.Generator) -> Prosody:
    """Prosody for one clip: preset × intensity + N(0, jitter) + the speaker's offsets."""
    preset = spec.rendering[emotion]
    values = {}
    for key in _NUMERIC:
        value = float(preset.get(key, 0.0)) * intensity + rng.normal(0.0, float(spec.jitter.get(key, 0.0)))
        if key == "pitch":
            value += voice.pitch_offset
        elif key == "rate":
            value += voice.rate_offset
        low, high = _LIMITS[key]
        values[key] = round(float(np.clip(value, low, high)), 1)
    pause = round(float(preset.get("pause_ms", 0)) * intensity)
    name = str(preset.get("contour", "flat"))
    points = tuple((float(x), round(float(y) * intensity, 1)) for x, y in spec.contours.get(name, []))
    return Prosody(pause_ms=pause, contour=name, contour_points=points, emotion=emotion, **values)

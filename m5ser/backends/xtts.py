"""Coqui XTTS-v2 (`coqui-tts`, imports as `TTS`): the hub backend for users with a GPU.

Not built yet: it needs its own environment (torchaudio → torch 2.9.x, `.venv-xtts`) and a
test on a tiny random-weight model built from a config. Until then it refuses to run
instead of pretending.
"""

from __future__ import annotations

import numpy as np

from m5ser.backends.base import Prosody, Voice


class XTTSSynthesizer:
    """Placeholder for the XTTS-v2 backend (voice cloning from per-emotion reference clips)."""

    name = "xtts"

    def __init__(self, **_options: object) -> None:
        raise NotImplementedError("xtts: the XTTS-v2 backend (coqui-tts) is not implemented yet")

    def synthesize(self, text: str, voice: Voice, prosody: Prosody) -> tuple[np.ndarray, int]:
        raise NotImplementedError("xtts: the XTTS-v2 backend (coqui-tts) is not implemented yet")

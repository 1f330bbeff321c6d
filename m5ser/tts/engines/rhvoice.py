"""RHVoice (`RHVoice-test`, Debian non-free `rhvoice` + `rhvoice-russian`/`rhvoice-english`).

Statistical-parametric voices, 24 kHz: Russian (aleksandr, anna, elena, irina, …) and
English (alan, bdl, clb, slt). Licences differ per voice (LGPL-2.1+, CC-BY-SA-4.0,
CC-BY-NC-ND-4.0): see the speaker bank. Emotion prosody is rendered by `m5ser.tts.dsp`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from m5ser.registry import MissingDependencyError
from m5ser.schema import Prosody, Voice
from m5ser.tts import dsp
from m5ser.tts.engines.cli import require_program, run_to_wav

VOICES_DIR = Path("/usr/share/RHVoice/voices")


class RHVoiceSynthesizer:
    """RHVoice; `Voice.voice` is the voice's directory name, e.g. ``aleksandr``."""

    name = "rhvoice"

    def __init__(self) -> None:
        self.program = require_program("RHVoice-test", "rhvoice")

    def synthesize(self, text: str, voice: Voice, prosody: Prosody) -> tuple[np.ndarray, int]:
        if not (VOICES_DIR / voice.voice).is_dir():
            raise MissingDependencyError(
                f"RHVoice voice '{voice.voice}' is not installed (rhvoice-russian / rhvoice-english)"
            )
        samples, sr = run_to_wav([self.program, "-p", voice.voice, "-o", "{out}"], stdin=text.encode("utf-8"))
        return dsp.apply_prosody(samples, sr, prosody), sr

"""Festival (`text2wave`, Debian main): diphone/cluster-unit voices for it (lp female, pc
male), en (kal, rab), es (el), ru (msu_ru_nsh). Older voices read Latin-1 text: set
`options: {encoding: latin-1}` in the speaker bank. Emotion prosody is rendered by `m5ser.tts.dsp`."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from m5ser.schema import Prosody, Voice
from m5ser.tts import dsp
from m5ser.tts.engines.cli import require_program, run_to_wav

_TYPOGRAPHY = str.maketrans(
    {"’": "'", "‘": "'", "“": '"', "”": '"', "«": '"', "»": '"', "—": "-", "–": "-", "…": "..."}
)


class FestivalSynthesizer:
    """Festival; `Voice.voice` is the voice's Scheme name without ``voice_``, e.g. ``lp_diphone``."""

    name = "festival"

    def __init__(self) -> None:
        self.program = require_program("text2wave", "festival")

    def synthesize(self, text: str, voice: Voice, prosody: Prosody) -> tuple[np.ndarray, int]:
        encoding = str(voice.options.get("encoding", "utf-8"))
        try:
            data = text.translate(_TYPOGRAPHY).encode(encoding)
        except UnicodeEncodeError as e:
            raise ValueError(f"festival voice '{voice.voice}' reads {encoding}: {text!r}") from e
        with tempfile.TemporaryDirectory(prefix="m5ser-festival-") as tmp:
            path = Path(tmp) / "text.txt"
            path.write_bytes(data)
            cmd = [self.program, "-eval", f"(voice_{voice.voice})", "-o", "{out}", str(path)]
            samples, sr = run_to_wav(cmd)
        return dsp.apply_prosody(samples, sr, prosody), sr

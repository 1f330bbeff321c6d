"""MBROLA diphone voices driven by Debian's espeak-ng (1.51) front end.

espeak-ng does the text analysis, rate, volume and pauses (SSML from `m5ser.tts.ssml`, reading
the voice options `text_units` and `script` as the espeak engine does; pauses join phrases
synthesized one by one) and hands phonemes with durations and F0 targets to the `mbrola` binary.
The PyPI libespeak-ng (1.52) ships no MBROLA tables, so this backend runs Debian's `espeak-ng`
program. Voices: `mb-de1`, `mb-fr4`, `mb-us2`, …
(Debian non-free packages `mbrola-<name>`; licence: MBROLA non-commercial).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from m5ser.registry import MissingDependencyError
from m5ser.schema import Prosody, Voice
from m5ser.tts import dsp
from m5ser.tts.engines.cli import parse_wav, require_program, run
from m5ser.tts.ssml import TextOptions, build_ssml, split_phrases

MBROLA_DIR = Path("/usr/share/mbrola")


class MbrolaSynthesizer:
    """MBROLA voices; `Voice.voice` is espeak-ng's name for it, e.g. ``mb-de1``."""

    name = "mbrola"

    def __init__(self) -> None:
        self.espeak = require_program("espeak-ng", "espeak-ng")
        require_program("mbrola", "mbrola")

    @staticmethod
    def database(voice_name: str) -> str:
        """The MBROLA database a voice name uses: ``mb-de1`` → ``de1``, ``mb-de1-en`` → ``de1``."""
        return voice_name.removeprefix("mb-").split("-")[0]

    def synthesize(self, text: str, voice: Voice, prosody: Prosody) -> tuple[np.ndarray, int]:
        db = self.database(voice.voice)
        if not (MBROLA_DIR / db).exists():
            raise MissingDependencyError(
                f"MBROLA voice '{db}' is not installed; install the Debian package 'mbrola-{db}'"
            )
        # espeak-ng's SSML pitch/range barely reach MBROLA's F0 (measured: ±1 %), so F0 level,
        # range and contour go through `m5ser.tts.dsp`; rate, volume and pauses stay in espeak.
        ssml_prosody = replace(prosody, pitch=0.0, range=0.0)
        options = TextOptions.of(voice.options)
        text = options.prepare(text)
        phrases = split_phrases(text) if prosody.pause_ms > 0 else [text]
        pieces: list[np.ndarray] = []
        sr = 16000
        for phrase in phrases:
            ssml = build_ssml(phrase, ssml_prosody, [], units=options.units).encode("utf-8")
            cmd = [self.espeak, "-v", voice.voice, "-m", "--stdin", "--stdout"]
            samples, sr = parse_wav(run(cmd, stdin=ssml))
            if pieces:
                pieces.append(np.zeros(int(sr * prosody.pause_ms / 1000), dtype=np.float32))
            pieces.append(samples)
        samples = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
        contour = dsp.contour_of(prosody)
        return dsp.manipulate(samples, sr, pitch=prosody.pitch, range_=prosody.range, contour=contour), sr

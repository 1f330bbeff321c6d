"""espeak-ng synthesizer driven through libespeak-ng 1.52 (from `espeakng-loader`).

The library is called in-process through ctypes (`m5ser.tts.engines.libespeak`; one fork per
clip). It is the same engine for every language, including tonal Mandarin (`cmn`), which
Debian's 1.51 lacks. Emotion prosody arrives as SSML (`m5ser.tts.ssml`): rate/pitch/range/volume
on the whole sentence and the F0 contour as pitch steps over groups of text units; pauses are
silence inserted between phrases. The voice options `text_units` and `script` (set per language
in the speaker bank) say how the text is split and which script is read.
"""

from __future__ import annotations

import numpy as np

from m5ser.schema import Prosody, Voice
from m5ser.tts.engines import libespeak
from m5ser.tts.ssml import TextOptions, build_ssml, split_phrases


class EspeakSynthesizer:
    """espeak-ng voices and variants; `Voice.voice` is e.g. ``de`` or ``de+m3``."""

    name = "espeak"

    def __init__(self) -> None:
        self.engine = libespeak.LibEspeak.get()

    @property
    def sample_rate(self) -> int:
        return self.engine.sample_rate

    @staticmethod
    def known_voices() -> set[str]:
        """Voice names libespeak-ng 1.52 answers to, lower case (language files: ``de``, ``en-us``)."""
        return libespeak.known_voices()

    def synthesize(self, text: str, voice: Voice, prosody: Prosody) -> tuple[np.ndarray, int]:
        options = TextOptions.of(voice.options)
        text = options.prepare(text)
        contour = [list(p) for p in prosody.contour_points]
        sr = self.engine.sample_rate
        if prosody.pause_ms <= 0:
            return self.engine.synthesize(build_ssml(text, prosody, contour, units=options.units), voice.voice), sr
        # Pauses: each phrase is synthesized alone and joined with silence. (SSML <break>
        # in libespeak-ng 1.52 leaks a slower rate into later calls, so it is not used.)
        gap = np.zeros(int(sr * prosody.pause_ms / 1000), dtype=np.float32)
        pieces: list[np.ndarray] = []
        for phrase in split_phrases(text):
            if pieces:
                pieces.append(gap)
            ssml = build_ssml(phrase, prosody, contour, units=options.units)
            pieces.append(self.engine.synthesize(ssml, voice.voice))
        return (np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)), sr

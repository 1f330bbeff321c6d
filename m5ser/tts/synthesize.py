"""Synthesis step: text + voice + prosody → a 16 kHz PCM16 WAV in the work folder."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from m5ser import audio
from m5ser import registry as base
from m5ser.registry import Synthesizer
from m5ser.schema import SAMPLE_RATE, Prosody, Utterance, Voice
from m5ser.steps import MapStep

log = logging.getLogger(__name__)


class Synthesize(MapStep):
    """Renders each kept Utterance, resamples to 16 kHz, adds the emotion's voice-quality cues
    (`voice_quality` rules of emotions.yaml, when given) and trims engine silence at both ends
    (keeping 100 ms). An existing WAV (written atomically) is reused on resume.

    A clip whose synthesis keeps failing after `retries` attempts is dropped with reason
    ``tts_error``; the rest of the run continues.
    """

    name = "synthesize"

    def __init__(
        self,
        audio_dir: Path,
        voices: dict[str, Voice],
        engine_options: dict[str, dict] | None = None,
        retries: int = 2,
        factory: Callable[[str], Synthesizer] | None = None,
        voice_quality: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.audio_dir = Path(audio_dir)
        self.voices = voices
        self.engine_options = engine_options or {}
        self.retries = retries
        self.factory = factory or (lambda name: base.create("synthesizer", name, **self.engine_options.get(name, {})))
        self.voice_quality = voice_quality or {}
        self._engines: dict[str, Synthesizer] = {}
        self.calls = 0  # engine calls made (resumed clips make none)

    def engine(self, name: str) -> Synthesizer:
        if name not in self._engines:
            self._engines[name] = self.factory(name)
        return self._engines[name]

    def finish(self, utt: Utterance, samples: np.ndarray) -> np.ndarray:
        """Voice-quality cues of the clip's emotion (engine-independent), then edge trimming."""
        if self.voice_quality:
            from m5ser.tts import dsp  # parselmouth: imported only when voice quality is rendered

            quality = dsp.voice_quality_for(utt.emotion, utt.intensity, self.voice_quality)
            samples = dsp.apply_voice_quality(samples, SAMPLE_RATE, quality, seed=int(utt.id[:8], 16))
        return audio.trim_silence(samples, SAMPLE_RATE)

    def process(self, utt: Utterance) -> list[Utterance]:
        path = self.audio_dir / f"{utt.id}.wav"
        if not path.exists():
            voice = self.voices[utt.speaker_id]
            prosody = Prosody(**utt.prosody)
            for attempt in range(self.retries + 1):
                try:
                    self.calls += 1
                    samples, sr = self.engine(voice.engine).synthesize(utt.text, voice, prosody)
                    break
                except (RuntimeError, ValueError, OSError) as e:
                    log.warning("synthesis of %s failed (attempt %d): %s", utt.id, attempt + 1, e)
                    if attempt == self.retries:
                        utt.drop_reason = "tts_error"
                        utt.metrics["tts_error"] = str(e)
                        return [utt]
                    time.sleep(0.1 * 2**attempt)
            audio.write_wav(path, self.finish(utt, audio.resample(samples, sr, SAMPLE_RATE)))
        info = audio.sf.info(str(path))
        utt.audio_path = str(path)
        utt.sample_rate = info.samplerate
        utt.duration_s = round(info.frames / info.samplerate, 4)
        return [utt]

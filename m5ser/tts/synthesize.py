"""Synthesis step: text + voice + prosody → a 16 kHz PCM16 WAV in the work folder."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from m5ser import audio, registry
from m5ser.config import check_range
from m5ser.registry import Synthesizer
from m5ser.schema import SAMPLE_RATE, Prosody, Utterance
from m5ser.steps import MapStep, StepContext
from m5ser.tts import dsp  # parselmouth itself is imported only when audio is rendered

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SynthesizeParams:
    voice_quality: bool = True  # render the emotion's voice_quality cues of emotions.yaml after synthesis
    retries: int = 2  # attempts after the first before a clip is dropped as ``tts_error``

    def __post_init__(self) -> None:
        check_range(self, "retries", low=0)


class Synthesize(MapStep):
    """Renders each kept Utterance with its speaker's engine into ``work/<lang>/audio/<key>.wav``:
    resampled to 16 kHz, engine silence trimmed at both ends (`m5ser.audio.trim_silence`), the
    emotion's voice-quality cues added (``voice_quality: true``) and the edges trimmed again. The
    file name is the clip's audio key (`audio_key`: a hash of everything that determines the
    audio); an existing WAV (written atomically) with that key is reused on resume or rebuild.

    A clip whose synthesis keeps failing after ``retries`` more attempts is dropped with reason
    ``tts_error``; the rest of the run continues.
    """

    name = "synthesize"
    Params = SynthesizeParams
    stage = "clip"

    def __init__(self, params: SynthesizeParams | None = None, ctx: StepContext | None = None) -> None:
        super().__init__(params, ctx)
        ctx = self.context
        self.audio_dir = ctx.recipe.work_dir / ctx.lang / "audio"
        self.voices = {v.id: v for v in ctx.voices}
        self.voice_quality = ctx.spec.voice_quality if self.params.voice_quality else {}
        self._engines: dict[str, Synthesizer] = {}

    def engine(self, name: str) -> Synthesizer:
        if name not in self._engines:
            self._engines[name] = registry.create("synthesizer", name)
        return self._engines[name]

    def audio_key(self, utt: Utterance) -> str:
        """Hash of everything that determines a clip's audio: engine (and its version), voice and
        its options, spoken text, prosody targets, voice-quality rule of the clip's emotion and
        intensity, and the seed. Finished WAVs are reused by this key, never by the clip id, so an
        edit that changes the audio re-synthesizes exactly the clips it affects."""
        voice = self.voices[utt.speaker_id]
        engine = registry.resolve("synthesizer", voice.engine)
        payload = {
            "engine": voice.engine,
            "engine_version": getattr(engine, "version", ""),
            "rendering_version": dsp.RENDERING_VERSION,
            "voice": voice.voice,
            "options": voice.options,
            "text": utt.text,
            "prosody": utt.prosody,
            "voice_quality": self.voice_quality.get(utt.emotion) if self.voice_quality else None,
            "intensity": utt.intensity,
            "seed": int(utt.id[:8], 16),
            "sample_rate": SAMPLE_RATE,
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.blake2b(blob.encode("utf-8"), digest_size=10).hexdigest()

    def finish(self, utt: Utterance, samples: np.ndarray) -> np.ndarray:
        """Edge trimming, then the voice-quality cues of the clip's emotion (engine-independent),
        then edge trimming again (the clip's edges are where the one trim rule puts them after
        rendering; trimming first spares rendering the engine's silence, ~13 % of espeak's samples)."""
        samples = audio.trim_silence(samples, SAMPLE_RATE)
        if self.voice_quality:
            quality = dsp.voice_quality_for(utt.emotion, utt.intensity, self.voice_quality)
            samples = dsp.apply_voice_quality(samples, SAMPLE_RATE, quality, seed=int(utt.id[:8], 16))
            samples = audio.trim_silence(samples, SAMPLE_RATE)
        return samples

    @staticmethod
    def reusable(path: Path) -> tuple[int, int] | None:
        """(sample rate, frames) of a finished WAV at `path`, or None if there is none or it cannot
        be read (work WAVs are written atomically but not fsynced: a power loss may tear one)."""
        if not path.exists():
            return None
        try:
            info = audio.sf.info(str(path))
            return info.samplerate, info.frames
        except audio.sf.LibsndfileError as e:
            log.warning("work audio %s is unreadable (%s); synthesizing it again", path, e)
            return None

    def process(self, utt: Utterance) -> list[Utterance]:
        path = self.audio_dir / f"{self.audio_key(utt)}.wav"
        info = self.reusable(path)
        if info is None:
            voice = self.voices[utt.speaker_id]
            prosody = Prosody(**utt.prosody)
            for attempt in range(self.params.retries + 1):
                try:
                    self.counts["synthesis_calls"] += 1  # resumed clips make none
                    samples, sr = self.engine(voice.engine).synthesize(utt.text, voice, prosody)
                    break
                except (RuntimeError, ValueError, OSError) as e:
                    log.warning("synthesis of %s failed (attempt %d): %s", utt.id, attempt + 1, e)
                    if attempt == self.params.retries:
                        utt.metrics["tts_error"] = str(e)
                        return [self.drop(utt, "tts_error")]
                    time.sleep(0.1 * 2**attempt)
            # No fsync per clip: the WAV is a cache keyed by content, checked on reuse.
            clip = self.finish(utt, audio.resample(samples, sr, SAMPLE_RATE))
            audio.write_wav(path, clip, fsync=False)
            info = (SAMPLE_RATE, clip.size)
        utt.audio_path = str(path)
        utt.sample_rate, frames = info
        utt.duration_s = round(frames / utt.sample_rate, 4)
        return [utt]

"""Speech ratio from Silero VAD: the share of a clip that a neural voice-activity detector calls speech.

Adds ``vad_speech_ratio`` (speech seconds / clip seconds) and ``vad_speech_s``. Unlike the
energy-based ``speech_ratio`` of the signal step, it tells speech from tones, noise and music.
Filter with ``metric_filter`` (``{metric: vad_speech_ratio, min: 0.3, reason: no_speech}``).
Silero VAD (MIT, snakers4/silero-vad): its weights ship in the `silero-vad` wheel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from m5ser import audio
from m5ser.registry import require
from m5ser.schema import Utterance
from m5ser.steps import Annotator, StepContext

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class VadParams:
    threshold: float = 0.5  # speech probability above which a 32 ms frame is speech
    min_speech_ms: int = 100  # shorter speech stretches are ignored


class VadAnnotator(Annotator):
    """Adds ``vad_speech_ratio`` and ``vad_speech_s`` (Silero VAD, ONNX on CPU)."""

    name = "vad"
    Params = VadParams
    stage = "clip"

    def __init__(self, params: VadParams | None = None, ctx: StepContext | None = None) -> None:
        super().__init__(params, ctx)
        self._model: Any = None

    def speech_seconds(self, samples: np.ndarray) -> float:
        silero = require("silero_vad", "quality")
        torch = require("torch", "quality")
        if self._model is None:
            self._model = silero.load_silero_vad(onnx=True)
        stamps = silero.get_speech_timestamps(
            torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)),
            self._model,
            threshold=self.params.threshold,
            sampling_rate=SAMPLE_RATE,
            min_speech_duration_ms=self.params.min_speech_ms,
        )
        return sum(s["end"] - s["start"] for s in stamps) / SAMPLE_RATE

    def measure(self, utt: Utterance) -> dict[str, Any]:
        samples = audio.load(utt.audio_path, SAMPLE_RATE)
        seconds = self.speech_seconds(samples) if len(samples) else 0.0
        ratio = seconds / (len(samples) / SAMPLE_RATE) if len(samples) else 0.0
        return {"vad_speech_s": round(seconds, 3), "vad_speech_ratio": round(ratio, 3)}

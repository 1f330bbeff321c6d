"""Speaker consistency: does a clip sound like its speaker? (Resemblyzer GE2E embeddings)

Each clip's utterance embedding (Resemblyzer's GE2E speaker encoder, 256-d, weights ship in the
wheel; Wan et al., ICASSP 2018) is compared by cosine with its speaker's centroid: the mean
embedding of the same speaker's **neutral** clips (emotional prosody moves the voice, neutral is
the reference), the clip itself left out. A speaker with no other neutral clip in the set falls
back to all its other clips (``speaker_ref: all``); a speaker with a single clip is left
unscored. Adds ``speaker_sim`` and ``speaker_ref``; drop with ``metric_filter``
(``{metric: speaker_sim, min: 0.7, reason: speaker_mismatch, missing: keep}``).

Where it runs: a centroid needs all of a speaker's clips together, and the work units hold a
random part of each speaker's clips (a hash partition of the clip ids), so the step is a
``language`` stage step: it (and the filters after it) runs once per language over all its clips,
after the work units, before the merge (`m5ser.pipeline.language`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from m5ser import audio
from m5ser.registry import require
from m5ser.schema import Utterance
from m5ser.steps import BatchStep, StepContext

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class SpeakerParams:
    reference_emotion: str = "neutral"  # the centroid is built from this emotion's clips when the speaker has any


def loo_centroid_sims(embeddings: np.ndarray, speakers: list[str], reference: np.ndarray) -> list[tuple[float, str]]:
    """(cosine to the speaker's leave-one-out centroid, "reference" | "all") per clip; nan if none.

    `reference` marks the clips a centroid prefers (the neutral ones)."""
    by_speaker: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(speakers):
        by_speaker[s].append(i)
    out: list[tuple[float, str]] = []
    for i, s in enumerate(speakers):
        refs = [j for j in by_speaker[s] if j != i and reference[j]]
        kind = "reference"
        if not refs:
            refs, kind = [j for j in by_speaker[s] if j != i], "all"
        if not refs:
            out.append((float("nan"), "none"))
            continue
        centroid = embeddings[refs].mean(axis=0)
        cos = float(embeddings[i] @ centroid / (np.linalg.norm(embeddings[i]) * np.linalg.norm(centroid) + 1e-12))
        out.append((cos, kind))
    return out


class SpeakerConsistency(BatchStep):
    """Adds ``speaker_sim`` (cosine to the speaker's leave-one-out neutral centroid) and ``speaker_ref``."""

    name = "speaker"
    Params = SpeakerParams
    stage = "language"

    def __init__(self, params: SpeakerParams | None = None, ctx: StepContext | None = None) -> None:
        super().__init__(params, ctx)
        self._encoder: Any = None

    def embed(self, samples: np.ndarray) -> np.ndarray:
        resemblyzer = require("resemblyzer", "quality")
        if self._encoder is None:
            self._encoder = resemblyzer.VoiceEncoder(device="cpu", verbose=False)
        wav = resemblyzer.preprocess_wav(np.asarray(samples, dtype=np.float32), source_sr=SAMPLE_RATE)
        if len(wav) < SAMPLE_RATE // 4:  # the VAD trimmed almost everything: embed the clip as it is
            wav = np.asarray(samples, dtype=np.float32)
        return self._encoder.embed_utterance(wav)

    def process_all(self, items: list[Utterance]) -> list[Utterance]:
        if not items:
            return items
        embeddings = np.stack([self.embed(audio.load(u.audio_path, SAMPLE_RATE)) for u in items])
        reference = np.array([u.emotion == self.params.reference_emotion for u in items])
        for utt, (sim, kind) in zip(
            items, loo_centroid_sims(embeddings, [u.speaker_id for u in items], reference), strict=True
        ):
            if np.isnan(sim):
                self.counts["speaker_not_scored"] += 1
                continue
            utt.metrics.update(speaker_sim=round(sim, 4), speaker_ref=kind)
        return items

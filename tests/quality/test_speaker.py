"""Speaker consistency: leave-one-out neutral centroids; a clip in another voice scores lower."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from m5ser import audio
from m5ser.quality.speaker import SpeakerConsistency, loo_centroid_sims
from m5ser.schema import Prosody, Voice
from m5ser.testing import make_utterance


def test_centroid_prefers_neutral_and_leaves_the_clip_out() -> None:
    emb = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 1.0]])
    speakers = ["a", "a", "a", "b", "c"]
    neutral = np.array([True, False, False, True, False])
    sims = loo_centroid_sims(emb, speakers, neutral)
    assert sims[1] == (pytest.approx(1.0), "reference")  # a's other clip 0 is neutral
    assert sims[2] == (pytest.approx(0.0), "reference")  # clip 2 differs from a's neutral clip
    assert sims[0][1] == "all"  # a's only neutral clip is itself: the others are the reference
    assert np.isnan(sims[3][0]) and np.isnan(sims[4][0])  # alone: unscored


@pytest.mark.slow
def test_other_voice_scores_lower(tmp_path: Path) -> None:
    pytest.importorskip("resemblyzer")
    from m5ser.tts.engines.espeak import EspeakSynthesizer

    engine = EspeakSynthesizer()
    lines = ["Das ist gut.", "Ich komme morgen wieder.", "Wo ist der Bahnhof?", "Heute regnet es sehr."]
    items = []
    for i, text in enumerate(lines):
        voice = "en-us+f3" if i == 3 else "de+m1"  # the last clip is not the speaker's voice
        samples, sr = engine.synthesize(text, Voice("x", "de", "espeak", voice, "male", "GPL-3.0"), Prosody())
        path = tmp_path / f"{i}.wav"
        sf.write(str(path), audio.condition(samples, sr), 16_000, subtype="PCM_16")
        emotion = "neutral" if i < 2 else "angry"
        items.append(make_utterance(source_id=str(i), speaker_id="de-m1", emotion=emotion, audio_path=str(path)))
    step = SpeakerConsistency()
    out = list(step(items))
    sims = [u.metrics["speaker_sim"] for u in out]
    assert all(u.metrics["speaker_ref"] == "reference" for u in out[2:])
    assert sims[3] < min(sims[:3]) - 0.05, sims

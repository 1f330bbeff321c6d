"""Casting: every chosen sentence gets its speakers, and every clip its intensity, prosody
targets, split and id. The last step of a language's plan.

Speakers are balanced per emotion over gender × engine × voice (`m5ser.tts.speakers`), so no
emotion is tied to a speaker or an engine; prosody is the emotion's preset scaled by the
clip's intensity plus seeded jitter (`m5ser.tts.prosody`). Splits are made by source
sentence (the same sentence lands in the same split in every language); speakers named in
``splits.holdout_speakers`` go to test whole.

With ``emotions_per_sentence`` > 1 each speaker also renders its sentence in other emotions
(seeded), so the words of a clip no longer give its label away, as in acted corpora that
read fixed sentences in every emotion; the text's own label stays in
``metrics["text_emotion"]``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from m5ser.config import RecipeError, check_range
from m5ser.schema import Utterance, stable_key, utterance_id
from m5ser.steps import BatchStep
from m5ser.tts.prosody import clip_rng, render
from m5ser.tts.speakers import assign_speakers


def split_of(source_id: str, seed: int, dev: float, test: float) -> str:
    """Split by source sentence: the same sentence lands in the same split in every language.

    >>> split_of("xed-en-1", 0, 0.0, 0.0)
    'train'
    """
    u = (stable_key("split", seed, source_id) % 1_000_000) / 1_000_000
    return "test" if u < test else "dev" if u < test + dev else "train"


@dataclass(frozen=True)
class CastParams:
    speakers_per_sentence: int = 1  # distinct speakers rendering each sentence (clips per sentence)
    intensity: tuple[float, float] = (0.6, 1.0)  # uniform range of a clip's intensity (neutral: 0)
    # Emotions each speaker renders its sentence in: 1 = the text's own label only; k > 1 = the
    # text's label plus k - 1 other labels of the build, drawn per sentence (seeded).
    emotions_per_sentence: int = 1

    def __post_init__(self) -> None:
        check_range(self, "speakers_per_sentence", low=1)
        check_range(self, "emotions_per_sentence", low=1)
        low, high = self.intensity
        if not 0 <= low <= high <= 1:
            raise RecipeError(f"intensity: expected [low, high] within 0..1, got {list(self.intensity)}")


class Cast(BatchStep):
    """One clip per sentence and speaker: id, speaker, voice, intensity, prosody, split."""

    name = "cast"
    Params = CastParams
    stage = "plan"

    def __init__(self, params: CastParams | None = None, ctx=None) -> None:
        super().__init__(params, ctx)
        if ctx is not None and self.params.speakers_per_sentence > len(ctx.voices):
            k, n = self.params.speakers_per_sentence, len(ctx.voices)
            raise RecipeError(f"speakers_per_sentence: {k}, but '{ctx.lang}' has only {n} speakers")
        if ctx is not None and self.params.emotions_per_sentence > len(ctx.recipe.labels(ctx.spec)):
            k, n = self.params.emotions_per_sentence, len(ctx.recipe.labels(ctx.spec))
            raise RecipeError(f"emotions_per_sentence: {k}, but the build has only {n} emotions")

    def renderings(self, sentence: Utterance, labels: tuple[str, ...], seed: int) -> list[str]:
        """The emotions a sentence is rendered in: its own label first, then seeded others."""
        others = sorted(
            (e for e in labels if e != sentence.emotion), key=lambda e: stable_key("emo", seed, sentence.source_id, e)
        )
        return [sentence.emotion, *others[: self.params.emotions_per_sentence - 1]]

    def process_all(self, items: list[Utterance]) -> list[Utterance]:
        ctx = self.context
        recipe, k = ctx.recipe, self.params.speakers_per_sentence
        voices = list(ctx.voices)
        if k > len(voices):
            raise RecipeError(f"cast.speakers_per_sentence={k} but '{ctx.lang}' has only {len(voices)} speakers")
        flat = assign_speakers([(u.source_id, u.emotion) for u in items for _ in range(k)], voices, recipe.seed)
        labels = recipe.labels(ctx.spec) if self.params.emotions_per_sentence > 1 else ()
        low, high = self.params.intensity
        clips = []
        for i, sentence in enumerate(items):
            chosen = flat[i * k : (i + 1) * k]
            if len({v.id for v in chosen}) != k:
                raise RuntimeError(f"{sentence.source_id}: the same speaker was drawn twice")
            whole = str(sentence.metrics.get("sentence_of") or sentence.source_id)  # a part of a split sentence
            split = split_of(whole, recipe.seed, recipe.splits.dev, recipe.splits.test)
            emotions = self.renderings(sentence, labels, recipe.seed) if labels else [sentence.emotion]
            for voice in chosen:
                for emotion in emotions:
                    uid = utterance_id(sentence.source_id, ctx.lang, voice.id, emotion, recipe.seed)
                    rng = clip_rng(recipe.seed, uid)
                    intensity = round(float(rng.uniform(low, high)), 3) if emotion != "neutral" else 0.0
                    prosody = render(ctx.spec, emotion, intensity, voice, rng)
                    metrics = dict(sentence.metrics)  # text metrics (checks, written_text) travel with the clip
                    if labels:
                        metrics["text_emotion"] = sentence.emotion
                    clips.append(
                        replace(
                            sentence,
                            id=uid,
                            emotion=emotion,
                            intensity=intensity,
                            speaker_id=voice.id,
                            gender=voice.gender,
                            tts_backend=voice.engine,
                            voice=voice.voice,
                            prosody=prosody.as_dict(),
                            metrics=metrics,
                            split="test" if voice.id in recipe.splits.holdout_speakers else split,
                        )
                    )
        self.counts["clips"] += len(clips)
        return clips

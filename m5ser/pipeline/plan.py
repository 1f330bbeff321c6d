"""From recipe to planned Utterances: ingest, translate, pick sentences, speakers, splits."""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from m5ser import registry as base
from m5ser.config import EmotionSpec, Recipe, RecipeError, load_emotions, voices_for
from m5ser.schema import Utterance, Voice, utterance_id
from m5ser.text.readers import ReadStats, TextItem, open_source
from m5ser.tts.prosody import clip_rng, render
from m5ser.tts.speakers import assign_speakers

log = logging.getLogger(__name__)


@dataclass
class TextPlan:
    """Sentences chosen for one language, with what the readers skipped."""

    items: list[TextItem]
    stats: dict[str, ReadStats]


def _stable_key(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest(), "little")


def read_texts(recipe: Recipe, spec: EmotionSpec, lang: str) -> TextPlan:
    """Read the language's text: its own lines, or the source language's to translate later."""
    cfg = recipe.languages[lang]
    text_lang = lang if cfg.translate in ("identity", "parallel") else cfg.translate_from
    items: list[TextItem] = []
    stats = {}
    for name in cfg.sources:
        reader = open_source(recipe.sources[name], spec)
        items.extend(reader.read(text_lang))
        stats[name] = reader.stats
    return TextPlan(items=select(items, recipe.emotions, recipe.per_emotion, recipe.seed), stats=stats)


def select(items: Sequence[TextItem], emotions: Sequence[str], per_emotion: int, seed: int) -> list[TextItem]:
    """Up to `per_emotion` distinct sentences per emotion, in a seeded, order-free choice."""
    by_emotion: dict[str, dict[str, TextItem]] = defaultdict(dict)
    for item in items:
        if item.emotion in emotions:
            by_emotion[item.emotion].setdefault(item.text, item)  # one copy of a repeated sentence
    chosen = []
    for emotion in emotions:
        pool = sorted(by_emotion[emotion].values(), key=lambda it: _stable_key(seed, it.source_id))
        chosen.extend(pool[:per_emotion])
    return chosen


def translate(recipe: Recipe, lang: str, items: list[TextItem]) -> tuple[list[str], str]:
    """Texts in `lang` for `items`, and the name of the translation backend used."""
    cfg = recipe.languages[lang]
    if cfg.translate in ("identity", "parallel"):
        return [it.text for it in items], cfg.translate
    translator = base.create("translator", cfg.translate, **cfg.translate_options)
    return translator.translate([it.text for it in items], cfg.translate_from, lang), cfg.translate


def split_of(source_id: str, seed: int, dev: float, test: float) -> str:
    """Split by source sentence: the same sentence lands in the same split in every language."""
    u = (_stable_key("split", seed, source_id) % 1_000_000) / 1_000_000
    return "test" if u < test else "dev" if u < test + dev else "train"


def speakers_per_item(items: Sequence[TextItem], voices: Sequence[Voice], k: int, seed: int) -> list[list[Voice]]:
    """`k` distinct speakers per item, balanced per emotion over gender × engine × voice
    (`m5ser.tts.speakers.assign_speakers`), so that no emotion is tied to a speaker or engine."""
    if k > len(voices):
        raise RecipeError(f"speakers_per_sentence={k} but the bank has only {len(voices)} speakers")
    flat = assign_speakers([(it.source_id, it.emotion) for it in items for _ in range(k)], voices, seed)
    out = [flat[i * k : (i + 1) * k] for i in range(len(items))]
    for item, chosen in zip(items, out, strict=True):
        if len({v.id for v in chosen}) != k:
            raise RuntimeError(f"{item.source_id}: the same speaker was drawn twice")
    return out


def plan_language(recipe: Recipe, lang: str, spec: EmotionSpec | None = None) -> tuple[list[Utterance], TextPlan]:
    """Planned (not yet synthesized) Utterances for one language, sorted by id."""
    spec = spec or load_emotions(recipe.emotions_file)
    cfg = recipe.languages[lang]
    plan = read_texts(recipe, spec, lang)
    texts, backend = translate(recipe, lang, plan.items)
    voices = voices_for(recipe, lang)
    speakers = speakers_per_item(plan.items, voices, recipe.speakers_per_sentence, recipe.seed)
    low, high = recipe.intensity
    utterances = []
    for item, text, chosen in zip(plan.items, texts, speakers, strict=True):
        split = split_of(item.source_id, recipe.seed, recipe.dev_fraction, recipe.test_fraction)
        for voice in chosen:
            uid = utterance_id(item.source_id, lang, voice.id, item.emotion, recipe.seed)
            rng = clip_rng(recipe.seed, uid)
            intensity = round(float(rng.uniform(low, high)), 3) if item.emotion != "neutral" else 0.0
            prosody = render(spec, item.emotion, intensity, voice, rng)
            utterances.append(
                Utterance(
                    id=uid,
                    source_id=item.source_id,
                    source_corpus=item.corpus,
                    source_lang=item.lang,
                    source_text=item.text,
                    lang=lang,
                    text=text,
                    translation_backend=backend if cfg.translate != "identity" else "identity",
                    emotion=item.emotion,
                    intensity=intensity,
                    speaker_id=voice.id,
                    gender=voice.gender,
                    tts_backend=voice.engine,
                    voice=voice.voice,
                    prosody=prosody.as_dict(),
                    split="test" if voice.id in recipe.holdout_speakers else split,
                )
            )
    utterances.sort(key=lambda u: u.id)
    ids = [u.id for u in utterances]
    if len(set(ids)) != len(ids):
        raise RuntimeError(f"duplicate clip ids planned for '{lang}'")
    return utterances, plan

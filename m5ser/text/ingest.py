"""Ingest and choose: the first steps of a language's plan.

`Ingest` reads every source of the language (in the language its text is read in) into
sentences, one Utterance per input row, rows that cannot become a sentence already dropped
with their reason. `Select` keeps up to ``per_emotion`` distinct sentences per emotion in
a seeded, order-free choice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from m5ser import registry
from m5ser.config import RecipeError, check_range
from m5ser.schema import Utterance, stable_key
from m5ser.steps import BatchStep, MapStep, NoParams


class Ingest(MapStep):
    """Reads the language's sources (``languages.<lang>.sources``) into sentences.

    Sentences are read in ``translate_from`` when the language is translated, else in the
    language itself. Items given as input pass through first; then every row of every
    source, in source and file order.
    """

    name = "ingest"
    Params = NoParams
    stage = "plan"

    def __call__(self, items: Iterable[Utterance]) -> Iterator[Utterance]:
        yield from items
        ctx = self.context
        cfg = ctx.recipe.languages[ctx.lang]
        for name in cfg.sources:
            source = ctx.recipe.sources[name]
            readers_of = [code for code, lc in ctx.recipe.languages.items() if name in lc.sources]
            reader = registry.resolve("reader", source.reader)(
                source,
                ctx.spec,
                ctx.lang,
                known_langs={ctx.recipe.languages[code].text_lang for code in readers_of},
                owner=readers_of[0] == ctx.lang,  # rows no language reads are counted once, here
            )
            rows = 0
            for utt in reader.read(cfg.text_lang):
                rows += 1
                if utt.drop_reason is not None:
                    self.counts[utt.drop_reason] += 1
                yield utt
            if rows == 0:
                raise RecipeError(
                    f"sources.{name}: no rows for '{cfg.text_lang}' in {source.path} (an empty source builds nothing)"
                )


@dataclass(frozen=True)
class SelectParams:
    per_emotion: int = 50  # max source sentences per emotion (per language)

    def __post_init__(self) -> None:
        check_range(self, "per_emotion", low=1)


class Select(BatchStep):
    """Up to ``per_emotion`` distinct sentences per emotion of ``build.emotions``.

    The first copy of a repeated sentence (same text, same emotion) is kept, the others are
    dropped as ``duplicate_text``; sentences of an emotion the recipe does not build are
    dropped as ``emotion_not_built``. Within an emotion the choice is a seeded order of the
    source ids; sentences beyond the quota are counted (``unselected``), not dropped: they
    are the part of the corpus this build does not sample.
    """

    name = "select"
    Params = SelectParams
    stage = "plan"

    def process_all(self, items: list[Utterance]) -> list[Utterance]:
        ctx = self.context
        emotions = ctx.recipe.labels(ctx.spec)
        seed = ctx.recipe.seed
        dropped: list[Utterance] = []
        by_emotion: dict[str, dict[str, Utterance]] = defaultdict(dict)
        for utt in items:
            if utt.emotion not in emotions:
                dropped.append(self.drop(utt, "emotion_not_built"))
            elif utt.text in by_emotion[utt.emotion]:
                dropped.append(self.drop(utt, "duplicate_text"))
            else:
                by_emotion[utt.emotion][utt.text] = utt
        chosen = []
        for emotion in emotions:
            pool = sorted(by_emotion[emotion].values(), key=lambda u: stable_key(seed, u.source_id))
            chosen.extend(pool[: self.params.per_emotion])
            self.counts["unselected"] += max(0, len(pool) - self.params.per_emotion)
        return dropped + chosen

"""The step contract: an iterator of Utterances in, an iterator of Utterances out.

Every stage of the pipeline is a step named in the recipe's ``steps:`` list (NeMo SDP
style) and registered in `m5ser.registry` (kind ``step``). A step is built from its
parameter dataclass (``Params``, checked against the recipe with key-path errors) and a
`StepContext` (recipe, language, labels, voices).

Steps pass dropped items (``drop_reason`` set) through untouched, so the sink at the end
of a pipeline can route them to ``removed/<lang>/<reason>.jsonl``. Annotators only add
``metrics``; filters only read them and set ``drop_reason``. Every step counts what it
dropped (and anything else worth reporting) in ``counts``.

Stages: a step with ``stage = "plan"`` needs every sentence of a language at once (reading
the sources, choosing sentences, batched translation, casting speakers); the plan is every
step up to the last plan step, run once per language and kept in
``work/<lang>/planned.jsonl``. Steps with ``stage = "clip"`` (synthesis, audio checks) run
in the work units after it; ``stage = "any"`` steps run wherever the recipe puts them. A step
with ``stage = "language"`` needs every clip of a language at once (a speaker's centroid over
all its neutral clips, an emotion model cross-validated over all the language's speakers): it
and every step after it run once per language over all its clips, after the work units and
before the merge writes shards (`m5ser.pipeline.language`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from m5ser.config import EmotionSpec, Recipe
from m5ser.schema import Utterance, Voice

Stage = Literal["plan", "clip", "language", "any"]


@dataclass(frozen=True)
class StepContext:
    """What a step may need besides its parameters."""

    recipe: Recipe
    lang: str  # the output language being built
    spec: EmotionSpec  # labels, corpus label maps, rendering rules
    voices: tuple[Voice, ...] = field(default=())  # the language's speakers after the recipe's limits


@dataclass(frozen=True)
class NoParams:
    """The parameters of a step that takes none."""


class Step(Protocol):
    name: str
    counts: Counter[str]

    def __call__(self, items: Iterable[Utterance]) -> Iterator[Utterance]: ...


class MapStep:
    """A step that maps one kept Utterance to 0, 1 or N Utterances."""

    name: ClassVar[str] = "map"
    Params: ClassVar[type] = NoParams
    stage: ClassVar[Stage] = "any"

    def __init__(self, params: Any = None, ctx: StepContext | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self.ctx = ctx
        self.counts: Counter[str] = Counter()

    @property
    def context(self) -> StepContext:
        if self.ctx is None:
            raise ValueError(f"step '{self.name}' needs a StepContext (recipe, language)")
        return self.ctx

    def drop(self, utt: Utterance, reason: str) -> Utterance:
        """Stamp `reason` on `utt` and count it."""
        utt.drop_reason = reason
        self.counts[reason] += 1
        return utt

    def process(self, utt: Utterance) -> list[Utterance]:
        raise NotImplementedError(f"{type(self).__name__}.process")

    def __call__(self, items: Iterable[Utterance]) -> Iterator[Utterance]:
        for utt in items:
            if utt.drop_reason is not None:
                yield utt
                continue
            yield from self.process(utt)


class BatchStep(MapStep):
    """A step that needs every kept item at once (choice, batched translation, casting).

    Dropped items pass through first, in input order; then the kept items' results.
    """

    def process_all(self, items: list[Utterance]) -> list[Utterance]:
        raise NotImplementedError(f"{type(self).__name__}.process_all")

    def __call__(self, items: Iterable[Utterance]) -> Iterator[Utterance]:
        kept = []
        for utt in items:
            if utt.drop_reason is not None:
                yield utt
            else:
                kept.append(utt)
        yield from self.process_all(kept)


class Annotator(MapStep):
    """Adds measurements to ``metrics``; never drops."""

    name = "annotate"

    def measure(self, utt: Utterance) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__}.measure")

    def process(self, utt: Utterance) -> list[Utterance]:
        utt.metrics.update(self.measure(utt))
        return [utt]


class Filter(MapStep):
    """Reads ``metrics`` (or text) and stamps a ``drop_reason`` on items that fail."""

    name = "filter"

    def reason(self, utt: Utterance) -> str | None:
        """The drop reason for `utt`, or None to keep it."""
        raise NotImplementedError(f"{type(self).__name__}.reason")

    def process(self, utt: Utterance) -> list[Utterance]:
        why = self.reason(utt)
        return [self.drop(utt, why) if why is not None else utt]


def chain(items: Iterable[Utterance], steps: Sequence[Step]) -> Iterator[Utterance]:
    """Run `items` lazily through `steps` in order."""
    stream: Iterable[Utterance] = items
    for step in steps:
        stream = step(stream)
    yield from stream

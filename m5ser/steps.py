"""The step contract: an iterator of Utterances in, an iterator of Utterances out.

Steps pass dropped items (``drop_reason`` set) through untouched, so the sink at the end
of a pipeline can route them to ``removed/<lang>/<reason>.jsonl``. Annotators only add
``metrics``; filters only read them and set ``drop_reason``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from m5ser.schema import Utterance


class Step(Protocol):
    name: str

    def __call__(self, items: Iterable[Utterance]) -> Iterator[Utterance]: ...


class MapStep:
    """A step that maps one kept Utterance to 0, 1 or N Utterances."""

    name = "map"

    def process(self, utt: Utterance) -> list[Utterance]:
        raise NotImplementedError(f"{type(self).__name__}.process")

    def __call__(self, items: Iterable[Utterance]) -> Iterator[Utterance]:
        for utt in items:
            if utt.drop_reason is not None:
                yield utt
                continue
            yield from self.process(utt)


class Annotator(MapStep):
    """Adds measurements to ``metrics``; never drops."""

    name = "annotate"

    def measure(self, utt: Utterance) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__}.measure")

    def process(self, utt: Utterance) -> list[Utterance]:
        utt.metrics.update(self.measure(utt))
        return [utt]


class Filter(MapStep):
    """Reads ``metrics`` and stamps a ``drop_reason`` on items that fail; counts per reason."""

    name = "filter"

    def __init__(self) -> None:
        self.dropped: Counter[str] = Counter()

    def reason(self, utt: Utterance) -> str | None:
        """The drop reason for `utt`, or None to keep it."""
        raise NotImplementedError(f"{type(self).__name__}.reason")

    def process(self, utt: Utterance) -> list[Utterance]:
        why = self.reason(utt)
        if why is not None:
            utt.drop_reason = why
            self.dropped[why] += 1
        return [utt]


def chain(items: Iterable[Utterance], steps: Sequence[Step]) -> Iterator[Utterance]:
    """Run `items` lazily through `steps` in order."""
    stream: Iterable[Utterance] = items
    for step in steps:
        stream = step(stream)
    yield from stream

"""Speaker assignment balanced over language × emotion × gender × engine, seeded.

Within each emotion, clips are dealt out by a nested round robin: languages in turn, then
genders within a language, then engines within a gender, then voices within an engine.
Every level's order is shuffled per emotion from the seed, so no emotion is tied to a
gender, an engine or a voice, and each emotion sees each stratum as evenly as the counts
allow (counts per stratum differ by at most one at every level).
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from m5ser.schema import Voice

_LEVELS = ("lang", "gender", "engine")


@dataclass
class _Node:
    """A level of the round robin: children are visited in turn, each keeping its own turn."""

    children: list[_Node | Voice] = field(default_factory=list)
    turn: int = 0

    def next(self) -> Voice:
        child = self.children[self.turn % len(self.children)]
        self.turn += 1
        return child if isinstance(child, Voice) else child.next()


def _build(voices: Sequence[Voice], depth: int, rng: random.Random) -> _Node:
    if depth == len(_LEVELS):
        leaves = sorted(voices, key=lambda v: v.id)
        rng.shuffle(leaves)
        return _Node(children=list(leaves))
    groups: dict[str, list[Voice]] = defaultdict(list)
    for v in voices:
        groups[getattr(v, _LEVELS[depth])].append(v)
    keys = sorted(groups)
    rng.shuffle(keys)
    return _Node(children=[_build(groups[k], depth + 1, rng) for k in keys])


def _key(seed: int, source_id: str) -> str:
    return hashlib.sha256(f"{seed}\0{source_id}".encode()).hexdigest()


def assign_speakers(items: Sequence[tuple[str, str]], voices: Sequence[Voice], seed: int) -> list[Voice]:
    """One voice per (source_id, emotion) item, in input order; deterministic for a seed.

    Items are taken per emotion in a seeded order of their source ids (so the result does not
    depend on how the input was sorted); repeated items get different voices in turn.

    >>> vs = [Voice(f"v{i}", "en", "espeak", f"v{i}", g, "x") for i, g in enumerate("mf" * 2)]
    >>> got = assign_speakers([(str(i), "sad") for i in range(4)], vs, seed=1)
    >>> sorted(v.id for v in got)
    ['v0', 'v1', 'v2', 'v3']
    """
    if not voices:
        raise ValueError("assign_speakers: no voices")
    ids = [v.id for v in voices]
    if len(set(ids)) != len(ids):
        raise ValueError("assign_speakers: duplicate voice ids")
    by_emotion: dict[str, list[int]] = defaultdict(list)
    for i, (_, emotion) in enumerate(items):
        by_emotion[emotion].append(i)
    out: list[Voice | None] = [None] * len(items)
    for emotion in sorted(by_emotion):
        rng = random.Random(f"{seed}\0{emotion}")
        tree = _build(voices, 0, rng)
        order = sorted(by_emotion[emotion], key=lambda i: (_key(seed, items[i][0]), i))
        for i in order:
            out[i] = tree.next()
    return [v for v in out if v is not None]

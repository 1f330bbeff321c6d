"""The ``removed/`` sink: every dropped item of a language, one JSONL file per reason."""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from m5ser.manifest import dumps, write_text_atomic
from m5ser.schema import Utterance


def write_removed(out_dir: Path, lang: str, dropped: Sequence[Utterance]) -> dict[str, int]:
    """Write ``removed/<lang>/<reason>.jsonl`` (replacing that language's old files), each sorted by id."""
    folder = Path(out_dir) / "removed" / lang
    if folder.exists():
        shutil.rmtree(folder)
    by_reason: dict[str, list[Utterance]] = defaultdict(list)
    for utt in dropped:
        if utt.drop_reason is None:
            raise ValueError(f"{lang}: clip {utt.id} has no drop_reason; only dropped items go to removed/")
        by_reason[utt.drop_reason].append(utt)
    for reason, items in sorted(by_reason.items()):
        lines = "".join(dumps(u) + "\n" for u in sorted(items, key=lambda u: u.id))
        write_text_atomic(folder / f"{reason}.jsonl", lines)
    return {reason: len(items) for reason, items in sorted(by_reason.items())}

"""The ``removed/`` sink: every dropped item of a language, one JSONL file per reason."""

from __future__ import annotations

import dataclasses
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from m5ser.manifest import dumps, write_text_atomic
from m5ser.schema import Utterance
from m5ser.shards.swap import finish_swaps, staging_dir, swap_in


def write_removed(
    out_dir: Path, lang: str, dropped: Sequence[Utterance], work_dir: Path | None = None
) -> dict[str, int]:
    """Replace ``removed/<lang>/`` by one ``<reason>.jsonl`` per reason, each sorted by id, in one
    swap (the previous files stay whole until the new ones are complete). A dropped clip's
    ``audio_path`` is made relative to `work_dir` (where its unpublished WAV lies), so nothing
    published names a path of the build machine."""
    out_dir = Path(out_dir)
    finish_swaps(out_dir)
    by_reason: dict[str, list[Utterance]] = defaultdict(list)
    for utt in dropped:
        if utt.drop_reason is None:
            raise ValueError(f"{lang}: clip {utt.id} has no drop_reason; only dropped items go to removed/")
        if work_dir is not None and utt.audio_path and Path(utt.audio_path).is_absolute():
            utt = dataclasses.replace(utt, audio_path=os.path.relpath(utt.audio_path, work_dir))
        by_reason[utt.drop_reason].append(utt)
    stage = staging_dir(out_dir, f"removed-{lang}")
    folder = stage / "removed" / lang
    folder.mkdir(parents=True)
    for reason, items in sorted(by_reason.items()):
        lines = "".join(dumps(u) + "\n" for u in sorted(items, key=lambda u: u.id))
        write_text_atomic(folder / f"{reason}.jsonl", lines)
    swap_in(out_dir, stage, [(folder, out_dir / "removed" / lang)])
    return {reason: len(items) for reason, items in sorted(by_reason.items())}

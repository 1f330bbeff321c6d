"""Replace a language's published files all at once: everything is written into a staging
folder first, then moved in by a journal of renames that a later run finishes if a crash
interrupted it. A reader sees the old version or the new one, never a mix, and a failed
rebuild (an error, a full disk) leaves the previous version as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from m5ser.manifest import write_text_atomic

STAGING = ".staging"
"""Folder under the output that holds staging folders and swap journals (not published)."""


def staging_dir(out_dir: Path, name: str) -> Path:
    """A new, empty staging folder under ``out_dir/.staging``."""
    root = Path(out_dir) / STAGING
    root.mkdir(parents=True, exist_ok=True)
    for old in root.glob(f"{name}-*"):  # a staging folder a crash left before its swap began
        if old.is_dir() and not (root / f"{old.name}.swap.json").exists() and not old.name.endswith(".old"):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))


def _move(src: Path, dst: Path, trash: Path) -> None:
    if not src.exists() and not src.is_symlink():
        return  # done before a crash
    if dst.is_dir() and not dst.is_symlink():
        trash.mkdir(parents=True, exist_ok=True)
        dst.rename(Path(tempfile.mkdtemp(dir=trash)) / dst.name)
    elif dst.exists():
        dst.unlink()
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)


def _run(journal: Path) -> None:
    entry = json.loads(journal.read_text(encoding="utf-8"))
    trash = Path(entry["trash"])
    for src, dst in entry["moves"]:
        _move(Path(src), Path(dst), trash)
    for path in entry.get("remove", []):
        p = Path(path)
        if p.is_dir():
            _move(p, trash / "removed" / p.name, trash / "removed-old")
    journal.unlink()
    shutil.rmtree(trash, ignore_errors=True)
    shutil.rmtree(Path(entry["stage"]), ignore_errors=True)


def swap_in(out_dir: Path, stage: Path, moves: Sequence[tuple[Path, Path]], remove: Sequence[Path] = ()) -> None:
    """Move each staged path onto its target (folders whole, files by atomic rename) and drop
    the `remove` folders; the journal is written first, so `finish_swaps` completes a swap
    that a crash interrupted."""
    journal = Path(out_dir) / STAGING / f"{stage.name}.swap.json"
    entry = {
        "stage": str(stage),
        "trash": str(stage.with_name(stage.name + ".old")),
        "moves": [[str(s), str(d)] for s, d in moves],
        "remove": [str(p) for p in remove],
    }
    write_text_atomic(journal, json.dumps(entry) + "\n")
    _run(journal)


def finish_swaps(out_dir: Path) -> int:
    """Complete every swap a crash left half-done (journal present); returns how many."""
    root = Path(out_dir) / STAGING
    journals = sorted(root.glob("*.swap.json")) if root.is_dir() else []
    for journal in journals:
        _run(journal)
    return len(journals)

"""JSONL manifests: lazy reading, atomic writing, resumable appends."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from m5ser.errors import LocatedError
from m5ser.schema import Utterance

_UMASK = os.umask(0)
os.umask(_UMASK)


class ManifestError(LocatedError):
    """A manifest line that cannot be read, with its file and line number."""

    def __init__(self, path: str | Path, line: int, message: str, field: str = "") -> None:
        super().__init__(path, line, field, message)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self.path), self.line, self.reason, self.field)


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) per non-empty line; a bad line (not UTF-8, not a JSON object)
    raises naming file and line. A UTF-8 BOM is skipped."""
    path = Path(path)
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                where = f"byte {raw[e.start]:#04x} at column {e.start + 1}"
                raise ManifestError(path, lineno, f"not UTF-8 ({where})") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ManifestError(path, lineno, f"invalid JSON ({e.msg})") from e
            if not isinstance(row, dict):
                raise ManifestError(path, lineno, "expected a JSON object")
            yield lineno, row


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield one dict per non-empty line; a bad line raises naming file and line."""
    for _, row in iter_jsonl(path):
        yield row


def read_manifest(path: str | Path, ignore: Iterable[str] = ()) -> Iterator[Utterance]:
    """Lazily read Utterances from a JSONL manifest, dropping the `ignore` keys of each line."""
    for lineno, row in iter_jsonl(path):
        for key in ignore:
            row.pop(key, None)
        try:
            yield Utterance.from_dict(row)
        except (KeyError, TypeError) as e:
            raise ManifestError(Path(path), lineno, f"record: {e}") from e


def dumps(utt: Utterance) -> str:
    return json.dumps(utt.to_dict(), ensure_ascii=False, sort_keys=True)


@contextmanager
def atomic_open(path: str | Path, mode: str = "w", *, fsync: bool = True) -> Iterator[TextIO]:
    """Open a temp file beside `path`; rename it over `path` only if the block succeeds.

    `fsync=False` skips flushing to disk before the rename (still atomic for readers, not
    durable across a power loss): for regenerable caches that check what they reuse."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; published files follow the umask
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | Path, data: bytes, *, fsync: bool = True) -> None:
    with atomic_open(path, "wb", fsync=fsync) as f:
        f.write(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as f:
        f.write(text)


def write_manifest(path: str | Path, utterances: Iterable[Utterance]) -> int:
    """Write all Utterances to `path` atomically; returns the count."""
    n = 0
    with atomic_open(path) as f:
        for utt in utterances:
            f.write(dumps(utt) + "\n")
            n += 1
    return n


def written_ids(path: str | Path) -> set[str]:
    """Ids already in a manifest, tolerating a torn last line from a crash."""
    path = Path(path)
    if not path.exists():
        return set()
    ids = set()
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                ids.add(json.loads(line)["id"])
            except (json.JSONDecodeError, KeyError):
                continue
    return ids

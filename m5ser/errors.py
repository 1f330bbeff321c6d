"""Errors about bad input: they name the file, row and field, survive process boundaries
(picklable, so a worker's error reaches the user intact) and are never retried (retrying
a deterministic error only repeats its message)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class InputError(ValueError):
    """Bad input (recipe, source, manifest, shard): deterministic, so never retried."""


class LocatedError(InputError):
    """An error at a place in a file: ``<path>:<line>: field '<field>': <message>``.

    >>> import pickle
    >>> e = pickle.loads(pickle.dumps(LocatedError("a.csv", 3, "emotion", "unknown label 'x'")))
    >>> str(e), e.line, e.field
    ("a.csv:3: field 'emotion': unknown label 'x'", 3, 'emotion')
    """

    def __init__(self, path: str | Path, line: int, field: str, message: str) -> None:
        where = f"{path}:{line}: field '{field}'" if field else f"{path}:{line}"
        super().__init__(f"{where}: {message}")
        self.path, self.line, self.field, self.reason = Path(path), line, field, message

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self.path), self.line, self.field, self.reason)

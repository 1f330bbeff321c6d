"""Fetch full text corpora (online users); the demo uses the sample in data/sample instead."""

from __future__ import annotations

import hashlib
import urllib.request
from pathlib import Path

from m5ser.config import load_yaml
from m5ser.manifest import write_bytes_atomic


def download(corpus: str, target: Path, catalogue: Path, *, base: str | None = None, force: bool = False) -> list[Path]:
    """Fetch every file of `corpus` listed in `catalogue` into `target/<corpus>/`.

    Files already present are kept (idempotent) unless `force`; each write is atomic. `base`
    overrides the catalogue's base URL (a mirror, or ``file://`` for a local copy).
    """
    entries = load_yaml(catalogue)
    if corpus not in entries:
        raise KeyError(f"{catalogue}: no corpus '{corpus}' (has: {sorted(entries)})")
    entry = entries[corpus]
    root = base or entry["base"]
    pins = entry.get("sha256") or {}
    written = []
    for rel in entry["files"]:
        path = target / corpus / rel
        if path.exists() and not force:
            written.append(path)
            continue
        url = root.rstrip("/") + "/" + rel
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read()
        if rel in pins and hashlib.sha256(data).hexdigest() != pins[rel]:
            raise ValueError(f"{url}: sha256 does not match the pin in {catalogue}")
        write_bytes_atomic(path, data)
        written.append(path)
    return written

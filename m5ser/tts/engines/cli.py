"""Helpers for engines driven through a command-line program that writes a WAV file."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from m5ser.registry import MissingDependencyError


def require_program(program: str, package: str) -> str:
    """Absolute path of `program`, or an error naming the Debian package that provides it."""
    path = shutil.which(program)
    if path is None:
        raise MissingDependencyError(
            f"'{program}' is not installed; install the Debian package '{package}' (scripts/install-engines.sh)"
        )
    return path


def run(cmd: list[str], *, stdin: bytes | None = None, timeout: float = 120.0) -> bytes:
    """Run `cmd`; return stdout, or raise with the program's stderr when it fails."""
    proc = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"{Path(cmd[0]).name} failed (exit {proc.returncode}): {err[-500:]}")
    return proc.stdout


def parse_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Decode a PCM16 mono RIFF/WAVE byte string, tolerating the unknown sizes streamed WAVs carry."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE stream")
    pos, sr, channels, bits = 12, 0, 1, 16
    while pos + 8 <= len(data):
        tag, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        body = pos + 8
        if tag == b"fmt ":
            channels = int.from_bytes(data[body + 2 : body + 4], "little")
            sr = int.from_bytes(data[body + 4 : body + 8], "little")
            bits = int.from_bytes(data[body + 14 : body + 16], "little")
        elif tag == b"data":
            end = len(data) if size in (0, 0xFFFFFFFF, 0x7FFFFFFF) or body + size > len(data) else body + size
            raw = data[body:end]
            if bits != 16 or sr <= 0:
                raise ValueError(f"unsupported WAV: {bits}-bit, {sr} Hz")
            pcm = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
            if channels > 1:
                pcm = pcm[: len(pcm) // channels * channels].reshape(-1, channels).mean(axis=1)
            return pcm, sr
        pos = body + size + (size & 1)
    raise ValueError("WAV stream has no data chunk")


def run_to_wav(cmd: list[str], *, stdin: bytes | None = None, suffix: str = ".wav") -> tuple[np.ndarray, int]:
    """Run `cmd` with ``{out}`` replaced by a temporary WAV path and read that file back."""
    with tempfile.TemporaryDirectory(prefix="m5ser-tts-") as tmp:
        out = Path(tmp) / f"out{suffix}"
        run([str(out) if part == "{out}" else part for part in cmd], stdin=stdin)
        if not out.exists() or out.stat().st_size == 0:
            raise RuntimeError(f"{Path(cmd[0]).name} wrote no audio")
        return parse_wav(out.read_bytes())

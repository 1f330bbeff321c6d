"""espeak-ng synthesizer driven through libespeak-ng 1.52 (from `espeakng-loader`).

The library is called in-process through ctypes (no subprocess per clip). It is the same
engine for every language, including tonal Mandarin (`cmn`), which Debian's 1.51 lacks.
Emotion prosody arrives as SSML: rate/pitch/range/volume on the whole sentence and the F0
contour as pitch steps over word groups; pauses are silence inserted between phrases.
"""

from __future__ import annotations

import ctypes
import os
import re
import threading
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

from m5ser.registry import require
from m5ser.schema import Prosody, Voice

AUDIO_OUTPUT_SYNCHRONOUS = 2
POS_CHARACTER = 1
ESPEAK_CHARS_UTF8 = 1
ESPEAK_SSML = 0x10
RAND_SEED = 12345

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
_LOCK = threading.Lock()  # one fork at a time per process


class _Engine:
    """The process-wide libespeak-ng instance."""

    _instance: _Engine | None = None

    def __init__(self) -> None:
        loader = require("espeakng_loader", "tts")
        self.lib = ctypes.cdll.LoadLibrary(loader.get_library_path())
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        self.libc = ctypes.CDLL(None)
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        data_path = loader.get_data_path().encode()
        self.sample_rate = self.lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, 0)
        if self.sample_rate <= 0:
            raise RuntimeError(f"espeak_Initialize failed with data path {data_path!r}")
        self._chunks: list[np.ndarray] = []
        self._callback = _CALLBACK(self._collect)  # keep a reference: ctypes does not
        self.lib.espeak_SetSynthCallback(self._callback)

    @classmethod
    def get(cls) -> _Engine:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def _collect(self, wav: Any, n: int, _events: Any) -> int:
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    def _synth_here(self, ssml: str, voice_name: str) -> np.ndarray:
        if self.lib.espeak_SetVoiceByName(voice_name.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice '{voice_name}'")
        self._chunks = []
        # Breathy variants draw noise from libc rand() and espeak's own generator: seed both.
        self.libc.srand(RAND_SEED)
        self.lib.espeak_ng_SetRandSeed(RAND_SEED)
        data = ssml.encode("utf-8") + b"\0"
        rc = self.lib.espeak_Synth(data, len(data), 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8 | ESPEAK_SSML, None, None)
        if rc != 0:
            raise RuntimeError(f"espeak_Synth failed (error {rc}) for voice '{voice_name}'")
        self.lib.espeak_Synchronize()
        chunks, self._chunks = self._chunks, []
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)

    def synth(self, ssml: str, voice_name: str) -> np.ndarray:
        """Synthesize in a forked child so every clip starts from the same engine state.

        libespeak-ng carries state from one utterance into the next (the output of a
        sentence depends on what was spoken before it), which would make a clip depend on
        build order. The parent never synthesizes; each fork does one clip and exits.
        """
        with _LOCK:
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:  # child: synthesize, send int16 samples (or an error), exit at once
                os.close(read_fd)
                try:
                    payload = b"A" + self._synth_here(ssml, voice_name).astype("<i2").tobytes()
                except Exception as e:  # reported to the parent, which raises it
                    payload = b"E" + f"{type(e).__name__}: {e}".encode()
                with os.fdopen(write_fd, "wb") as f:
                    f.write(payload)
                os._exit(0)
            os.close(write_fd)
            with os.fdopen(read_fd, "rb") as f:
                payload = f.read()
            _, status = os.waitpid(pid, 0)
        if not payload or status != 0:
            raise RuntimeError(f"espeak-ng worker for voice '{voice_name}' died (status {status})")
        if payload[:1] == b"E":
            message = payload[1:].decode()
            raise (ValueError if message.startswith("ValueError") else RuntimeError)(message)
        return np.frombuffer(payload[1:], dtype="<i2").astype(np.float32) / 32768.0


CONTOUR_GROUPS = 4  # word groups a contour is stepped over
_PHRASE_END = re.compile(r"([,;:.!?，。！？；：、])\s*")


def _contour_steps(contour: list[list[float]], n_groups: int) -> list[float]:
    """Pitch offsets (percent) for `n_groups` equal word groups, interpolated from `contour`."""
    if not contour or n_groups == 0:
        return [0.0] * n_groups
    xs = [p[0] for p in contour]
    ys = [p[1] for p in contour]
    centres = [(i + 0.5) * 100.0 / n_groups for i in range(n_groups)]
    return [float(np.interp(c, xs, ys)) for c in centres]


def _pct(value: float) -> str:
    return f"{value:+.0f}%"


def build_ssml(text: str, prosody: Prosody, contour: list[list[float]], *, cjk: bool = False) -> str:
    """SSML for one phrase: sentence-level prosody and an F0 contour stepped over word groups.

    >>> ssml = build_ssml("Hi there", Prosody(rate=10), [[0, 10], [100, -10]])
    >>> ssml.endswith('<prosody pitch="+5%">Hi</prosody> <prosody pitch="-5%">there</prosody></prosody></speak>')
    True
    """
    tokens = list(text.strip()) if cjk else text.split()
    n_groups = min(len(tokens), CONTOUR_GROUPS) if contour else 1
    size = max(1, -(-len(tokens) // max(1, n_groups)))
    joiner = "" if cjk else " "
    groups = []
    for i, step in enumerate(_contour_steps(contour, n_groups)):
        chunk = joiner.join(tokens[i * size : (i + 1) * size])
        if chunk:
            groups.append(f'<prosody pitch="{_pct(step)}">{escape(chunk)}</prosody>')
    attrs = (
        f'rate="{_pct(prosody.rate)}" pitch="{_pct(prosody.pitch)}" '
        f'range="{_pct(prosody.range)}" volume="{_pct(prosody.volume)}"'
    )
    return f"<speak><prosody {attrs}>{joiner.join(groups)}</prosody></speak>"


def split_phrases(text: str) -> list[str]:
    """Phrases at punctuation boundaries (kept with their punctuation).

    >>> split_phrases("Well, I never. Did you?")
    ['Well,', 'I never.', 'Did you?']
    """
    parts = _PHRASE_END.split(text.strip())
    phrases = ["".join(parts[i : i + 2]).strip() for i in range(0, len(parts), 2)]
    return [p for p in phrases if p and not _PHRASE_END.fullmatch(p)]


def _kana(text: str) -> str:
    """Japanese text as hiragana (espeak-ng's Japanese reads kana, not kanji)."""
    pykakasi = require("pykakasi", "tts")
    return "".join(item["hira"] for item in pykakasi.kakasi().convert(text))


class EspeakSynthesizer:
    """espeak-ng voices and variants; `Voice.voice` is e.g. ``de`` or ``de+m3``."""

    name = "espeak"

    def __init__(self) -> None:
        self.engine = _Engine.get()

    @property
    def sample_rate(self) -> int:
        return self.engine.sample_rate

    @staticmethod
    def known_voices() -> set[str]:
        """Voice names libespeak-ng 1.52 answers to, lower case (language files: ``de``, ``en-us``)."""
        root = Path(require("espeakng_loader", "tts").get_data_path()) / "lang"
        return {p.name.lower() for p in root.rglob("*") if p.is_file()}

    def synthesize(self, text: str, voice: Voice, prosody: Prosody) -> tuple[np.ndarray, int]:
        lang = voice.lang
        cjk = lang in ("zh", "ja")
        if lang == "ja":
            text = _kana(text)
        contour = [list(p) for p in prosody.contour_points]
        sr = self.engine.sample_rate
        if prosody.pause_ms <= 0:
            return self.engine.synth(build_ssml(text, prosody, contour, cjk=cjk), voice.voice), sr
        # Pauses: each phrase is synthesized alone and joined with silence. (SSML <break>
        # in libespeak-ng 1.52 leaks a slower rate into later calls, so it is not used.)
        gap = np.zeros(int(sr * prosody.pause_ms / 1000), dtype=np.float32)
        pieces: list[np.ndarray] = []
        for phrase in split_phrases(text):
            if pieces:
                pieces.append(gap)
            pieces.append(self.engine.synth(build_ssml(phrase, prosody, contour, cjk=cjk), voice.voice))
        return (np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)), sr

"""The libespeak-ng 1.52 binding (from `espeakng-loader`), shared by the engines that use it.

Not an engine itself (like `cli`, it is shared infrastructure): the `espeak` engine
synthesizes SSML through it and `kokoro` takes IPA phonemes from it. One library instance
per process, called in-process through ctypes; every call holds one process-wide lock, so
the functions here are thread-safe.

- `phonemize(text, voice)`: IPA of a text as espeak-ng reads it with a voice.
- `LibEspeak.get().synthesize(ssml, voice)`: one clip, in a child forked from a zygote (see
  there why).

Run as ``python -m m5ser.tts.engines.libespeak``, the module is that zygote: a small process
that initializes the library and never synthesizes. Forking it costs ~1 ms; forking the worker
itself, which holds numpy, scipy, Praat, Arrow (and on the hub stack torch), costs 10-50 ms of
page-table copying per clip. The zygote keeps one *voice zygote* per recently used voice: a child
that selected the voice (loading its dictionary, ~3.5 ms for German, which a fresh child also
spends warming up its first synthesis) and never synthesizes either; it forks one child per clip
of its voice. A clip goes through the same library calls in the same order as in a child of the
zygote that selected the voice itself, so its samples are the same.
"""

from __future__ import annotations

import array
import atexit
import contextlib
import ctypes
import json
import os
import struct
import subprocess
import sys
import threading
import traceback
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn

if TYPE_CHECKING:
    import numpy as np

# numpy and m5ser.registry (which imports numpy) are imported inside the functions that need
# them: the zygote runs this module and must stay small (the larger a process, the more page
# tables every fork copies; tests/tts/engines/test_espeak.py checks numpy stays out).

AUDIO_OUTPUT_SYNCHRONOUS = 2
POS_CHARACTER = 1
ESPEAK_CHARS_UTF8 = 1
ESPEAK_SSML = 0x10
IPA_MODE = 0x02  # espeak_TextToPhonemes: bit 1 = IPA output
RAND_SEED = 12345
MAX_VOICE_ZYGOTES = 16
"""Voice zygotes a zygote keeps at most; the least recently used one ends when another is needed."""

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
_LOCK = threading.Lock()  # one library call (or fork) at a time per process


class LibEspeak:
    """The process-wide libespeak-ng instance; get it with `LibEspeak.get()`."""

    _instance: LibEspeak | None = None

    def __init__(self) -> None:
        loader = _loader()
        self.lib = ctypes.cdll.LoadLibrary(loader.get_library_path())
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        self.lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self.lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        self.libc = ctypes.CDLL(None)
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        data_path = loader.get_data_path().encode()
        self.sample_rate: int = self.lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, 0)
        if self.sample_rate <= 0:
            raise RuntimeError(f"espeak_Initialize failed with data path {data_path!r}")
        self._chunks: list[bytes] = []
        self._callback = _CALLBACK(self._collect)  # keep a reference: ctypes does not
        self.lib.espeak_SetSynthCallback(self._callback)

    @classmethod
    def get(cls) -> LibEspeak:
        """The process's instance (loaded on first use)."""
        with _LOCK:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def _collect(self, wav: Any, n: int, _events: Any) -> int:
        if n > 0:
            self._chunks.append(ctypes.string_at(wav, 2 * n))  # n native int16 samples
        return 0

    def _set_voice(self, voice_name: str) -> None:
        if self.lib.espeak_SetVoiceByName(voice_name.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice '{voice_name}'")

    def synthesize_here(self, ssml: str, voice_name: str) -> np.ndarray:
        """int16 samples of `ssml`, synthesized in this process (not thread-safe on its own).

        The result depends on what this process synthesized before (see `synthesize`): only
        benchmarks call it directly.
        """
        import numpy as np

        return np.frombuffer(self._pcm(ssml, voice_name, select=True), dtype="<i2")

    def _pcm(self, ssml: str, voice_name: str, *, select: bool) -> bytes:
        """`ssml` synthesized in this process as little-endian int16 bytes; `select=False`: the
        voice was selected already (a voice zygote's child)."""
        if select:
            self._set_voice(voice_name)
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
        pcm = b"".join(chunks)
        if sys.byteorder == "big":
            swapped = array.array("h", pcm)
            swapped.byteswap()
            pcm = swapped.tobytes()
        return pcm

    def synthesize(self, ssml: str, voice_name: str) -> np.ndarray:
        """float32 samples of `ssml`, synthesized in a child of this process's zygote, so every
        clip starts from the same engine state.

        libespeak-ng carries state from one utterance into the next (the output of a
        sentence depends on what was spoken before it), which would make a clip depend on
        build order. The zygote never synthesizes; each of its forks does one clip and exits,
        so a clip is byte-identical to the first clip of a freshly initialized engine. The
        zygote is started on first use, once per process (a forked worker starts its own).
        """
        with _LOCK:
            payload = _Zygote.current().request(ssml, voice_name)
        return _decode(payload, voice_name)

    def fork_synthesize(self, ssml: str, voice_name: str, *, select: bool = True) -> bytes:
        """One clip in a forked child of this process: ``b"A"`` + int16 samples, or ``b"E"`` +
        the error. Only zygotes call it (their engine never synthesizes itself); a voice zygote
        passes `select=False` (its voice is selected already)."""
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: synthesize, send int16 samples (or an error), exit at once
            os.close(read_fd)
            try:
                payload = b"A" + self._pcm(ssml, voice_name, select=select)
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
            return b"E" + f"RuntimeError: espeak-ng child for voice '{voice_name}' died (status {status})".encode()
        return payload

    def phonemes(self, text: str, voice_name: str) -> str:
        """IPA of `text` read with `voice_name`; clauses joined by a space (thread-safe)."""
        buf = ctypes.create_string_buffer(text.encode("utf-8"))
        ptr = ctypes.c_void_p(ctypes.addressof(buf))
        parts: list[str] = []
        with _LOCK:
            self._set_voice(voice_name)
            while ptr.value:
                res = self.lib.espeak_TextToPhonemes(ctypes.byref(ptr), ESPEAK_CHARS_UTF8, IPA_MODE)
                if res:
                    parts.append(res.decode("utf-8").strip())
        return " ".join(p for p in parts if p)


def _decode(payload: bytes, voice_name: str) -> np.ndarray:
    """float32 samples from a child's reply; its error re-raised as ValueError or RuntimeError."""
    if payload[:1] == b"E":
        message = payload[1:].decode()
        raise (ValueError if message.startswith("ValueError") else RuntimeError)(message)
    if payload[:1] != b"A":
        raise RuntimeError(f"espeak-ng zygote sent a malformed reply for voice '{voice_name}'")
    import numpy as np

    return np.frombuffer(payload[1:], dtype="<i2").astype(np.float32) / 32768.0


_FRAME = struct.Struct(">I")  # every message on the zygote's pipes: 4-byte length + body


def _read_frame(stream: Any) -> bytes | None:
    """One message from `stream`, or None at end of file."""
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return None
    (n,) = _FRAME.unpack(head)
    body = stream.read(n)
    if len(body) < n:
        return None
    return body


def _write_frame(stream: Any, body: bytes) -> None:
    stream.write(_FRAME.pack(len(body)) + body)
    stream.flush()


class _Zygote:
    """The handle of this process's zygote (`python -m m5ser.tts.engines.libespeak`)."""

    _current: _Zygote | None = None

    def __init__(self, max_voice_zygotes: int = MAX_VOICE_ZYGOTES) -> None:
        """Start a zygote keeping up to `max_voice_zygotes` voice zygotes (0: it forks every clip
        itself, the previous design, kept for benchmarks)."""
        package_root = str(Path(__file__).resolve().parents[3])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
        self.owner = os.getpid()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "m5ser.tts.engines.libespeak", str(max_voice_zygotes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )

    @classmethod
    def current(cls) -> _Zygote:
        """This process's zygote, started (or restarted after a crash or a fork) when needed."""
        z = cls._current
        if z is None or z.owner != os.getpid() or z.proc.poll() is not None:
            z = cls._current = cls()
        return z

    def request(self, ssml: str, voice_name: str) -> bytes:
        """The reply of one child (see `LibEspeak.fork_synthesize`)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            _write_frame(self.proc.stdin, json.dumps({"ssml": ssml, "voice": voice_name}).encode())
            reply = _read_frame(self.proc.stdout)
        except (BrokenPipeError, OSError) as e:
            reply = None
            err = e
        else:
            err = None
        if reply is None:
            raise RuntimeError(f"espeak-ng zygote (pid {self.proc.pid}) died (exit {self.proc.poll()}, {err})")
        return reply

    def close(self) -> None:
        """End the zygote (it exits at end of input)."""
        if self.owner == os.getpid() and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=10)


@atexit.register
def _close_zygote() -> None:
    if _Zygote._current is not None:
        _Zygote._current.close()


@dataclass
class _VoiceZygote:
    """A child of the zygote that selected one voice (see the module docstring)."""

    pid: int
    requests: BinaryIO  # SSML documents to it
    replies: BinaryIO  # one child's reply per document from it


class _VoiceZygotes:
    """The zygote's voice zygotes, most recently used last."""

    def __init__(self, engine: LibEspeak, inherited: list[int], limit: int = MAX_VOICE_ZYGOTES) -> None:
        self.engine = engine
        self.limit = limit
        self.inherited = inherited  # the zygote's own pipe ends: a voice zygote closes them
        self.by_voice: OrderedDict[str, _VoiceZygote] = OrderedDict()

    def request(self, ssml: str, voice_name: str) -> bytes:
        """The reply of one child of `voice_name`'s voice zygote (started when needed); with a
        limit of 0, of a child of this process."""
        if self.limit == 0:
            return self.engine.fork_synthesize(ssml, voice_name)
        zygote = self.by_voice.get(voice_name)
        if zygote is None:
            started = self._start(voice_name)
            if isinstance(started, bytes):
                return started  # the voice cannot be selected: its error
            zygote = self.by_voice[voice_name] = started
            while len(self.by_voice) > self.limit:
                self._end(next(iter(self.by_voice)))
        self.by_voice.move_to_end(voice_name)
        try:
            _write_frame(zygote.requests, ssml.encode("utf-8"))
            reply = _read_frame(zygote.replies)
        except OSError:
            reply = None
        if reply is None:
            self._end(voice_name)
            return b"E" + f"RuntimeError: espeak-ng voice zygote for '{voice_name}' died".encode()
        return reply

    def _start(self, voice_name: str) -> _VoiceZygote | bytes:
        """Fork a voice zygote; it replies ``b"R"`` once its voice is selected, else its error."""
        request_r, request_w = os.pipe()
        reply_r, reply_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            for fd in (request_w, reply_r, *self.inherited):  # so that only its parent holds its pipes
                os.close(fd)
            _serve_voice(self.engine, voice_name, os.fdopen(request_r, "rb"), os.fdopen(reply_w, "wb"))
        os.close(request_r)
        os.close(reply_w)
        self.inherited += [request_w, reply_r]
        zygote = _VoiceZygote(pid, os.fdopen(request_w, "wb"), os.fdopen(reply_r, "rb"))
        ready = _read_frame(zygote.replies)
        if ready == b"R":
            return zygote
        self._close(zygote)
        return ready or b"E" + f"RuntimeError: espeak-ng voice zygote for '{voice_name}' died".encode()

    def _end(self, voice_name: str) -> None:
        self._close(self.by_voice.pop(voice_name))

    def _close(self, zygote: _VoiceZygote) -> None:
        """End a voice zygote (it exits at end of input) and reap it."""
        for f in (zygote.requests, zygote.replies):
            self.inherited.remove(f.fileno())
            with contextlib.suppress(BrokenPipeError):  # a dead voice zygote: nothing left to send it
                f.close()
        os.waitpid(zygote.pid, 0)

    def close(self) -> None:
        while self.by_voice:
            self._end(next(iter(self.by_voice)))


def _serve_voice(engine: LibEspeak, voice_name: str, requests: BinaryIO, replies: BinaryIO) -> NoReturn:
    """A voice zygote's life: select the voice, then fork one child per SSML document; never returns."""
    status = 0
    try:
        try:
            engine._set_voice(voice_name)
        except ValueError as e:
            _write_frame(replies, b"E" + f"{type(e).__name__}: {e}".encode())
        else:
            _write_frame(replies, b"R")
            while (frame := _read_frame(requests)) is not None:
                _write_frame(replies, engine.fork_synthesize(frame.decode("utf-8"), voice_name, select=False))
    except BaseException:  # its parent sees the pipe close and reports the death
        traceback.print_exc()
        status = 1
    finally:
        os._exit(status)


def serve(max_voice_zygotes: int = MAX_VOICE_ZYGOTES) -> None:
    """The zygote's loop: initialize the library, then pass each request on stdin to the voice
    zygote of its voice (at most `max_voice_zygotes` of them) and send back its reply."""
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything the library prints goes to stderr, never into the replies
    engine = LibEspeak.get()
    voices = _VoiceZygotes(engine, [requests.fileno(), replies.fileno()], max_voice_zygotes)
    try:
        while (frame := _read_frame(requests)) is not None:
            request = json.loads(frame)
            _write_frame(replies, voices.request(request["ssml"], request["voice"]))
    finally:
        voices.close()


def _loader() -> Any:
    """The `espeakng_loader` module (an error naming the ``tts`` extra when it is missing)."""
    try:
        import espeakng_loader
    except ImportError:
        from m5ser.registry import require  # (not imported first: it imports numpy, see above)

        return require("espeakng_loader", "tts")  # raises, naming the extra
    return espeakng_loader


def phonemize(text: str, voice_name: str) -> str:
    """IPA phonemes of `text` as libespeak-ng 1.52 reads it with the voice `voice_name`
    (``de``, ``en-us``, ``cmn``, …): words separated by spaces, stress marks kept, clauses
    joined by a space, punctuation dropped. Thread-safe (holds the library lock); runs in this
    process, no fork. An unknown voice is a `ValueError`.

    >>> phonemize("Guten Tag", "de")
    'ɡˈuːtən tˈɑːk'
    """
    return LibEspeak.get().phonemes(text, voice_name)


def known_voices() -> set[str]:
    """Voice names libespeak-ng 1.52 answers to, lower case (language files: ``de``, ``en-us``)."""
    root = Path(_loader().get_data_path()) / "lang"
    return {p.name.lower() for p in root.rglob("*") if p.is_file()}


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else MAX_VOICE_ZYGOTES)

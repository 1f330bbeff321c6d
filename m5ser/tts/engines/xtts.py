"""Coqui XTTS-v2 (`coqui-tts`, imports as `TTS`): the hub backend, voice cloning from per-emotion clips.

coqui-tts needs torchaudio, hence torch 2.9.x, while the main venv runs torch 2.14.1: XTTS
lives in its own environment (`.venv-xtts`, made by `scripts/install-xtts.sh`) and runs in a
long-lived worker process (`scripts/xtts_worker.py`) that this class starts on first use and
talks to in JSON lines. The worker loads an XTTS checkpoint folder (config.json, model.pth,
vocab.json, optionally speakers_xtts.pth: a local copy of the hub's ``coqui/XTTS-v2``) with
`Xtts(config).load_checkpoint(...)`, offline.

Speaker bank entry (``manifests/voices/<lang>.yaml``; see its README, section ``xtts:``)::

    - id: en-xtts-f1
      engine: xtts
      voice: clone                 # or a built-in speaker of speakers_xtts.pth, e.g. "Ana Florence"
      gender: female
      license: CPML-non-commercial # XTTS-v2 weights; add the reference clips' licence
      options:
        references:                # per emotion: one clip or a list of clips of ONE speaker
          neutral: xtts/en-f1/neutral.wav
          angry: [xtts/en-f1/angry-1.wav, xtts/en-f1/angry-2.wav]
        generation: {temperature: 0.7}   # optional XTTS sampling settings
        xtts_language: en          # optional XTTS language code; default the bank's `lang`

Emotion: the clip is cloned from the emotion's own references when the speaker has them; then
only `reference_prosody` (default 0) of the emotion's prosody is added on top, since the
reference already carries it. Otherwise it is cloned from the ``neutral`` references (or the
built-in speaker) and the full prosody is rendered: the rate through XTTS's ``speed``, F0
level/range/contour, pauses and loudness by `m5ser.tts.dsp` (PSOLA). The emotion is read from
``prosody.emotion``; a `Prosody` without that field counts as neutral.

Options (constructor keywords, else environment): ``model_dir`` (``M5SER_XTTS_MODEL_DIR``),
``python`` (``M5SER_XTTS_PYTHON``, default ``<repo>/.venv-xtts/bin/python``), ``worker``
(``M5SER_XTTS_WORKER``, default ``<repo>/scripts/xtts_worker.py``), ``references_dir`` for
relative reference paths (``M5SER_XTTS_REFERENCES_DIR``, default the working directory),
``device``, ``threads``, ``generation``, ``reference_prosody``, ``seed``, timeouts.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import hashlib
import json
import os
import queue
import subprocess
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import numpy as np

from m5ser.registry import MissingDependencyError
from m5ser.schema import Prosody, Voice

ROOT = Path(__file__).resolve().parents[3]  # the repository (m5ser/tts/engines/xtts.py)
CLONE = "clone"  # `Voice.voice` value for speakers defined by their reference clips only
NEUTRAL = "neutral"


@dataclass(frozen=True, slots=True)
class Conditioning:
    """What one clip is cloned from."""

    references: tuple[str, ...]  # absolute paths of reference clips (empty: built-in speaker)
    speaker: str | None  # built-in speaker name when there are no references
    emotional: bool  # True when the references are the emotion's own


def conditioning_for(voice: Voice, emotion: str, references_dir: Path) -> Conditioning:
    """The emotion's own references, else the neutral ones, else the built-in speaker `voice.voice`."""
    refs = voice.options.get("references") or {}
    if not isinstance(refs, Mapping):
        raise ValueError(f"xtts: {voice.id}: options.references must map emotion -> clip path(s)")

    def paths(emo: str) -> tuple[str, ...]:
        value = refs.get(emo) or ()
        items = [value] if isinstance(value, str | os.PathLike) else list(value)
        out = []
        for item in items:
            path = Path(item) if Path(item).is_absolute() else references_dir / item
            if not path.is_file():
                raise FileNotFoundError(f"xtts: {voice.id}: reference clip for {emo!r} not found: {path}")
            out.append(str(path.resolve()))
        return tuple(out)

    if own := paths(emotion):
        return Conditioning(own, None, True)
    if neutral := paths(NEUTRAL):
        return Conditioning(neutral, None, emotion == NEUTRAL)
    if voice.voice and voice.voice != CLONE:
        return Conditioning((), voice.voice, emotion == NEUTRAL)
    raise ValueError(f"xtts: {voice.id}: no references for {emotion!r} or {NEUTRAL!r} and no built-in speaker")


def scaled(prosody: Prosody, factor: float) -> Prosody:
    """`prosody` with every shift (rate, F0 level/range/contour, loudness, pauses) times `factor`."""
    return replace(
        prosody,
        rate=prosody.rate * factor,
        pitch=prosody.pitch * factor,
        range=prosody.range * factor,
        volume=prosody.volume * factor,
        pause_ms=round(prosody.pause_ms * factor),
        contour_points=tuple((x, y * factor) for x, y in prosody.contour_points),
    )


def _is_flat(prosody: Prosody) -> bool:
    shifts = (prosody.pitch, prosody.range, prosody.volume, prosody.pause_ms)
    return all(v == 0 for v in shifts) and all(y == 0 for _, y in prosody.contour_points)


def xtts_language(voice: Voice) -> str:
    """The XTTS language code a voice is spoken in: option `xtts_language`, else `voice.lang`.

    XTTS names some languages differently from the speaker bank (Mandarin is ``zh-cn``); the
    bank says so in data (`manifests/voices/zh.yaml`: ``options: {xtts_language: zh-cn}``).

    >>> xtts_language(Voice("zh-x", "zh", "xtts", "clone", "female", "x", options={"xtts_language": "zh-cn"}))
    'zh-cn'
    """
    return str(voice.options.get("xtts_language", voice.lang))


def clip_seed(base_seed: int, text: str, voice: Voice, prosody: Prosody) -> int:
    """A sampling seed that depends only on the clip's inputs, so a clip renders the same twice."""
    key = json.dumps([base_seed, text, voice.id, prosody.as_dict()], sort_keys=True)
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "little") & 0x7FFFFFFF


class _Worker:
    """The worker subprocess: one JSON request line in, one JSON answer line out."""

    def __init__(self, cmd: list[str], env: dict[str, str], start_timeout: float) -> None:
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
            env=env,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        threading.Thread(target=_pump, args=(self.proc.stdout, self._lines.put, True), daemon=True).start()
        threading.Thread(target=_pump, args=(self.proc.stderr, self._stderr.append, False), daemon=True).start()
        self._finalizer = weakref.finalize(self, _stop, self.proc)
        self._next_id = 0
        self.info = self._read(start_timeout, "starting")
        if self.info.get("event") != "ready":
            self.close()
            raise RuntimeError(f"xtts worker failed to load the model: {self.info.get('error')}\n{self.stderr_tail()}")

    def stderr_tail(self) -> str:
        return "\n".join(self._stderr)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _read(self, timeout: float, what: str) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            self.close()
            raise RuntimeError(f"xtts worker: no answer within {timeout:.0f} s while {what}") from None
        if line is None:
            self.proc.wait(timeout=10)
            raise RuntimeError(f"xtts worker exited (code {self.proc.returncode}) while {what}:\n{self.stderr_tail()}")
        return json.loads(line)

    def request(self, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
        self._next_id += 1
        rid = self._next_id
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps({"id": rid} | payload, ensure_ascii=False) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError as e:
            raise RuntimeError(f"xtts worker is gone:\n{self.stderr_tail()}") from e
        answer = self._read(timeout, f"answering request {rid}")
        if answer.get("id") != rid:
            self.close()
            raise RuntimeError(f"xtts worker answered request {answer.get('id')} instead of {rid}")
        return answer

    def close(self) -> None:
        """End the worker (it exits when its stdin closes)."""
        self._finalizer()


def _pump(stream: IO[str], sink: Callable[[Any], None], mark_eof: bool) -> None:
    """Forward `stream`'s lines to `sink` (a reader thread); `None` marks the end when `mark_eof`."""
    for line in stream:
        sink(line.rstrip("\n"))
    if mark_eof:
        sink(None)


def _stop(proc: subprocess.Popen[str]) -> None:
    """End the worker: close its stdin (it exits at EOF), kill it if it does not."""
    if proc.stdin is not None and not proc.stdin.closed:
        with contextlib.suppress(BrokenPipeError):  # the worker is already gone: nothing to flush to
            proc.stdin.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class XTTSSynthesizer:
    """XTTS-v2 through a worker in `.venv-xtts`; `Voice.voice` is ``clone`` or a built-in speaker name."""

    name = "xtts"

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        python: str | Path | None = None,
        worker: str | Path | None = None,
        references_dir: str | Path | None = None,
        device: str = "cpu",
        threads: int = 0,
        generation: Mapping[str, Any] | None = None,
        reference_prosody: float = 0.0,
        seed: int = 0,
        start_timeout: float = 600.0,
        timeout: float = 600.0,
    ) -> None:
        env = os.environ
        self.python = Path(python or env.get("M5SER_XTTS_PYTHON") or ROOT / ".venv-xtts/bin/python")
        self.worker_script = Path(worker or env.get("M5SER_XTTS_WORKER") or ROOT / "scripts/xtts_worker.py")
        if not self.python.exists():
            raise MissingDependencyError(
                f"xtts: no XTTS environment at {self.python}; create it with: bash scripts/install-xtts.sh "
                "(or set M5SER_XTTS_PYTHON)"
            )
        if not self.worker_script.is_file():
            raise MissingDependencyError(f"xtts: worker script {self.worker_script} not found (set M5SER_XTTS_WORKER)")
        model = model_dir or env.get("M5SER_XTTS_MODEL_DIR")
        if not model:
            raise MissingDependencyError(
                "xtts: no model folder; download coqui/XTTS-v2 from the Hugging Face Hub to a folder and set "
                "M5SER_XTTS_MODEL_DIR (or the engine option model_dir)"
            )
        self.model_dir = Path(model).resolve()
        self.references_dir = Path(references_dir or env.get("M5SER_XTTS_REFERENCES_DIR") or Path.cwd())
        self.device = device
        self.threads = threads
        self.generation = dict(generation or {})
        self.reference_prosody = reference_prosody
        self.seed = seed
        self.start_timeout = start_timeout
        self.timeout = timeout
        self._worker: _Worker | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> XTTSSynthesizer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker (a later call starts a new one)."""
        with self._lock:
            if self._worker is not None:
                self._worker.close()
                self._worker = None

    def _ensure_worker(self) -> _Worker:
        if self._worker is None or not self._worker.alive():
            cmd = [str(self.python), str(self.worker_script), "serve", "--model-dir", str(self.model_dir)]
            cmd += ["--device", self.device, "--threads", str(self.threads)]
            env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
            env |= {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
            self._worker = _Worker(cmd, env, self.start_timeout)
        return self._worker

    @property
    def info(self) -> dict[str, Any]:
        """The worker's ready message: sample_rate, languages, built-in speakers (starts the worker)."""
        with self._lock:
            return dict(self._ensure_worker().info)

    def synthesize(self, text: str, voice: Voice, prosody: Prosody) -> tuple[np.ndarray, int]:
        emotion = str(getattr(prosody, "emotion", None) or NEUTRAL)
        cond = conditioning_for(voice, emotion, self.references_dir)
        rendered = scaled(prosody, self.reference_prosody) if cond.emotional and emotion != NEUTRAL else prosody
        request = {
            "op": "synthesize",
            "text": text,
            "language": xtts_language(voice),
            "references": list(cond.references),
            "speaker": cond.speaker,
            "seed": clip_seed(self.seed, text, voice, prosody),
            "speed": min(max(1.0 + rendered.rate / 100.0, 0.5), 2.0),
            "params": self.generation | dict(voice.options.get("generation") or {}),
        }
        with self._lock:
            answer = self._ensure_worker().request(request, self.timeout)
        if not answer.get("ok"):
            raise RuntimeError(f"xtts: {voice.id}: {answer.get('error')}")
        sr = int(answer["sample_rate"])
        samples = np.frombuffer(base64.b64decode(answer["pcm_f32le_b64"]), dtype="<f4").astype(np.float32)
        if samples.size == 0:
            raise RuntimeError(f"xtts: {voice.id}: no audio for {text!r}")
        if not _is_flat(rendered):
            from m5ser.tts import dsp  # parselmouth: imported only when prosody is rendered

            samples = dsp.apply_prosody(samples, sr, replace(rendered, rate=0.0))
        return samples, sr

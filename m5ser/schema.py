"""The records: `Utterance` (one clip, read and written by every step), `Voice` (one speaker of
the speaker bank) and `Prosody` (the emotion targets of one clip). They import no stage."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Any

SAMPLE_RATE = 16_000
"""Every clip in M5SER is 16 kHz mono PCM16."""


@dataclass(frozen=True, slots=True)
class Voice:
    """One speaker of the speaker bank (`manifests/voices/<lang>.yaml`)."""

    id: str
    lang: str
    engine: str
    voice: str
    gender: str
    license: str
    pitch_offset: float = 0.0  # percent added to every clip's SSML pitch
    rate_offset: float = 0.0  # percent added to every clip's SSML rate
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Prosody:
    """Target prosody of one clip, in SSML-style percent changes against neutral."""

    rate: float = 0.0
    pitch: float = 0.0
    range: float = 0.0
    volume: float = 0.0
    pause_ms: int = 0  # extra pause inserted at phrase boundaries
    contour: str = "flat"  # name of a contour shape in emotions.yaml
    contour_points: tuple[tuple[float, float], ...] = ()  # (percent of utterance, F0 percent) targets
    emotion: str = "neutral"  # the label rendered (engines that clone per-emotion references use it)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "pitch": self.pitch,
            "range": self.range,
            "volume": self.volume,
            "pause_ms": self.pause_ms,
            "contour": self.contour,
            "contour_points": [list(p) for p in self.contour_points],
            "emotion": self.emotion,
        }


def utterance_id(source_id: str, lang: str, speaker_id: str, emotion: str, seed: int) -> str:
    """Stable id of one clip: a hash of what makes it unique.

    >>> utterance_id("xed-en-17", "de", "de-m1", "angry", 0) == utterance_id("xed-en-17", "de", "de-m1", "angry", 0)
    True
    """
    key = "\x1f".join([source_id, lang, speaker_id, emotion, str(seed)])
    return hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()


def stable_key(*parts: object) -> int:
    """A seeded sort or draw key that depends only on `parts` (never on input order or the process)."""
    return int.from_bytes(hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest(), "little")


def sentence_id(source_id: str, lang: str) -> str:
    """Id of a sentence before it is cast (one speaker, one clip): source id + output language.

    >>> len(sentence_id("xed-en-17", "de"))
    16
    """
    key = "\x1f".join(["sentence", source_id, lang])
    return hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()


@dataclass(slots=True)
class Utterance:
    """Everything about one clip, from source text to filter verdict."""

    id: str = ""
    source_id: str = ""
    source_corpus: str = ""
    source_lang: str = ""
    source_text: str = ""
    lang: str = ""
    text: str = ""
    translation_backend: str = ""
    emotion: str = ""
    intensity: float = 1.0
    speaker_id: str = ""
    gender: str = ""
    tts_backend: str = ""
    voice: str = ""
    prosody: dict[str, Any] = field(default_factory=dict)
    audio_path: str = ""
    sample_rate: int = SAMPLE_RATE
    duration_s: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)
    drop_reason: str | None = None
    split: str = ""

    @property
    def kept(self) -> bool:
        return self.drop_reason is None

    @property
    def cast(self) -> bool:
        """Whether a speaker was assigned: a clip, not only a sentence (text-level drops are not)."""
        return bool(self.speaker_id)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a new dict, nested containers copied (as `dataclasses.asdict`, ~5x faster)."""
        return {name: _plain(getattr(self, name)) for name in _FIELD_ORDER}

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Utterance:
        """Build from a manifest row; unknown keys are an error, missing ones take defaults."""
        unknown = set(row) - FIELD_NAMES
        if unknown:
            raise KeyError(f"unknown Utterance field(s): {sorted(unknown)}")
        return cls(**row)


FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(Utterance))
_FIELD_ORDER = tuple(f.name for f in dataclasses.fields(Utterance))


def _plain(value: Any) -> Any:
    """A copy of a field value as `dataclasses.asdict` makes it (JSON-like containers fast)."""
    kind = type(value)
    if kind is dict:
        return {k: _plain(v) for k, v in value.items()}
    if kind is list:
        return [_plain(v) for v in value]
    if kind is tuple:
        return tuple(_plain(v) for v in value)
    if kind in (str, int, float, bool) or value is None:
        return value
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else copy.deepcopy(value)

"""The one record every pipeline step reads and writes."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Any

SAMPLE_RATE = 16_000
"""Every clip in M5SER is 16 kHz mono PCM16."""


def utterance_id(source_id: str, lang: str, speaker_id: str, emotion: str, seed: int) -> str:
    """Stable id of one clip: a hash of what makes it unique.

    >>> utterance_id("xed-en-17", "de", "de-m1", "angry", 0) == utterance_id("xed-en-17", "de", "de-m1", "angry", 0)
    True
    """
    key = "\x1f".join([source_id, lang, speaker_id, emotion, str(seed)])
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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Utterance:
        """Build from a manifest row; unknown keys are an error, missing ones take defaults."""
        unknown = set(row) - FIELD_NAMES
        if unknown:
            raise KeyError(f"unknown Utterance field(s): {sorted(unknown)}")
        return cls(**row)


FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(Utterance))

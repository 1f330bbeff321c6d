"""SSML for the espeak-ng front end (the `espeak` and `mbrola` engines) and the text options it reads.

How a language's text is handled is data, not code: the speaker bank
(`manifests/voices/<lang>.yaml`) sets these voice options, usually in its top-level
`options:` mapping, which every speaker of the file inherits:

- ``text_units``: ``words`` (default: units are split at whitespace and joined with a space)
  or ``characters`` (every character is a unit, joined without a space; for scripts written
  without spaces, such as Chinese and Japanese). The F0 contour is stepped over equal groups
  of units.
- ``script``: ``hiragana`` converts the text to hiragana before the front end reads it
  (espeak-ng's Japanese reads kana, not kanji; needs `pykakasi`). Absent: the text is read as
  it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

from m5ser.registry import require
from m5ser.schema import Prosody

CONTOUR_GROUPS = 4  # unit groups a contour is stepped over
TEXT_UNITS = ("words", "characters")
SCRIPTS = ("hiragana",)
_PHRASE_END = re.compile(r"([,;:.!?，。！？；：、])\s*")


@dataclass(frozen=True, slots=True)
class TextOptions:
    """The front-end text options of one voice (see the module docstring)."""

    units: str = "words"  # `text_units`: words | characters
    script: str | None = None  # `script`: None (as written) | hiragana

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> TextOptions:
        """Read `text_units` and `script` from a voice's options; unknown values are an error.

        >>> TextOptions.of({"text_units": "characters"})
        TextOptions(units='characters', script=None)
        """
        units = str(options.get("text_units", "words"))
        if units not in TEXT_UNITS:
            raise ValueError(f"voice option text_units: {units!r}; expected one of {TEXT_UNITS}")
        script = options.get("script")
        if script is not None and script not in SCRIPTS:
            raise ValueError(f"voice option script: {script!r}; expected one of {SCRIPTS} or none")
        return cls(units, script)

    def prepare(self, text: str) -> str:
        """`text` in the script the front end reads (unchanged when no `script` is set)."""
        return to_hiragana(text) if self.script == "hiragana" else text


def to_hiragana(text: str) -> str:
    """Japanese text (kanji, katakana, kana) as hiragana."""
    pykakasi = require("pykakasi", "tts")
    return "".join(item["hira"] for item in pykakasi.kakasi().convert(text))


def contour_steps(contour: list[list[float]], n_groups: int) -> list[float]:
    """Pitch offsets (percent) for `n_groups` equal unit groups, interpolated from `contour`.

    >>> contour_steps([[0, 10], [100, -10]], 2)
    [5.0, -5.0]
    """
    if not contour or n_groups == 0:
        return [0.0] * n_groups
    xs = [p[0] for p in contour]
    ys = [p[1] for p in contour]
    centres = [(i + 0.5) * 100.0 / n_groups for i in range(n_groups)]
    return [float(np.interp(c, xs, ys)) for c in centres]


def _pct(value: float) -> str:
    return f"{value:+.0f}%"


def build_ssml(text: str, prosody: Prosody, contour: list[list[float]], *, units: str = "words") -> str:
    """SSML for one phrase: sentence-level prosody and an F0 contour stepped over unit groups.

    `units` is ``words`` or ``characters`` (`TextOptions.units`).

    >>> ssml = build_ssml("Hi there", Prosody(rate=10), [[0, 10], [100, -10]])
    >>> ssml.endswith('<prosody pitch="+5%">Hi</prosody> <prosody pitch="-5%">there</prosody></prosody></speak>')
    True
    >>> build_ssml("我很好", Prosody(), [[0, 10], [100, -10]], units="characters").count("<prosody pitch=")
    3
    """
    if units not in TEXT_UNITS:
        raise ValueError(f"units: {units!r}; expected one of {TEXT_UNITS}")
    characters = units == "characters"
    tokens = list(text.strip()) if characters else text.split()
    n_groups = min(len(tokens), CONTOUR_GROUPS) if contour else 1
    size = max(1, -(-len(tokens) // max(1, n_groups)))
    joiner = "" if characters else " "
    groups = []
    for i, step in enumerate(contour_steps(contour, n_groups)):
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

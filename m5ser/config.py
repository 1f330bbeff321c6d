"""Recipes, the emotion file and the speaker bank: loading and validation."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from m5ser.schema import Voice


class RecipeError(ValueError):
    """A recipe, emotion or voices file that does not validate; names file and field."""


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise RecipeError(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise RecipeError(f"{path}: invalid YAML ({e})") from e
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: expected a mapping at the top level")
    return data


# --- emotions -------------------------------------------------------------------------


@dataclass(frozen=True)
class EmotionSpec:
    """The label set, corpus label maps and rendering rules from `emotions.yaml`."""

    labels: tuple[str, ...]
    rendering: dict[str, dict[str, Any]]
    jitter: dict[str, float]
    contours: dict[str, list[list[float]]]
    corpora: dict[str, dict[str, str | None]]
    voice_quality: dict[str, dict[str, Any]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # other spellings of a label (real corpora)

    def canonical_label(self, raw: str) -> str | None:
        """`raw` as a label of the set (case-insensitive, through `aliases`); None when outside.

        >>> spec = EmotionSpec(("neutral", "angry"), {}, {}, {}, {}, aliases={"anger": "angry"})
        >>> spec.canonical_label(" Anger "), spec.canonical_label("calm")
        ('angry', None)
        """
        key = str(raw).strip().lower()
        key = self.aliases.get(key, key)
        return key if key in self.labels else None

    def label_map(self, corpus: str, overrides: dict[str, str | None] | None = None) -> dict[str, str | None]:
        if corpus not in self.corpora:
            raise RecipeError(f"emotions.yaml: no label map for corpus '{corpus}'")
        mapping = {str(k): v for k, v in self.corpora[corpus].items()}
        for key, value in (overrides or {}).items():
            if value is not None and value not in self.labels:
                raise RecipeError(f"label override {key!r} -> {value!r}: not in the label set {self.labels}")
            mapping[str(key)] = value
        return mapping


def load_emotions(path: str | Path) -> EmotionSpec:
    data = load_yaml(path)
    for key in ("labels", "rendering", "contours", "corpora"):
        if key not in data:
            raise RecipeError(f"{path}: missing field '{key}'")
    labels = tuple(data["labels"])
    for emotion in labels:
        if emotion not in data["rendering"]:
            raise RecipeError(f"{path}: rendering.{emotion} is missing")
        contour = data["rendering"][emotion].get("contour", "flat")
        if contour not in data["contours"]:
            raise RecipeError(f"{path}: rendering.{emotion}.contour '{contour}' is not in contours")
    aliases = {str(k).lower(): v for k, v in (data.get("aliases") or {}).items()}
    for key, value in aliases.items():
        if value not in labels:
            raise RecipeError(f"{path}: aliases.{key} -> '{value}' is not a label")
    for corpus, mapping in data["corpora"].items():
        for key, value in mapping.items():
            if value is not None and value not in labels:
                raise RecipeError(f"{path}: corpora.{corpus}.{key} -> '{value}' is not a label")
    return EmotionSpec(
        labels=labels,
        rendering=data["rendering"],
        jitter=data.get("jitter", {}),
        contours=data["contours"],
        corpora=data["corpora"],
        voice_quality=data.get("voice_quality", {}),
        aliases=aliases,
    )


# --- speaker bank ---------------------------------------------------------------------


def load_voices(path: str | Path) -> list[Voice]:
    """Read `voices/<lang>.yaml`; every speaker needs id, engine, voice, gender, licence.

    A top-level `options:` mapping holds the language's text handling for the engines (for
    example how a sentence splits into units); each speaker's own `options` override it.
    """
    data = load_yaml(path)
    lang = data.get("lang")
    shared = data.get("options") or {}
    if not isinstance(shared, dict):
        raise RecipeError(f"{path}: options must be a mapping")
    speakers = data.get("speakers")
    if not lang or not isinstance(speakers, list):
        raise RecipeError(f"{path}: needs 'lang' and a list 'speakers'")
    voices = []
    for i, entry in enumerate(speakers):
        for key in ("id", "engine", "voice", "gender", "license"):
            if key not in entry:
                raise RecipeError(f"{path}: speakers[{i}] is missing '{key}'")
        if entry["gender"] not in ("male", "female"):
            raise RecipeError(f"{path}: speakers[{i}].gender must be male or female")
        voices.append(
            Voice(
                id=str(entry["id"]),
                lang=lang,
                engine=str(entry["engine"]),
                voice=str(entry["voice"]),
                gender=entry["gender"],
                license=str(entry["license"]),
                pitch_offset=float(entry.get("pitch_offset", 0.0)),
                rate_offset=float(entry.get("rate_offset", 0.0)),
                options={**shared, **(entry.get("options") or {})},
            )
        )
    ids = [v.id for v in voices]
    if len(set(ids)) != len(ids):
        raise RecipeError(f"{path}: duplicate speaker ids")
    return voices


_RESTRICTED = re.compile(r"non[- ]?commercial|(^|[-_ (])NC($|[-_ )])|non[- ]?free|proprietary", re.IGNORECASE)


def is_commercial_ok(license_name: str) -> bool:
    """False for licences that restrict use of the audio (non-commercial, ``-NC-``, non-free,
    proprietary): the one licence rule of the recipe filter ``build.licenses`` and the card.

    >>> names = ("GPL-3.0-or-later", "CC-BY-NC-ND-4.0", "MBROLA-non-commercial", "proprietary")
    >>> [is_commercial_ok(name) for name in names]
    [True, False, False, False]
    """
    return _RESTRICTED.search(license_name) is None


# --- recipe ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceConfig:
    """One text corpus: which reader, where, and label overrides."""

    name: str
    reader: str  # xed | goemotions | user
    path: Path
    options: dict[str, Any] = field(default_factory=dict)
    label_overrides: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class LanguageConfig:
    """How one output language gets its text and its voices."""

    lang: str
    sources: tuple[str, ...]  # names of `sources` entries
    translate: str  # identity | parallel | a registered translator backend
    translate_from: str = ""  # source language for a translator backend
    translate_options: dict[str, Any] = field(default_factory=dict)
    engines: tuple[str, ...] = ()  # restrict the speaker bank to these engines (empty: all)
    speakers: int = 0  # max speakers taken from the bank (0: all)


@dataclass(frozen=True)
class FilterConfig:
    """Signal thresholds; a clip is dropped when a comparison spelled out here fails."""

    min_duration_s: float = 0.5  # drop if duration_s < this
    max_duration_s: float = 20.0  # drop if duration_s > this
    max_clipping_ratio: float = 0.001  # drop if the share of |x| >= 0.999 samples > this
    min_rms_dbfs: float = -45.0  # drop if rms_dbfs < this
    max_leading_silence_s: float = 1.0  # drop if leading_silence_s > this
    max_trailing_silence_s: float = 1.5  # drop if trailing_silence_s > this
    min_snr_db: float = 15.0  # drop if snr_db < this
    min_chars: int = 2  # drop text shorter than this (before synthesis)
    max_chars: int = 300  # drop text longer than this (before synthesis)


@dataclass(frozen=True)
class HubConfig:
    """Where and how the dataset is published on the Hugging Face Hub (card and push)."""

    repo_id: str = ""  # USER/NAME of the dataset repo; empty: the card says <user>/m5ser
    license: str = ""  # Hub licence id for the card; empty: derived from the text and voice licences
    pretty_name: str = "M5SER"  # title of the card


@dataclass(frozen=True)
class Recipe:
    """A whole build, as read from `manifests/recipes/<name>.yaml`."""

    path: Path
    name: str
    seed: int
    output: Path
    work_dir: Path
    emotions_file: Path
    voices_dir: Path
    sources: dict[str, SourceConfig]
    languages: dict[str, LanguageConfig]
    emotions: tuple[str, ...]  # which labels to build (default: all)
    per_emotion: int  # max source sentences per (language, emotion)
    speakers_per_sentence: int  # clips rendered from each sentence
    intensity: tuple[float, float]  # uniform range of per-clip intensity
    voice_quality: bool  # render emotions.yaml's voice_quality cues after synthesis
    licenses: str  # "any" or "commercial-ok" (drops voices whose licence forbids commercial use)
    filters: FilterConfig
    dev_fraction: float
    test_fraction: float
    holdout_speakers: tuple[str, ...]
    max_shard_bytes: int
    wav_sidecars: bool
    raw: dict[str, Any]
    hub: HubConfig = field(default_factory=HubConfig)

    def fingerprint(self) -> str:
        """Hash of the recipe contents (for cache keys and the pipeline dump)."""
        return hashlib.sha256(json.dumps(self.raw, sort_keys=True, default=str).encode()).hexdigest()[:16]


_TOP_LEVEL = {
    "name", "documentation", "seed", "output", "work_dir", "emotions", "voices_dir", "sources",
    "languages", "build", "filters", "splits", "shards", "hub", "test_cases",
}  # fmt: skip


def _require(data: dict[str, Any], key: str, where: str, path: Path) -> Any:
    if key not in data:
        raise RecipeError(f"{path}: {where} is missing '{key}'")
    return data[key]


def load_recipe(path: str | Path, root: str | Path | None = None) -> Recipe:
    """Load and validate a recipe; relative paths resolve against `root` (default: cwd)."""
    path = Path(path)
    data = load_yaml(path)
    root = Path(root) if root is not None else Path.cwd()
    unknown = set(data) - _TOP_LEVEL
    if unknown:
        raise RecipeError(f"{path}: unknown top-level field(s) {sorted(unknown)}")

    def resolve(p: str) -> Path:
        q = Path(p)
        return q if q.is_absolute() else root / q

    sources = {}
    for name, entry in _require(data, "sources", "recipe", path).items():
        reader = _require(entry, "reader", f"sources.{name}", path)
        if reader not in ("xed", "goemotions", "user"):
            raise RecipeError(f"{path}: sources.{name}.reader '{reader}' is not one of xed, goemotions, user")
        sources[name] = SourceConfig(
            name=name,
            reader=reader,
            path=resolve(_require(entry, "path", f"sources.{name}", path)),
            options=dict(entry.get("options") or {}),
            label_overrides={str(k): v for k, v in (entry.get("label_overrides") or {}).items()},
        )

    languages = {}
    for lang, entry in _require(data, "languages", "recipe", path).items():
        entry = entry or {}
        names = tuple(entry.get("sources") or [])
        if not names:
            raise RecipeError(f"{path}: languages.{lang}.sources is empty")
        for name in names:
            if name not in sources:
                raise RecipeError(f"{path}: languages.{lang}.sources names unknown source '{name}'")
        translate = entry.get("translate")
        if not translate:
            raise RecipeError(
                f"{path}: languages.{lang} has no translation route; set translate: identity, parallel, "
                "or a translator backend with translate_from"
            )
        translate_from = str(entry.get("translate_from", ""))
        if translate not in ("identity", "parallel") and not translate_from:
            raise RecipeError(f"{path}: languages.{lang}.translate '{translate}' needs translate_from")
        languages[str(lang)] = LanguageConfig(
            lang=str(lang),
            sources=names,
            translate=str(translate),
            translate_from=translate_from,
            translate_options=dict(entry.get("translate_options") or {}),
            engines=tuple(entry.get("engines") or (data.get("build") or {}).get("engines") or ()),
            speakers=int(entry.get("speakers", 0)),
        )

    emotions_file = resolve(data.get("emotions", "manifests/emotions.yaml"))
    spec = load_emotions(emotions_file)
    build = data.get("build") or {}
    emotions = tuple(build.get("emotions") or spec.labels)
    for emotion in emotions:
        if emotion not in spec.labels:
            raise RecipeError(f"{path}: build.emotions has '{emotion}', not in {emotions_file}")
    if build.get("licenses", "any") not in ("any", "commercial-ok"):
        raise RecipeError(f"{path}: build.licenses must be 'any' or 'commercial-ok'")
    intensity = tuple(build.get("intensity", [0.6, 1.0]))
    if len(intensity) != 2 or not 0 <= intensity[0] <= intensity[1] <= 1:
        raise RecipeError(f"{path}: build.intensity must be [low, high] within 0..1")

    filters_raw = data.get("filters") or {}
    try:
        filters = FilterConfig(**filters_raw)
    except TypeError as e:
        raise RecipeError(f"{path}: filters: {e}") from e

    splits = data.get("splits") or {}
    dev, test = float(splits.get("dev", 0.1)), float(splits.get("test", 0.1))
    if dev < 0 or test < 0 or dev + test >= 1:
        raise RecipeError(f"{path}: splits.dev + splits.test must be within [0, 1)")
    shards = data.get("shards") or {}

    recipe = Recipe(
        path=path,
        name=str(data.get("name", path.stem)),
        seed=int(data.get("seed", 0)),
        output=resolve(data.get("output", "out/m5ser")),
        work_dir=resolve(data.get("work_dir", "out/work")),
        emotions_file=emotions_file,
        voices_dir=resolve(data.get("voices_dir", "manifests/voices")),
        sources=sources,
        languages=languages,
        emotions=emotions,
        per_emotion=int(build.get("per_emotion", 50)),
        speakers_per_sentence=int(build.get("speakers_per_sentence", 1)),
        intensity=(float(intensity[0]), float(intensity[1])),
        voice_quality=bool(build.get("voice_quality", True)),
        licenses=str(build.get("licenses", "any")),
        filters=filters,
        dev_fraction=dev,
        test_fraction=test,
        holdout_speakers=tuple(splits.get("holdout_speakers") or ()),
        max_shard_bytes=int(float(shards.get("max_shard_mb", 200)) * 1_000_000),
        wav_sidecars=bool(shards.get("wav", False)),
        raw=data,
        hub=_hub(data.get("hub") or {}, path),
    )
    return recipe


def _hub(entry: dict[str, Any], path: Path) -> HubConfig:
    unknown = set(entry) - {"repo_id", "license", "pretty_name"}
    if unknown:
        raise RecipeError(f"{path}: hub: unknown key(s) {sorted(unknown)}")
    return HubConfig(**{k: str(v) for k, v in entry.items()})


def voices_for(recipe: Recipe, lang: str) -> list[Voice]:
    """The speakers a language of `recipe` may use, after its engine/speaker limits."""
    cfg = recipe.languages[lang]
    path = recipe.voices_dir / f"{lang}.yaml"
    voices = load_voices(path)
    if cfg.engines:
        voices = [v for v in voices if v.engine in cfg.engines]
    if recipe.licenses == "commercial-ok":
        voices = [v for v in voices if is_commercial_ok(v.license)]
    if cfg.speakers:
        voices = voices[: cfg.speakers]
    if not voices:
        raise RecipeError(f"{path}: no speakers left for '{lang}' after the recipe's engine/speaker limits")
    return voices

"""Recipes, the emotion file and the speaker bank: loading and validation.

A recipe parses like the training config: one dataclass per section, every field typed and
commented, and an error that names a bad or unknown key by its path
(``languages.de.speakers: expected a whole number``). The pipeline itself is the recipe's
``steps:`` list of registered step names with their parameters; the steps' own parameter
dataclasses are checked by `m5ser.pipeline.validate` before any audio is made.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, Union

import yaml

from m5ser import registry
from m5ser.errors import InputError
from m5ser.schema import Voice


class RecipeError(InputError):
    """A recipe, emotion or voices file that does not validate; names file and field."""


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML was built with it (same documents, far less CPU), else PyYAML's."""


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise RecipeError(f"{path}: file not found")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
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


# --- section parsing ------------------------------------------------------------------

T = TypeVar("T")

_EXPECTED = {bool: "true or false", int: "a whole number", float: "a number", str: "a string", Path: "a path"}


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """`value` checked against the annotation `tp`; raises RecipeError naming `where`."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(value, inner, where)
    if dataclasses.is_dataclass(tp):
        return parse_section(tp, value, where)
    if origin is dict:
        if not isinstance(value, dict):
            raise RecipeError(f"{where}: expected a mapping")
        key_tp, value_tp = args or (str, Any)
        return {_coerce(k, key_tp, where): _coerce(v, value_tp, f"{where}.{k}") for k, v in value.items()}
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise RecipeError(f"{where}: expected a list")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise RecipeError(f"{where}: expected a list of {len(args)} items")
            return tuple(_coerce(v, t, f"{where}[{i}]") for i, (v, t) in enumerate(zip(value, args, strict=True)))
        item_tp = args[0] if args else Any
        items = [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if tp is bool:
        if not isinstance(value, bool):
            raise RecipeError(f"{where}: expected {_EXPECTED[bool]}")
        return value
    if tp in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float) or (tp is int and value != int(value)):
            raise RecipeError(f"{where}: expected {_EXPECTED[tp]}")
        return tp(value)
    if tp in (str, Path):
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise RecipeError(f"{where}: expected {_EXPECTED[tp]}")
        return tp(str(value))
    raise TypeError(f"{where}: unsupported field type {tp!r}")


def parse_section(cls: type[T], data: Any, where: str) -> T:
    """Build the dataclass `cls` from a mapping; unknown keys and wrong types raise naming
    their path. Fields without a default are required.

    >>> @dataclass
    ... class Filters:
    ...     min_snr_db: float = 15.0
    >>> parse_section(Filters, {"min_snr_db": 20}, "filters")
    Filters(min_snr_db=20.0)
    >>> parse_section(Filters, {"min_snr_db": "loud"}, "filters")
    Traceback (most recent call last):
    ...
    m5ser.config.RecipeError: filters.min_snr_db: expected a number
    """
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise RecipeError(f"{where}: expected a mapping")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]

    def key(name: str) -> str:
        return f"{where}.{name}" if where else name

    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise RecipeError(f"{key(unknown[0])}: unknown key (known: {', '.join(sorted(fields))})")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, f in fields.items():
        if name in data:
            values[name] = _coerce(data[name], hints[name], key(name))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise RecipeError(f"{key(name)}: missing (required)")
    try:
        return cls(**values)
    except RecipeError as e:  # a range rule of the section (its __post_init__) names the field
        raise RecipeError(key(str(e))) from None


def check_range(obj: Any, name: str, low: float | None = None, high: float | None = None) -> None:
    """Raise RecipeError ``<name>: must be >= low`` (or ``<= high``) for a field of `obj`.

    >>> @dataclass
    ... class Quota:
    ...     per_emotion: int = 1
    ...     def __post_init__(self):
    ...         check_range(self, "per_emotion", low=1)
    >>> parse_section(Quota, {"per_emotion": 0}, "steps[1].select")
    Traceback (most recent call last):
    ...
    m5ser.config.RecipeError: steps[1].select.per_emotion: must be >= 1, got 0
    """
    value = getattr(obj, name)
    if low is not None and value < low:
        raise RecipeError(f"{name}: must be >= {low}, got {value}")
    if high is not None and value > high:
        raise RecipeError(f"{name}: must be <= {high}, got {value}")


# --- recipe ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceConfig:
    """One text corpus: which reader, where, and label overrides."""

    reader: str  # a registered reader: xed | goemotions | user
    path: Path  # the corpus file or folder (relative paths resolve against the recipe root)
    options: dict[str, Any] = field(default_factory=dict)  # reader options (strict, multi_label, ...)
    label_overrides: dict[str, str | None] = field(default_factory=dict)  # source label -> label (null drops)
    name: str = ""  # the key under `sources:` (set by the loader)


@dataclass(frozen=True)
class LanguageConfig:
    """How one output language gets its text and its voices."""

    sources: tuple[str, ...]  # names of `sources` entries
    translate: str  # a registered translator: identity | parallel | apertium | hf-seq2seq | ...
    translate_from: str = ""  # the language the text is read in (empty: this language)
    translate_options: dict[str, Any] = field(default_factory=dict)  # keyword arguments of the translator
    engines: tuple[str, ...] = ()  # restrict the speaker bank to these engines (empty: build.engines)
    speakers: int = 0  # max speakers taken from the bank (0: all)
    lang: str = ""  # the key under `languages:` (set by the loader)

    @property
    def text_lang(self) -> str:
        """The language the sources are read in."""
        return self.translate_from or self.lang


@dataclass(frozen=True)
class BuildConfig:
    """Choices that hold for every language."""

    emotions: tuple[str, ...] = ()  # labels to build (empty: every label of the emotions file)
    engines: tuple[str, ...] = ()  # default speaker-bank engines of every language (empty: all)
    licenses: str = "any"  # "any", or "commercial-ok": drop voices whose licence restricts use


@dataclass(frozen=True)
class StepConfig:
    """One entry of `steps:`: a registered step name and its parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SplitConfig:
    """Splits by source sentence; whole speakers may be held out."""

    dev: float = 0.1  # share of source sentences in dev
    test: float = 0.1  # share of source sentences in test
    holdout_speakers: tuple[str, ...] = ()  # speaker ids whose clips all go to test


AUDIO_FORMATS: tuple[str, ...] = ("flac", "wav")
"""Encodings of the shards' audio column (`shards.audio_format`; m5ser.shards.parquet encodes them)."""


@dataclass(frozen=True)
class ShardConfig:
    """Parquet shards and sidecars."""

    max_shard_mb: float = 200.0  # audio megabytes per shard (a new shard starts when the next clip would exceed it)
    wav: bool = False  # also write WAV sidecars under wav/<lang>/
    audio_format: str = "flac"  # audio column: "flac" (lossless, ~0.6x of PCM: bench/storage.py) or "wav" (PCM16)

    @property
    def max_bytes(self) -> int:
        return int(self.max_shard_mb * 1_000_000)


@dataclass(frozen=True)
class HubConfig:
    """Where and how the dataset is published on the Hugging Face Hub (card and push)."""

    repo_id: str = ""  # USER/NAME of the dataset repo; empty: the card says <user>/m5ser
    license: str = ""  # Hub licence id for the card; empty: derived from the text and voice licences
    pretty_name: str = "M5SER"  # title of the card


@dataclass(frozen=True)
class Recipe:
    """A whole build, as read from `manifests/recipes/<name>.yaml`."""

    sources: dict[str, SourceConfig]  # text corpora by name
    languages: dict[str, LanguageConfig]  # output languages by code
    steps: tuple[StepConfig, ...]  # the pipeline, in order
    name: str = ""  # recipe name (default: the file stem)
    documentation: str = ""  # what this recipe builds and why (shown by `m5ser validate`)
    seed: int = 0  # every random choice derives from it
    output: Path = Path("out/m5ser")  # the published folder (Hub repo layout)
    work_dir: Path = Path("out/work")  # plans, work units and audio (not published)
    emotions: Path = Path("manifests/emotions.yaml")  # label set, corpus maps, rendering rules
    voices_dir: Path = Path("manifests/voices")  # speaker bank, one file per language
    build: BuildConfig = field(default_factory=BuildConfig)
    splits: SplitConfig = field(default_factory=SplitConfig)
    shards: ShardConfig = field(default_factory=ShardConfig)
    hub: HubConfig = field(default_factory=HubConfig)
    test_cases: tuple[dict[str, Any], ...] = ()  # inline step cases, run by tests/test_recipes.py
    path: Path = Path()  # the recipe file (set by the loader)
    raw: dict[str, Any] = field(default_factory=dict)  # the file's content (fingerprint, card)

    @property
    def emotions_file(self) -> Path:
        return self.emotions

    def fingerprint(self) -> str:
        """Hash of the recipe and of the *contents* of every file it reads (sources, emotions
        file, the languages' speaker banks): the key of plans, completion markers and caches, so
        editing a source row or a voice changes it, and renaming nothing changes nothing."""
        inputs = [s.path for s in self.sources.values()] + [self.emotions]
        inputs += [self.voices_dir / f"{lang}.yaml" for lang in self.languages]
        blob = json.dumps(self.raw, sort_keys=True, default=str) + files_digest(inputs)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def labels(self, spec: EmotionSpec | None = None) -> tuple[str, ...]:
        """The labels this recipe builds, in the order of the emotions file (`spec`, when the
        caller has it loaded already)."""
        spec = spec or load_emotions(self.emotions)
        return tuple(e for e in spec.labels if not self.build.emotions or e in self.build.emotions)


@functools.lru_cache(maxsize=4096)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of one file's bytes (cached while its size and mtime stay the same)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def files_digest(paths: Iterable[Path]) -> str:
    """One hash over the contents of `paths` (files, or folders read recursively; missing: noted).

    >>> files_digest([Path("/nonexistent")]) == files_digest([Path("/nonexistent")])
    True
    """
    h = hashlib.sha256()
    for root in paths:
        root = Path(root)
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for f in files:
            h.update(str(f.relative_to(root) if root.is_dir() else f.name).encode())
            if f.is_file():
                st = f.stat()
                h.update(_file_digest(str(f), st.st_size, st.st_mtime_ns).encode())
            else:
                h.update(b"<missing>")
    return h.hexdigest()


def _steps(raw: Any) -> list[dict[str, Any]]:
    """`steps:` entries as {name: params} mappings (a bare name has no parameters)."""
    if not isinstance(raw, list) or not raw:
        raise RecipeError("steps: expected a non-empty list of step names or {name: {parameters}}")
    out = []
    for i, entry in enumerate(raw):
        if isinstance(entry, str):
            entry = {entry: {}}
        if not isinstance(entry, dict) or len(entry) != 1:
            raise RecipeError(f"steps[{i}]: expected a step name or a mapping {{name: {{parameters}}}}")
        ((name, params),) = entry.items()
        if params is not None and not isinstance(params, dict):
            raise RecipeError(f"steps[{i}].{name}: parameters must be a mapping")
        out.append({"name": str(name), "params": params or {}})
    return out


def load_recipe(path: str | Path, root: str | Path | None = None) -> Recipe:
    """Load and check a recipe; relative paths resolve against `root` (default: cwd)."""
    path = Path(path)
    data = load_yaml(path)
    root = Path(root) if root is not None else Path.cwd()
    try:
        recipe = _parse(data, path, root)
    except RecipeError as e:
        raise RecipeError(f"{path}: {e}") from None
    return recipe


def _parse(data: dict[str, Any], path: Path, root: Path) -> Recipe:
    fields = dict(data)
    fields["steps"] = _steps(data.get("steps"))
    for section in ("sources", "languages"):
        if not isinstance(data.get(section), dict) or not data[section]:
            raise RecipeError(f"{section}: expected a non-empty mapping")
    fields["sources"] = {name: {**(entry or {}), "name": name} for name, entry in data["sources"].items()}
    fields["languages"] = {str(code): {**(entry or {}), "lang": str(code)} for code, entry in data["languages"].items()}
    for key in ("path", "raw"):
        if key in fields:
            raise RecipeError(f"{key}: unknown key")
    recipe = parse_section(Recipe, fields, "")

    def resolve(p: Path) -> Path:
        return p if p.is_absolute() else root / p

    sources = {n: dataclasses.replace(s, path=resolve(s.path)) for n, s in recipe.sources.items()}
    recipe = dataclasses.replace(
        recipe,
        name=recipe.name or path.stem,
        output=resolve(recipe.output),
        work_dir=resolve(recipe.work_dir),
        emotions=resolve(recipe.emotions),
        voices_dir=resolve(recipe.voices_dir),
        sources=sources,
        path=path,
        raw=data,
    )
    _check(recipe)
    return recipe


def _check(recipe: Recipe) -> None:
    """Cross-field rules that a field's type cannot say."""
    for lang, cfg in recipe.languages.items():
        if not cfg.sources:
            raise RecipeError(f"languages.{lang}.sources: empty")
        for name in cfg.sources:
            if name not in recipe.sources:
                known = sorted(recipe.sources)
                raise RecipeError(f"languages.{lang}.sources: unknown source '{name}' (known: {known})")
        if cfg.translate not in registry.names("translator"):
            known = registry.names("translator")
            raise RecipeError(f"languages.{lang}.translate: unknown translator '{cfg.translate}' (known: {known})")
        if cfg.speakers < 0:
            raise RecipeError(f"languages.{lang}.speakers: must be >= 0")
    spec = load_emotions(recipe.emotions)
    for emotion in recipe.build.emotions:
        if emotion not in spec.labels:
            raise RecipeError(f"build.emotions: '{emotion}' is not a label of {recipe.emotions}")
    for name, source in recipe.sources.items():
        if source.reader not in registry.names("reader"):
            raise RecipeError(
                f"sources.{name}.reader: unknown reader '{source.reader}' (known: {registry.names('reader')})"
            )
        for key, value in source.label_overrides.items():
            if value is not None and value not in spec.labels:
                raise RecipeError(f"sources.{name}.label_overrides.{key}: '{value}' is not a label")
    if recipe.build.licenses not in ("any", "commercial-ok"):
        raise RecipeError("build.licenses: expected 'any' or 'commercial-ok'")
    s = recipe.splits
    if s.dev < 0 or s.test < 0 or s.dev + s.test >= 1:
        raise RecipeError("splits: dev + test must be within [0, 1)")
    if recipe.shards.max_shard_mb <= 0:
        raise RecipeError("shards.max_shard_mb: must be > 0")
    if recipe.shards.audio_format not in AUDIO_FORMATS:
        raise RecipeError(f"shards.audio_format: '{recipe.shards.audio_format}' is not one of {list(AUDIO_FORMATS)}")


def voices_for(recipe: Recipe, lang: str) -> list[Voice]:
    """The speakers a language of `recipe` may use, after its engine, licence and speaker limits."""
    cfg = recipe.languages[lang]
    path = recipe.voices_dir / f"{lang}.yaml"
    voices = load_voices(path)
    engines = cfg.engines or recipe.build.engines
    if engines:
        voices = [v for v in voices if v.engine in engines]
    if recipe.build.licenses == "commercial-ok":
        voices = [v for v in voices if is_commercial_ok(v.license)]
    if cfg.speakers:
        voices = voices[: cfg.speakers]
    if not voices:
        raise RecipeError(f"{path}: no speakers left for '{lang}' after the recipe's engine/licence/speaker limits")
    return voices

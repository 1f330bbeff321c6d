"""XTTS-v2 worker: runs in `.venv-xtts` (torch 2.9.1 + torchaudio + coqui-tts), never in the main venv.

`m5ser.tts.engines.xtts.XTTSSynthesizer` starts it once and talks JSON lines over stdin/stdout:

    serve --model-dir DIR   load an XTTS checkpoint folder (config.json, model.pth, vocab.json and
                            optionally speakers_xtts.pth, as in the hub's coqui/XTTS-v2), print
                            {"event": "ready", ...}, then answer one request line at a time:
        {"id": 1, "op": "synthesize", "text": "...", "language": "en", "references": ["/abs/a.wav"],
         "speaker": null, "seed": 7, "speed": 1.0, "params": {"temperature": 0.7}}
        -> {"id": 1, "ok": true, "sample_rate": 24000, "pcm_f32le_b64": "..."}
        -> {"id": 1, "ok": false, "error": "ValueError: ..."}  (the worker keeps serving)
        {"id": 2, "op": "shutdown"} -> {"id": 2, "ok": true}, then exit
    make-tiny DIR           write a tiny random-weight XTTS checkpoint folder (2-layer GPT, a
                            character vocabulary, one built-in speaker) for tests; it is loaded
                            by `serve` through the same code as the real model.

Hub access is switched off (HF_HUB_OFFLINE=1): the model folder must be on disk. Everything
printed by libraries goes to stderr; stdout carries only protocol lines.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import sys
from pathlib import Path
from typing import IO, Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

log = logging.getLogger("xtts_worker")

# Generation settings a request may override; defaults come from the model's config.json.
GENERATION_KEYS = ("temperature", "length_penalty", "repetition_penalty", "top_k", "top_p")
# Conditioning settings (XttsConfig field -> Xtts.get_conditioning_latents argument).
CONDITIONING_KEYS = {
    "gpt_cond_len": "gpt_cond_len",
    "gpt_cond_chunk_len": "gpt_cond_chunk_len",
    "max_ref_len": "max_ref_length",
    "sound_norm_refs": "sound_norm_refs",
}
TINY_SPEAKER = "Tiny Speaker"


def _protocol_stream() -> IO[str]:
    """Keep the real stdout for protocol lines and send fd 1 (library prints) to stderr."""
    proto = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return proto


def _send(out: IO[str], message: dict[str, Any]) -> None:
    out.write(json.dumps(message, ensure_ascii=False) + "\n")
    out.flush()


class Engine:
    """One loaded XTTS model plus a cache of conditioning latents per reference set."""

    def __init__(self, model_dir: Path, device: str = "cpu") -> None:
        import torch
        from TTS.tts.configs.xtts_config import XttsConfig
        from TTS.tts.models.xtts import Xtts

        for name in ("config.json", "model.pth", "vocab.json"):
            if not (model_dir / name).is_file():
                raise FileNotFoundError(
                    f"{model_dir / name} is missing: model_dir must be an XTTS checkpoint folder "
                    "(e.g. a local copy of the hub's coqui/XTTS-v2)"
                )
        self.torch = torch
        self.config = XttsConfig()
        self.config.load_json(str(model_dir / "config.json"))
        self.model = Xtts(self.config)  # Xtts.init_from_config is deprecated in coqui-tts 0.28
        self.model.load_checkpoint(self.config, checkpoint_dir=str(model_dir), eval=True, use_deepspeed=False)
        self.model.to(device)
        self.sample_rate = int(self.config.model_args.output_sample_rate)
        manager = self.model.speaker_manager
        self.speakers = sorted(manager.speakers) if manager is not None else []
        self._latents: dict[tuple[tuple[str, float], ...], tuple[Any, Any]] = {}

    @property
    def languages(self) -> list[str]:
        return list(self.config.languages)

    def conditioning(self, references: list[str], speaker: str | None) -> tuple[Any, Any]:
        """GPT conditioning latents and speaker embedding: cloned from `references`, else a built-in speaker."""
        if references:
            key = tuple((str(Path(p).resolve()), Path(p).stat().st_mtime) for p in references)
            if key not in self._latents:
                settings = {arg: self.config[field] for field, arg in CONDITIONING_KEYS.items()}
                self._latents[key] = self.model.get_conditioning_latents(audio_path=list(references), **settings)
            return self._latents[key]
        if speaker is None:
            raise ValueError("a request needs reference clips or a built-in speaker name")
        if speaker not in self.speakers:
            raise ValueError(f"unknown built-in speaker {speaker!r}; this model has {self.speakers}")
        entry = self.model.speaker_manager.speakers[speaker]
        return entry["gpt_cond_latent"], entry["speaker_embedding"]

    def synthesize(self, request: dict[str, Any]) -> dict[str, Any]:
        text = str(request["text"]).strip()
        if not text:
            raise ValueError("empty text")
        code = str(request["language"])  # XTTS's own code (the speaker bank maps zh to zh-cn)
        if code not in self.config.languages:
            raise ValueError(f"XTTS does not speak {code!r}; it speaks {self.config.languages}")
        params = dict(request.get("params") or {})
        unknown = set(params) - set(GENERATION_KEYS)
        if unknown:
            raise ValueError(f"unknown generation parameters {sorted(unknown)}; known {list(GENERATION_KEYS)}")
        settings = {key: params.get(key, self.config[key]) for key in GENERATION_KEYS}
        gpt_cond_latent, speaker_embedding = self.conditioning(
            list(request.get("references") or []), request.get("speaker")
        )
        if request.get("seed") is not None:
            self.torch.manual_seed(int(request["seed"]))
        out = self.model.inference(
            text, code, gpt_cond_latent, speaker_embedding, speed=float(request.get("speed", 1.0)), **settings
        )
        wav = self.torch.as_tensor(out["wav"]).float().reshape(-1).cpu().numpy()
        return {
            "sample_rate": self.sample_rate,
            "pcm_f32le_b64": base64.b64encode(wav.astype("<f4").tobytes()).decode(),
        }


def serve(model_dir: Path, device: str, threads: int) -> int:
    """Load the model, then answer requests from stdin until EOF or shutdown."""
    proto = _protocol_stream()
    try:
        import torch

        if threads > 0:
            torch.set_num_threads(threads)
        engine = Engine(model_dir, device)
    except Exception as e:  # reported to the parent, which raises it
        log.exception("loading %s failed", model_dir)
        _send(proto, {"event": "error", "error": f"{type(e).__name__}: {e}"})
        return 1
    ready = {"event": "ready", "sample_rate": engine.sample_rate, "languages": engine.languages}
    _send(proto, ready | {"speakers": engine.speakers})
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        rid = request.get("id")
        op = request.get("op")
        if op == "shutdown":
            _send(proto, {"id": rid, "ok": True})
            return 0
        if op != "synthesize":
            _send(proto, {"id": rid, "ok": False, "error": f"unknown op {op!r}"})
            continue
        try:
            result = engine.synthesize(request)
        except Exception as e:  # one bad clip must not end the worker; the parent raises it
            log.exception("request %s failed", rid)
            _send(proto, {"id": rid, "ok": False, "error": f"{type(e).__name__}: {e}"})
            continue
        _send(proto, {"id": rid, "ok": True} | result)
    return 0


def _tiny_vocab(path: Path) -> None:
    """A character-level BPE tokenizer in the format of XTTS's vocab.json (no merges)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from TTS.tts.configs.xtts_config import XttsConfig

    special = ["[STOP]", "[UNK]", "[SPACE]", "[START]"] + [f"[{lang}]" for lang in XttsConfig().languages]
    chars = (
        "abcdefghijklmnopqrstuvwxyz0123456789.,;:!?'\"-()"
        + "àâäáãåæçèéêëìíîïñòóôöõøùúûüýÿßœ"
        + "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
    )
    vocab = {token: i for i, token in enumerate(special + list(dict.fromkeys(chars)))}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.add_special_tokens(special)
    tokenizer.save(str(path))


def make_tiny(out_dir: Path, seed: int) -> None:
    """Write a random-weight XTTS checkpoint folder small enough for CPU tests."""
    import torch
    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
    from TTS.tts.models.xtts import Xtts

    torch.manual_seed(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    _tiny_vocab(out_dir / "vocab.json")
    config = XttsConfig()
    args = config.model_args
    args.gpt_layers, args.gpt_n_model_channels, args.gpt_n_heads = 2, 64, 2
    args.decoder_input_dim = 64  # the GPT latents feed the HiFi-GAN decoder
    args.gpt_max_audio_tokens = 24  # random weights rarely sample the stop token: this caps the length
    args.gpt_max_text_tokens = 200
    args.gpt_use_perceiver_resampler = True  # as in XTTS-v2
    config.gpt_cond_len, config.gpt_cond_chunk_len, config.max_ref_len = 3, 3, 5
    model = Xtts(config)
    model.tokenizer = VoiceBpeTokenizer(vocab_file=str(out_dir / "vocab.json"))
    model.init_models()
    torch.save({"model": model.state_dict(), "config": config.to_dict()}, out_dir / "model.pth")
    dim = args.gpt_n_model_channels
    speakers = {TINY_SPEAKER: {"gpt_cond_latent": torch.randn(1, 32, dim), "speaker_embedding": torch.randn(1, 512, 1)}}
    torch.save(speakers, out_dir / "speakers_xtts.pth")
    config.save_json(str(out_dir / "config.json"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="load a model folder and answer JSON-line requests")
    p_serve.add_argument("--model-dir", type=Path, required=True)
    p_serve.add_argument("--device", default="cpu")
    p_serve.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p_tiny = sub.add_parser("make-tiny", help="write a tiny random-weight XTTS model folder")
    p_tiny.add_argument("out_dir", type=Path)
    p_tiny.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="xtts_worker: %(levelname)s %(message)s")
    if args.command == "serve":
        return serve(args.model_dir, args.device, args.threads)
    make_tiny(args.out_dir, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())

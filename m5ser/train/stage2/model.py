"""The stage-2 model: Whisper encoder (weighted layers) → connector → speech tokens spliced into a
causal LLM's input embeddings; trained on the answer's tokens, answering by label log-likelihood."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from m5ser.audio import SAMPLE_RATE

from .config import Stage2Config
from .connector import build_connector
from .prompts import load_prompts, split_template


class SpeechEncoder(nn.Module):
    """A transformers Whisper encoder run on unpadded log-mels, its layers mixed by learned weights.

    When frozen, every clip's per-layer states are computed once and cached (float16, CPU) by
    clip id, so training spends its time on the connector and the LLM.
    """

    def __init__(self, path: str, freeze: bool):
        super().__init__()
        import transformers as tf

        self.encoder = tf.WhisperModel.from_pretrained(path).get_encoder()
        self.extractor = tf.WhisperFeatureExtractor.from_pretrained(path)
        self.freeze = freeze
        if freeze:
            self.encoder.requires_grad_(False)
            self.encoder.eval()
        self.width = self.encoder.config.d_model
        self.layer_weights = nn.Parameter(torch.zeros(self.encoder.config.encoder_layers + 1))
        self.cache: dict[str, Tensor] = {}

    def train(self, mode: bool = True) -> SpeechEncoder:
        super().train(mode)
        if self.freeze:
            self.encoder.eval()
        return self

    def states(self, audio: np.ndarray) -> Tensor:
        """(layers + 1, frames, width) for one clip."""
        from m5ser.models.whisper_hf import clip_states

        return clip_states(self.encoder, self.extractor, audio, SAMPLE_RATE)

    def forward(self, keys: Sequence[str], audios: Sequence[np.ndarray]) -> tuple[Tensor, Tensor]:
        """Weighted-layer frames (B, T, width) and their mask (B, T)."""
        device = self.layer_weights.device
        per_clip = []
        for key, audio in zip(keys, audios, strict=True):
            if not self.freeze:
                per_clip.append(self.states(audio).float())
                continue
            if key not in self.cache:
                with torch.no_grad():
                    self.cache[key] = self.states(audio).to("cpu", torch.float16)
            per_clip.append(self.cache[key].to(device, torch.float32))
        w = torch.softmax(self.layer_weights, 0)
        mixed = [(w[:, None, None] * s).sum(0) for s in per_clip]
        longest = max(m.shape[0] for m in mixed)
        frames = torch.zeros(len(mixed), longest, self.width, device=device)
        mask = torch.zeros(len(mixed), longest, dtype=torch.bool, device=device)
        for i, m in enumerate(mixed):
            frames[i, : m.shape[0]], mask[i, : m.shape[0]] = m, True
        return frames, mask


def load_llm(path: str, mode: str, cfg: Stage2Config, device: torch.device, adapter: str | None = None) -> nn.Module:
    """Any causal LM by folder or hub id (AutoModelForCausalLM), bf16 on CUDA, float32 on CPU,
    frozen / with LoRA adapters (new, or loaded from `adapter`) / fully trainable."""
    import transformers as tf

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    llm = tf.AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device)
    if mode == "lora":
        try:
            import peft
        except ImportError as exc:
            raise ImportError("llm.mode=lora needs peft: pip install 'm5ser[train]'") from exc
        if adapter is not None:
            return peft.PeftModel.from_pretrained(llm, adapter, is_trainable=True)
        lora = peft.LoraConfig(
            r=cfg.llm.lora_r,
            lora_alpha=cfg.llm.lora_alpha,
            lora_dropout=cfg.llm.lora_dropout,
            target_modules=list(cfg.llm.lora_targets),
            task_type="CAUSAL_LM",
        )
        return peft.get_peft_model(llm, lora)
    llm.requires_grad_(mode == "full")
    return llm


class SpeechLLM(nn.Module):
    """Encoder + connector + LLM, with the prompt building shared by training and prediction."""

    def __init__(self, cfg: Stage2Config, labels: tuple[str, ...], encoder: SpeechEncoder, llm: nn.Module, tokenizer):
        super().__init__()
        self.cfg, self.labels, self.tokenizer = cfg, labels, tokenizer
        self.encoder, self.llm = encoder, llm
        d_llm = llm.get_input_embeddings().weight.shape[1]
        self.connector = build_connector(cfg.connector, encoder.width, d_llm)
        self.prompts = load_prompts(cfg.prompts.dir)
        if cfg.prompts.fallback not in self.prompts:
            raise ValueError(f"prompts.fallback={cfg.prompts.fallback!r} has no file in {cfg.prompts.dir}")
        eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
        self.answers = [self._ids(f" {label}") + eos for label in labels]

    def connector_device(self) -> torch.device:
        return next(self.connector.parameters()).device

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    def _template(self, lang: str, rng: random.Random | None) -> tuple[list[int], list[int]]:
        code = lang if self.cfg.prompts.language == "clip" else self.cfg.prompts.language
        templates = self.prompts.get(code) or self.prompts[self.cfg.prompts.fallback]
        template = rng.choice(templates) if rng is not None else templates[0]
        before, after = split_template(template, self.labels)
        bos = [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []
        return bos + self._ids(before), self._ids(after)

    def speech_tokens(self, keys: Sequence[str], audios: Sequence[np.ndarray]) -> tuple[Tensor, Tensor]:
        frames, mask = self.encoder(keys, audios)
        tokens, tmask = self.connector(frames, mask)
        return tokens, tmask

    def _left_padded(
        self, tokens: Tensor, tmask: Tensor, prompts: list[tuple[list[int], list[int]]], answers: list[list[int]]
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Rows `before + speech + after + answer` as input embeddings, left-padded so every row
        ends at the same position: (embeddings, attention mask, targets: answer ids, -100 elsewhere)."""
        embed = self.llm.get_input_embeddings()
        dtype, device = embed.weight.dtype, embed.weight.device
        seqs, targets = [], []
        for i, ((before, after), answer) in enumerate(zip(prompts, answers, strict=True)):
            ids = torch.tensor(before + after + answer, device=device, dtype=torch.long)
            text = embed(ids)
            nb, na = len(before), len(after)
            speech = tokens[i][tmask[i]].to(dtype)
            seqs.append(torch.cat([text[:nb], speech, text[nb:]]))
            target = torch.full((seqs[-1].shape[0],), -100, device=device)
            if answer:
                target[-len(answer) :] = ids[nb + na :]
            targets.append(target)
        longest = max(s.shape[0] for s in seqs)
        x = torch.zeros(len(seqs), longest, seqs[0].shape[1], dtype=dtype, device=device)
        attn = torch.zeros(len(seqs), longest, dtype=torch.long, device=device)
        y = torch.full((len(seqs), longest), -100, device=device)
        for i, (s, t) in enumerate(zip(seqs, targets, strict=True)):
            x[i, longest - s.shape[0] :], attn[i, longest - s.shape[0] :], y[i, longest - s.shape[0] :] = s, 1, t
        return x, attn, y

    def _answer_logprobs(
        self, tokens: Tensor, tmask: Tensor, prompts: list[tuple[list[int], list[int]]], answers: list[list[int]]
    ) -> Tensor:
        """Sum of log p(answer tokens) per sequence; tokens[i] are the speech tokens of sequence i."""
        # left padding: every answer ends the row, so the LM head runs on the last k positions only
        # (a 262k-word vocabulary over whole prompts would dominate time and memory)
        x, attn, y = self._left_padded(tokens, tmask, prompts, answers)
        k = max(len(a) for a in answers) + 1
        positions = (attn.cumsum(1) - 1).clamp_min(0)
        out = self.llm(inputs_embeds=x, attention_mask=attn, position_ids=positions, logits_to_keep=k)
        logits, y = out.logits[:, -k:-1].float(), y[:, -k + 1 :]
        logp = torch.log_softmax(logits, -1).gather(-1, y.clamp_min(0)[..., None])[..., 0]
        return (logp * (y >= 0)).sum(1)

    def loss(self, keys, audios, labels: Sequence[str], langs: Sequence[str], rng: random.Random | None) -> Tensor:
        """Mean per-token negative log-likelihood of the answers (teacher forcing)."""
        tokens, tmask = self.speech_tokens(keys, audios)
        answers = [self.answers[self.labels.index(label)] for label in labels]
        prompts = [self._template(lang, rng) for lang in langs]
        return -self._answer_logprobs(tokens, tmask, prompts, answers).sum() / sum(len(a) for a in answers)

    @torch.no_grad()
    def label_scores(self, keys, audios, langs: Sequence[str], shared_prefix: bool = True) -> Tensor:
        """(B, n_labels) log-likelihood of each label's answer under the first template.

        shared_prefix: the prompt + speech prefix runs once per clip and its key/value cache is
        reused by every label's answer tokens (one forward of B prefixes + one of B x n_labels
        short answers); False: one full forward per (clip, label), the reference it must equal.
        """
        tokens, tmask = self.speech_tokens(keys, audios)
        n = len(self.labels)
        if not shared_prefix:
            prompts = [self._template(lang, None) for lang in langs for _ in range(n)]
            idx = torch.arange(len(keys), device=tokens.device).repeat_interleave(n)
            scores = self._answer_logprobs(tokens[idx], tmask[idx], prompts, self.answers * len(keys))
            return scores.reshape(len(keys), n)
        prompts = [self._template(lang, None) for lang in langs]
        x, attn, _ = self._left_padded(tokens, tmask, prompts, [[] for _ in prompts])
        positions = (attn.cumsum(1) - 1).clamp_min(0)
        out = self.llm(inputs_embeds=x, attention_mask=attn, position_ids=positions, use_cache=True, logits_to_keep=1)
        first = torch.log_softmax(out.logits[:, -1].float(), -1)  # (B, vocab): each answer's first token
        cache = out.past_key_values
        cache.batch_repeat_interleave(n)
        k = max(len(a) for a in self.answers)
        device = attn.device
        ans = torch.tensor([a + [a[-1]] * (k - len(a)) for a in self.answers], device=device).repeat(len(keys), 1)
        amask = torch.tensor([[1] * len(a) + [0] * (k - len(a)) for a in self.answers], device=device)
        amask = amask.repeat(len(keys), 1)
        score = first.repeat_interleave(n, 0).gather(1, ans[:, :1])[:, 0]
        if k > 1:  # answer token j+1 given the prefix and answer tokens 0..j
            rest = self.llm(
                input_ids=ans[:, :-1],
                attention_mask=torch.cat([attn.repeat_interleave(n, 0), amask[:, :-1]], 1),
                position_ids=positions[:, -1:].repeat_interleave(n, 0) + 1 + torch.arange(k - 1, device=device),
                past_key_values=cache,
                use_cache=False,
            )
            logp = torch.log_softmax(rest.logits.float(), -1).gather(-1, ans[:, 1:, None])[..., 0]
            score = score + (logp * amask[:, 1:]).sum(1)
        return score.reshape(len(keys), n)

    def predict(self, keys, audios, langs: Sequence[str]) -> list[str]:
        """The label with the highest log-likelihood: always one of `labels`."""
        return [self.labels[i] for i in self.label_scores(keys, audios, langs).argmax(1).tolist()]

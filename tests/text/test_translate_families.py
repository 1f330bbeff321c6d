"""hf-seq2seq on one tiny model per family (Marian/Opus-MT, NLLB-200, M2M100), built here from a
sentencepiece vocabulary trained in the test: save_pretrained → the backend's from_pretrained
→ batched generate, with the target language forced where the family needs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

spm = pytest.importorskip("sentencepiece")
transformers = pytest.importorskip("transformers")

from m5ser.text.translate import HFSeq2SeqTranslator  # noqa: E402

CORPUS = ["hello world", "good morning", "i hate this", "i love you", "hola mundo", "buenos dias", "te quiero"]


@pytest.fixture(scope="module")
def sp_model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("spm")
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS * 20), model_prefix=str(folder / "sp"), vocab_size=24, model_type="unigram",
        character_coverage=1.0, bos_id=-1, eos_id=1, pad_id=0, unk_id=2, minloglevel=2,
    )  # fmt: skip
    return folder / "sp.model"


def _vocab(sp_model: Path) -> dict[str, int]:
    sp = spm.SentencePieceProcessor(model_file=str(sp_model))
    return {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}


def _tiny(config_cls, vocab_size: int, **extra):
    return config_cls(
        vocab_size=vocab_size, d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64,
        pad_token_id=0, eos_token_id=1, decoder_start_token_id=1, **extra,
    )  # fmt: skip


def _marian(folder: Path, sp_model: Path) -> dict[str, str]:
    shutil.copy(sp_model, folder / "source.spm")
    shutil.copy(sp_model, folder / "target.spm")
    (folder / "vocab.json").write_text(json.dumps(_vocab(sp_model)), encoding="utf-8")
    tok = transformers.MarianTokenizer(
        str(folder / "source.spm"), str(folder / "target.spm"), str(folder / "vocab.json")
    )
    tok.save_pretrained(folder)
    transformers.MarianMTModel(_tiny(transformers.MarianConfig, len(tok))).save_pretrained(folder)
    return {}


def _nllb(folder: Path, sp_model: Path) -> dict[str, str]:
    tok = transformers.NllbTokenizer(vocab_file=str(sp_model))
    tok.save_pretrained(folder)
    size = max(len(tok), max(tok.convert_tokens_to_ids(["eng_Latn", "spa_Latn"])) + 1)
    transformers.M2M100ForConditionalGeneration(_tiny(transformers.M2M100Config, size)).save_pretrained(folder)
    return {"en": "eng_Latn", "es": "spa_Latn"}


def _m2m100(folder: Path, sp_model: Path) -> dict[str, str]:
    shutil.copy(sp_model, folder / "sentencepiece.bpe.model")
    (folder / "vocab.json").write_text(json.dumps(_vocab(sp_model)), encoding="utf-8")
    tok = transformers.M2M100Tokenizer(str(folder / "vocab.json"), str(folder / "sentencepiece.bpe.model"))
    tok.save_pretrained(folder)
    size = max(len(tok), tok.get_lang_id("es") + 1, tok.get_lang_id("en") + 1)
    transformers.M2M100ForConditionalGeneration(_tiny(transformers.M2M100Config, size)).save_pretrained(folder)
    return {"en": "__en__", "es": "__es__"}


@pytest.mark.parametrize("build", [_marian, _nllb, _m2m100], ids=["marian", "nllb", "m2m100"])
def test_family_runs_end_to_end(build, sp_model, tmp_path):
    codes = build(tmp_path, sp_model)
    translator = HFSeq2SeqTranslator(
        str(tmp_path), lang_codes=codes, batch_size=2, max_new_tokens=4, num_beams=1, device="cpu"
    )
    texts = ["hello world", "i love you", "good morning to you all", "hi"]
    out = translator.translate(texts, "en", "es")
    assert len(out) == len(texts) and all(isinstance(t, str) for t in out)
    assert translator.route("en", "es") == ["en-es"]
    if codes:  # the target language token is forced right after the decoder start
        kwargs = translator._generate_kwargs("es")
        ids = translator.model.generate(**translator.tokenizer(["hello"], return_tensors="pt"), **kwargs)
        assert ids[0, 1].item() == translator.tokenizer.convert_tokens_to_ids(codes["es"])
        with pytest.raises(ValueError, match="no lang_codes"):
            translator.route("en", "de")
    assert translator.cache_id("en", "es").startswith(f"hf-seq2seq:{tmp_path}")


def test_batches_keep_input_order(sp_model, tmp_path):
    _marian(tmp_path, sp_model)
    translator = HFSeq2SeqTranslator(str(tmp_path), batch_size=2, max_new_tokens=3, num_beams=1, device="cpu")
    texts = ["good morning to you all", "hi", "hello world"]
    one_by_one = [translator.translate([t], "en", "es")[0] for t in texts]
    assert translator.translate(texts, "en", "es") == one_by_one

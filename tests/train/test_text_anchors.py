from pathlib import Path

import numpy as np
import pytest
import torch

from m5ser.train.testing import repo_labels
from m5ser.train.text_anchors import AnchorBank, E5TextEncoder, MiniLMTextEncoder, load_prompts, prompts_digest

ROOT = Path(__file__).resolve().parents[2]
LABELS = repo_labels()


@pytest.mark.parametrize("lang", ["en", "de", "fr", "es", "it", "zh"])
def test_every_language_describes_every_emotion_several_times(lang):
    anchors = load_prompts(ROOT / "prompts/emotions", LABELS, [lang])
    for emotion in LABELS:
        texts = [a.text for a in anchors if a.emotion == emotion]
        assert len(texts) >= 3 and len(set(texts)) == len(texts)


def test_missing_language_and_label_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="'xx'"):
        load_prompts(ROOT / "prompts/emotions", LABELS, ["xx"])
    (tmp_path / "en.yaml").write_text("lang: en\ndescriptions:\n  neutral: [calm]\n")
    with pytest.raises(ValueError, match="happy"):
        load_prompts(tmp_path, ("neutral", "happy"))


def test_bank_samples_own_language_then_falls_back():
    anchors = load_prompts(ROOT / "prompts/emotions", LABELS, ["en", "de"])
    bank = AnchorBank(anchors, LABELS)
    idx = bank.sample(["sad", "angry"], ["de", "ja"], np.random.default_rng(0))
    assert anchors[idx[0]].lang == "de" and anchors[idx[0]].emotion == "sad"
    assert anchors[idx[1]].emotion == "angry"
    assert len(prompts_digest(anchors)) == 16


def test_e5_anchors_are_multilingual():
    enc = E5TextEncoder()
    emb = enc(["a happy, cheerful voice", "eine fröhliche Stimme", "a sad voice"])
    assert emb.shape == (3, 384)
    assert float(emb[0] @ emb[1]) > 0.8


def test_minilm_loads_from_a_folder_and_trains(tmp_path):
    import transformers as tf

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "happy", "sad", "voice"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tf.BertTokenizer(str(tmp_path / "vocab.txt")).save_pretrained(tmp_path / "m")
    config = tf.BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2)
    config.intermediate_size = 32
    tf.BertModel(config).save_pretrained(tmp_path / "m")
    enc = MiniLMTextEncoder(str(tmp_path / "m"), trainable=True)
    emb = enc(["a happy voice", "a sad voice"])
    assert emb.shape == (2, 16) and torch.allclose(emb.norm(dim=-1), torch.ones(2), atol=1e-5)
    emb.sum().backward()
    assert any(p.grad is not None for p in enc.model.parameters())
    frozen = MiniLMTextEncoder(str(tmp_path / "m"), trainable=False)
    assert not frozen(["a voice"]).requires_grad

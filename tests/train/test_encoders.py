import pytest
import torch

from m5ser.train.config import config_from_dict
from m5ser.train.encoders import build_encoder, collate, pad_batch

SMALL = {"d_model": 16, "n_layers": 1, "n_heads": 2, "embed_dim": 8, "conv_kernel": 5, "dropout": 0.0}


@pytest.mark.parametrize(
    ("encoder", "kind", "shape"),
    [("conformer", "logmel", (3, 50, 20)), ("cnn", "logmel", (3, 50, 20)), ("mlp", "egemaps", (3, 20))],
)
def test_scratch_encoders_output_and_padding_invariance(encoder, kind, shape):
    torch.manual_seed(0)
    cfg = config_from_dict({"model": {"encoder": encoder, **SMALL}, "features": {"kind": kind}})
    enc = build_encoder(cfg, 20).eval()
    x = torch.randn(*shape)
    if kind == "egemaps":
        assert enc(x).shape == (3, 8)
        return
    short = x[0, :30]
    batch, mask = pad_batch([short.numpy(), x[1].numpy()])
    with torch.no_grad():
        alone = enc(short[None], None)
        padded = enc(batch, mask)
    assert padded.shape == (2, 8)
    assert torch.allclose(alone[0], padded[0], atol=1e-4)  # padding frames do not leak into the pooled embedding


def test_unknown_encoder_names_itself():
    cfg = config_from_dict({})
    cfg.model.encoder = "emotion2vec"
    with pytest.raises(NotImplementedError, match="emotion2vec"):
        build_encoder(cfg, 64)


def _tiny_ssl(kind: str, path):
    import transformers as tf

    common = {
        "hidden_size": 16,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 32,
        "conv_dim": (16, 16),
        "conv_stride": (5, 4),
        "conv_kernel": (10, 8),
        "num_conv_pos_embeddings": 8,
        "num_conv_pos_embedding_groups": 2,
        "feat_extract_norm": "layer",
        "do_stable_layer_norm": True,
    }
    classes = {"wav2vec2": (tf.Wav2Vec2Config, tf.Wav2Vec2Model), "hubert": (tf.HubertConfig, tf.HubertModel)}
    classes["wavlm"] = (tf.WavLMConfig, tf.WavLMModel)
    config_cls, model_cls = classes[kind]
    model_cls(config_cls(**common)).save_pretrained(path)
    tf.Wav2Vec2FeatureExtractor(return_attention_mask=True).save_pretrained(path)


def _tiny_whisper(path):
    import transformers as tf

    config = tf.WhisperConfig(
        vocab_size=64,
        d_model=16,
        encoder_layers=2,
        encoder_attention_heads=2,
        decoder_layers=1,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        num_mel_bins=80,
        max_source_positions=50,
        max_target_positions=16,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
        suppress_tokens=[],
        begin_suppress_tokens=[],
    )
    tf.WhisperModel(config).save_pretrained(path)
    tf.WhisperFeatureExtractor(feature_size=80, chunk_length=1).save_pretrained(path)


@pytest.mark.parametrize("kind", ["wav2vec2", "wavlm", "hubert", "whisper"])
@pytest.mark.parametrize("freeze", [True, False])
def test_hf_encoders_load_with_from_pretrained(kind, freeze, tmp_path):
    torch.manual_seed(0)
    path = tmp_path / kind
    _tiny_whisper(path) if kind == "whisper" else _tiny_ssl(kind, path)
    cfg = config_from_dict(
        {
            "features": {"kind": "waveform"},
            "model": {"encoder": kind, "hf_path": str(path), "freeze_encoder": freeze, "embed_dim": 8},
        }
    )
    enc = build_encoder(cfg, 1)
    x, mask = collate([torch.randn(8000).numpy(), torch.randn(12000).numpy()], "waveform")
    out = enc(x, mask)
    assert out.shape == (2, 8)
    out.sum().backward()
    hf_grads = [p.grad is not None for p in enc.model.parameters()]
    assert any(hf_grads) != freeze  # frozen: no gradient reaches the pretrained weights
    assert enc.layer_weights.grad is not None
    enc.save_pretrained(str(tmp_path / "copy"))
    assert (tmp_path / "copy" / "config.json").is_file()


def test_mlp_encoder_mixes_layer_blocks_with_learned_weights():
    from m5ser.train.encoders import MLPEncoder

    enc = MLPEncoder(in_dim=3 * 8, hidden=16, out_dim=4, dropout=0.0, blocks=3)
    assert enc.layer_weights.shape == (3,)
    x = torch.randn(5, 24)
    out = enc(x)
    assert out.shape == (5, 4)
    out.sum().backward()
    assert enc.layer_weights.grad is not None and enc.layer_weights.grad.abs().sum() > 0
    with torch.no_grad():  # all weight on block 1 == the MLP on block 1 alone
        enc.layer_weights.copy_(torch.tensor([-1e4, 0.0, -1e4]))
    enc.eval()
    torch.testing.assert_close(enc(x), enc.net(x[:, 8:16]))
    with pytest.raises(ValueError, match="does not split into 3 layer blocks"):
        MLPEncoder(in_dim=25, hidden=16, out_dim=4, dropout=0.0, blocks=3)

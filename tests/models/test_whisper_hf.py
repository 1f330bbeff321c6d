"""The CTranslate2 → transformers Whisper converter against `ctranslate2` on the real weights."""

from __future__ import annotations

import numpy as np
import pytest

ctranslate2 = pytest.importorskip("ctranslate2")
torch = pytest.importorskip("torch")
tf = pytest.importorskip("transformers")


@pytest.fixture(scope="session")
def whisper_folders():
    from m5ser.models.store import ModelStoreError, model_path

    try:
        return model_path("whisper-base"), model_path("whisper-base-hf")
    except ModelStoreError as exc:
        pytest.skip(str(exc))


@pytest.mark.slow
def test_encoder_matches_ctranslate2_on_unpadded_logmel(whisper_folders) -> None:
    from m5ser.models.whisper_hf import encode_unpadded

    ct2_dir, hf_dir = whisper_folders
    rng = np.random.default_rng(0)
    t = np.arange(int(2.4 * 16000)) / 16000
    audio = (0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t) + 0.02 * rng.standard_normal(t.size)).astype(np.float32)
    extractor = tf.WhisperFeatureExtractor.from_pretrained(hf_dir)
    mel = extractor(audio, sampling_rate=16000, return_tensors="np", padding="longest").input_features
    mel = np.ascontiguousarray(mel[..., : mel.shape[-1] // 2 * 2], dtype=np.float32)
    assert mel.shape[1:] == (80, 240)  # unpadded: 2.4 s, not 30 s

    ct2 = ctranslate2.models.Whisper(str(ct2_dir), device="cpu", compute_type="float32", intra_threads=1)
    expected = np.array(ct2.encode(ctranslate2.StorageView.from_array(mel), to_cpu=True))

    model = tf.WhisperModel.from_pretrained(hf_dir).eval()
    with torch.no_grad():
        states = encode_unpadded(model.get_encoder(), torch.from_numpy(mel))
    got = states[-1].numpy()
    assert len(states) == model.config.encoder_layers + 1
    assert got.shape == expected.shape == (1, 120, 512)
    assert np.abs(got - expected).max() < 1e-2, np.abs(got - expected).max()

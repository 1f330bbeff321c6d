"""XTTS-v2 backend: the real loading and synthesis code, run on a tiny random-weight model.

`scripts/xtts_worker.py make-tiny` builds the model from an XttsConfig (2-layer GPT, character
vocabulary, one built-in speaker) and saves it as a checkpoint folder; the backend's worker
loads it through `Xtts.load_checkpoint` like the hub's coqui/XTTS-v2. Random weights give no
speech, so only the protocol's output (dtype, shape, rate, finite values) is checked. Needs
`.venv-xtts` (`bash scripts/install-xtts.sh`); skipped without it.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from m5ser import audio
from m5ser import registry as base
from m5ser.config import load_voices
from m5ser.registry import MissingDependencyError, Synthesizer
from m5ser.schema import SAMPLE_RATE, Prosody, Voice
from m5ser.tts.engines.xtts import XTTSSynthesizer, conditioning_for, scaled, xtts_language

from ...conftest import ROOT

XTTS_PYTHON = ROOT / ".venv-xtts/bin/python"
WORKER = ROOT / "scripts/xtts_worker.py"
ANGRY = Prosody(rate=20, pitch=25, range=80, volume=10, contour="fall_steep", contour_points=((0, 10), (100, -10)))


@dataclasses.dataclass(frozen=True, slots=True)
class EmotionProsody(Prosody):
    """A Prosody that names its emotion (the field the backend reads when present)."""

    emotion: str = "neutral"


def _clip(path: Path, sr: int, f0: float, seconds: float = 2.0) -> Path:
    """A vowel-like reference clip: harmonics of a gliding F0 under a syllable-rate envelope."""
    t = np.arange(int(sr * seconds)) / sr
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))) / sr
    wave = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    sf.write(path, (0.3 * wave * envelope / np.abs(wave).max()).astype(np.float32), sr)
    return path


def _voice(**kw: object) -> Voice:
    fields = {"id": "en-xtts-t1", "lang": "en", "engine": "xtts", "voice": "clone", "gender": "female"}
    fields |= {"license": "CPML-non-commercial", "options": {"references": {"neutral": "neutral.wav"}}}
    return Voice(**(fields | kw))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def refs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("xtts-refs")
    _clip(folder / "neutral.wav", 22050, 180.0)
    _clip(folder / "angry.wav", 16000, 260.0)  # another rate: the worker resamples
    return folder


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not XTTS_PYTHON.exists():
        pytest.skip(f"XTTS environment not installed ({XTTS_PYTHON} missing): run bash scripts/install-xtts.sh")
    out = tmp_path_factory.mktemp("xtts") / "tiny"
    run = subprocess.run(
        [str(XTTS_PYTHON), str(WORKER), "make-tiny", str(out)], capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, f"make-tiny failed:\n{run.stderr[-3000:]}"
    assert {p.name for p in out.iterdir()} >= {"config.json", "model.pth", "vocab.json", "speakers_xtts.pth"}
    return out


@pytest.fixture(scope="module")
def synth(tiny_model: Path, refs: Path):
    with XTTSSynthesizer(tiny_model, references_dir=refs, threads=2) as s:
        yield s


def _check_16k(samples: np.ndarray, sr: int) -> np.ndarray:
    assert samples.dtype == np.float32 and samples.ndim == 1 and samples.size > 0
    assert np.all(np.isfinite(samples)) and np.any(samples != 0)
    x = audio.resample(samples, sr, SAMPLE_RATE)
    assert x.dtype == np.float32 and abs(len(x) - len(samples) * SAMPLE_RATE / sr) <= 2
    assert np.all(np.isfinite(x)) and len(x) > 0
    return x


def test_registered_and_follows_the_protocol(synth: XTTSSynthesizer, tiny_model: Path) -> None:
    assert isinstance(synth, Synthesizer)
    assert base.resolve("synthesizer", "xtts") is XTTSSynthesizer
    info = synth.info
    assert info["sample_rate"] == 24000 and "zh-cn" in info["languages"] and info["speakers"] == ["Tiny Speaker"]


def test_clones_neutral_reference_and_renders_prosody(synth: XTTSSynthesizer) -> None:
    samples, sr = synth.synthesize("I really did not expect to see you here today.", _voice(), ANGRY)
    assert sr == 24000
    _check_16k(samples, sr)


def test_emotion_reference_and_builtin_speaker(synth: XTTSSynthesizer) -> None:
    angry = _voice(options={"references": {"neutral": "neutral.wav", "angry": ["angry.wav", "neutral.wav"]}})
    _check_16k(*synth.synthesize("Get out of here!", angry, EmotionProsody(emotion="angry", rate=20, pitch=25)))
    builtin = _voice(
        id="zh-xtts-t1",
        lang="zh",
        voice="Tiny Speaker",
        options={"generation": {"temperature": 0.5}, "xtts_language": "zh-cn"},
    )
    _check_16k(*synth.synthesize("我真的没想到今天会在这里见到你。", builtin, ANGRY))


def test_same_clip_twice_is_identical(synth: XTTSSynthesizer) -> None:
    a, _ = synth.synthesize("Same words, same seed.", _voice(), Prosody())
    b, _ = synth.synthesize("Same words, same seed.", _voice(), Prosody())
    np.testing.assert_array_equal(a, b)


def test_worker_errors_raise_and_worker_keeps_serving(synth: XTTSSynthesizer) -> None:
    with pytest.raises(RuntimeError, match="does not speak 'fi'"):
        synth.synthesize("Hyvää päivää.", _voice(lang="fi"), Prosody())
    with pytest.raises(RuntimeError, match="unknown generation parameters"):
        synth.synthesize(
            "Hello.", _voice(options={"references": {"neutral": "neutral.wav"}, "generation": {"x": 1}}), Prosody()
        )
    _check_16k(*synth.synthesize("Still here.", _voice(), Prosody()))


def test_bad_model_dir_fails_loudly(tmp_path: Path, refs: Path) -> None:
    if not XTTS_PYTHON.exists():
        pytest.skip(f"XTTS environment not installed ({XTTS_PYTHON} missing)")
    with (
        XTTSSynthesizer(tmp_path, references_dir=refs, start_timeout=300) as s,
        pytest.raises(RuntimeError, match=r"config\.json is missing"),
    ):
        s.synthesize("Hello.", _voice(), Prosody())


# --- no XTTS environment needed -------------------------------------------------------


def test_missing_environment_names_the_install_script(tmp_path: Path) -> None:
    with pytest.raises(MissingDependencyError, match=r"install-xtts\.sh"):
        XTTSSynthesizer(tmp_path, python=tmp_path / "no-python")


def test_conditioning_prefers_the_emotions_own_references(tmp_path: Path) -> None:
    _clip(tmp_path / "n.wav", 16000, 150.0, 0.5)
    _clip(tmp_path / "a.wav", 16000, 250.0, 0.5)
    voice = _voice(voice="Ana", options={"references": {"neutral": "n.wav", "angry": [str(tmp_path / "a.wav")]}})
    angry = conditioning_for(voice, "angry", tmp_path)
    assert angry.references == (str((tmp_path / "a.wav").resolve()),) and angry.emotional
    sad = conditioning_for(voice, "sad", tmp_path)
    assert sad.references == (str((tmp_path / "n.wav").resolve()),) and not sad.emotional
    builtin = conditioning_for(_voice(voice="Ana", options={}), "sad", tmp_path)
    assert builtin.references == () and builtin.speaker == "Ana" and not builtin.emotional
    with pytest.raises(ValueError, match="no references"):
        conditioning_for(_voice(options={}), "sad", tmp_path)
    with pytest.raises(FileNotFoundError, match="not found"):
        conditioning_for(_voice(options={"references": {"sad": "missing.wav"}}), "sad", tmp_path)


def test_scaled_prosody() -> None:
    half = scaled(ANGRY, 0.5)
    assert (half.rate, half.pitch, half.range, half.volume) == (10, 12.5, 40, 5)
    assert half.contour_points == ((0, 5), (100, -5)) and half.contour == ANGRY.contour


def test_language_code_comes_from_the_speaker_bank() -> None:
    zh = load_voices(ROOT / "manifests/voices/zh.yaml")[0]
    assert xtts_language(zh) == "zh-cn"  # XTTS's code for Mandarin, set as data in zh.yaml
    assert xtts_language(_voice(lang="de")) == "de"

"""Back-transcription with the real Whisper base (model store), and the ASR filters' rules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from m5ser import audio
from m5ser.config import RecipeError
from m5ser.quality.asr import (
    AsrAnnotator,
    AsrFilter,
    AsrParams,
    AsrThresholds,
    LanguageIdFilter,
    LanguageIdThresholds,
    error_rates,
    normalize,
)
from m5ser.quality.signal import SignalAnnotator, SignalFilter, SignalThresholds
from m5ser.schema import Prosody, Utterance, Voice
from m5ser.steps import chain
from m5ser.testing import make_utterance

SR = 16_000
EN = "I can't believe you did that to me."
ES = "No quiero ir contigo mañana."


def test_normalize_and_rates() -> None:
    assert normalize("Ça va?  OUI!") == "ça va oui"
    assert error_rates("I can't believe it.", "i can't believe it") == {"wer": 0.0, "cer": 0.0}
    assert error_rates("one two three four", "one two")["wer"] == 0.5
    assert error_rates("我不知道", "我知道")["cer"] == 0.25
    assert error_rates("hello there", "") == {"wer": 1.0, "cer": 1.0}


def test_rates_compare_spoken_forms_with_the_recipes_rules(tiny_recipe, root) -> None:
    from m5ser.config import load_recipe
    from m5ser.pipeline.assemble import context

    recipe = load_recipe(tiny_recipe({"fr": {"sources": ["xed"], "translate": "parallel"}}), root=root)
    step = AsrAnnotator(AsrParams(), context(recipe, "fr"))
    rules = step.rules("fr")
    assert rules is not None and rules.num2words == "fr"
    # The clip says the number in words (the normalize step spelled it); Whisper writes digits.
    ref, heard = "Il a perdu mille sept cents euros.", "Il a perdu 1700 €."
    assert error_rates(ref, heard)["cer"] > 0.3
    assert error_rates(ref, heard, rules, "fr") == {"wer": 0.0, "cer": 0.0}
    assert AsrAnnotator(AsrParams()).rules("fr") is None  # no recipe: compared as written
    with pytest.raises(RecipeError, match="no normalization rules file"):
        AsrAnnotator(AsrParams(rules=str(root / "missing.yaml")), context(recipe, "fr")).rules("fr")


def test_asr_filter_per_language_override() -> None:
    f = AsrFilter(AsrThresholds(max_error=0.3, per_lang={"zh": {"max_error": 0.6}, "ru": {"max_error": None}}))
    clips = [
        make_utterance(lang="de", metrics={"asr_status": "checked", "asr_error": 0.5}),
        make_utterance(lang="zh", metrics={"asr_status": "checked", "asr_error": 0.5}),
        make_utterance(lang="ru", metrics={"asr_status": "checked", "asr_error": 0.9}),
        make_utterance(lang="de", metrics={"asr_status": "checked", "asr_error": 0.3}),  # strict >: kept
        make_utterance(lang="ja", metrics={}),  # skipped by the annotator: kept, not checked
        make_utterance(lang="de", metrics={"asr_status": "unchecked", "asr_error": 0.9}),  # ear not trusted
    ]
    assert [u.drop_reason for u in f(clips)] == ["asr_mismatch", None, None, None, None, None]
    assert f.counts == {"asr_mismatch": 1}


def test_per_lang_errors_name_the_key() -> None:
    with pytest.raises(RecipeError, match=r"asr_filter\.per_lang\.zh\.max_eror: unknown key"):
        AsrFilter(AsrThresholds(per_lang={"zh": {"max_eror": 0.6}}))


def test_language_id_rule() -> None:
    f = LanguageIdFilter(LanguageIdThresholds(min_prob=0.5, per_lang={"ru": {"min_prob": None}}))
    clips = [
        make_utterance(lang="es", metrics={"asr_status": "checked", "asr_lang": "en", "asr_lang_prob": 0.9}),
        # unsure (p <= min_prob): kept
        make_utterance(lang="es", metrics={"asr_status": "checked", "asr_lang": "en", "asr_lang_prob": 0.4}),
        make_utterance(lang="es", metrics={"asr_status": "checked", "asr_lang": "es", "asr_lang_prob": 0.9}),
        make_utterance(lang="ru", metrics={"asr_status": "checked", "asr_lang": "pl", "asr_lang_prob": 0.9}),  # ru: off
    ]
    assert [u.drop_reason for u in f(clips)] == ["wrong_language", None, None, None]


# --- the real ear: Whisper base from the model store, loaded once per session ---------------


@pytest.fixture(scope="session")
def asr_step() -> AsrAnnotator:
    pytest.importorskip("faster_whisper", reason="needs the quality extra")
    step = AsrAnnotator(AsrParams(cpu_threads=2, batch_size=8))
    step.whisper  # noqa: B018  (load now, once)
    return step


@pytest.fixture(scope="session")
def speak() -> Callable[[str, str], np.ndarray]:
    from m5ser.tts.engines.espeak import EspeakSynthesizer

    engine = EspeakSynthesizer()

    def run(text: str, voice: str) -> np.ndarray:
        samples, sr = engine.synthesize(text, Voice("t", "xx", "espeak", voice, "male", "GPL-3.0"), Prosody())
        return audio.condition(samples, sr)

    return run


def _clip(tmp: Path, name: str, samples: np.ndarray, lang: str, text: str) -> Utterance:
    path = tmp / f"{name}.wav"
    sf.write(str(path), np.clip(samples, -1, 1).astype(np.float32), SR, subtype="PCM_16")
    return make_utterance(id=name, lang=lang, text=text, audio_path=str(path), duration_s=len(samples) / SR)


@pytest.mark.slow
def test_real_whisper_keeps_clean_and_drops_each_fault_with_its_reason(
    asr_step: AsrAnnotator, speak: Callable[[str, str], np.ndarray], tmp_path: Path
) -> None:
    en, es = speak(EN, "en-us"), speak(ES, "es")
    rng = np.random.default_rng(0)
    loud = en / np.abs(en).max()
    clips = {
        "clean_en": (en, "en", EN, None),
        "clean_es": (es, "es", ES, None),
        "silence": (np.zeros(SR * 2, dtype=np.float32), "en", EN, "too_quiet"),
        "clipping": (np.clip(loud * 4.0, -1, 1), "en", EN, "clipping"),
        "noise_only": (0.1 * rng.standard_normal(SR * 2).astype(np.float32), "en", EN, "low_snr"),
        "truncated": (en[: len(en) * 2 // 5], "en", EN, "asr_mismatch"),
        # Spanish text spoken by the English voice as English would be (a TTS in the wrong language).
        "wrong_language": (en, "es", ES, "wrong_language"),
    }
    items = [_clip(tmp_path, name, s, lang, text) for name, (s, lang, text, _) in clips.items()]
    steps = [
        SignalAnnotator(),
        SignalFilter(SignalThresholds(min_rms_dbfs=-40.0, min_snr_db=20.0)),
        asr_step,
        LanguageIdFilter(LanguageIdThresholds(min_prob=0.5)),
        AsrFilter(AsrThresholds(max_error=0.3)),  # SpeechFactory keeps WER < 0.3
    ]
    out = {u.id: u for u in chain(items, steps)}
    got = {name: out[name].drop_reason for name in clips}
    assert got == {name: want for name, (*_, want) in clips.items()}, {k: out[k].metrics for k in clips}
    assert out["clean_en"].metrics["asr_lang"] == "en" and out["clean_en"].metrics["wer"] <= 0.2
    assert out["clean_es"].metrics["asr_own_prob"] > 0.3
    assert out["wrong_language"].metrics["asr_lang"] == "en"
    assert "asr_text" not in out["silence"].metrics  # dropped before the ear: not transcribed


@pytest.mark.slow
def test_skipped_and_unchecked_languages(
    asr_step: AsrAnnotator, speak: Callable[[str, str], np.ndarray], tmp_path: Path
) -> None:
    step = AsrAnnotator(AsrParams(skip=["zh"], unchecked=["ru"]))
    step._whisper = asr_step.whisper
    zh = make_utterance(lang="zh", text="我不知道", audio_path="/nonexistent.wav")
    ru = _clip(tmp_path, "ru", speak(EN, "en-us"), "ru", "Я не знаю.")
    out = list(step([zh, ru]))
    assert "asr_error" not in out[0].metrics and step.counts == {"asr_not_run": 1, "asr_unchecked": 1}
    assert out[1].metrics["asr_status"] == "unchecked" and out[1].metrics["asr_lang"] == "en"
    assert LanguageIdFilter(LanguageIdThresholds(min_prob=0.1)).reason(out[1]) is None


# --- the transformers backend: real loading code on a tiny Whisper built here ----------------


@pytest.fixture(scope="module")
def tiny_hf_whisper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Whisper with random weights and Whisper base's real tokenizer, saved to a folder."""
    transformers = pytest.importorskip("transformers")
    from m5ser.models.store import model_path

    folder = tmp_path_factory.mktemp("tiny-whisper")
    tokenizer = transformers.WhisperTokenizerFast(tokenizer_file=str(model_path("whisper-base") / "tokenizer.json"))
    config = transformers.WhisperConfig(
        vocab_size=len(tokenizer), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_target_positions=24,
        decoder_start_token_id=tokenizer.convert_tokens_to_ids("<|startoftranscript|>"),
    )  # fmt: skip
    transformers.WhisperForConditionalGeneration(config).save_pretrained(folder)
    transformers.WhisperProcessor(transformers.WhisperFeatureExtractor(), tokenizer).save_pretrained(folder)
    return folder


def test_transformers_backend_loads_and_hears(tiny_hf_whisper: Path) -> None:
    from m5ser.quality.whisper import load_whisper

    ear = load_whisper("transformers", model=str(tiny_hf_whisper), cpu_threads=1)
    assert {"en", "de", "zh", "haw"} <= set(ear.lang_ids) and "nocaptions" not in ear.lang_ids
    heard = ear.hear([np.zeros(SR, dtype=np.float32), 0.1 * np.ones(SR // 2, dtype=np.float32)], ["de", "en"], [5, 3])
    assert len(heard) == 2
    for h in heard:  # random weights: any words, but a well-formed answer
        assert isinstance(h.text, str) and h.lang in ear.lang_ids and 0.0 <= h.own_prob <= h.lang_prob <= 1.0
    assert isinstance(ear.transcribe(np.zeros(SR, dtype=np.float32), SR, "de"), str)

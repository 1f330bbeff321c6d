"""Test factories: dummy Utterances, tiny WAVs and small published folders.

Everything here is deterministic (no randomness, no clock), so tests built on it can
compare bytes. Used by the test suite and available to anyone writing tests.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile as sf

from m5ser.manifest import write_manifest
from m5ser.schema import SAMPLE_RATE, Utterance, utterance_id

if TYPE_CHECKING:
    import pytest

PROBE_SENTENCES: dict[str, str] = {
    "en": "I really did not expect to see you here today, my friend.",
    "de": "Ich hätte wirklich nicht erwartet, dich heute hier zu sehen, mein Freund.",
    "fr": "Je ne m'attendais vraiment pas à te voir ici aujourd'hui, mon ami.",
    "es": "De verdad no esperaba verte aquí hoy, amigo mío.",
    "it": "Non mi aspettavo davvero di vederti qui oggi, amico mio.",
    "zh": "我真的没想到今天会在这里见到你，我的朋友。",
    "ja": "今日ここであなたに会えるとは本当に思っていませんでした。",
    "ru": "Я правда не ожидал увидеть тебя здесь сегодня, мой друг.",
}
"""One neutral-content sentence per language, for engine tests and benches."""

DEFAULT_SPLITS: tuple[str, ...] = ("train", "train", "train", "dev", "test")
"""Split cycle used by `make_kept_set`: 3/5 train, 1/5 dev, 1/5 test."""


def write_tone_wav(path: str | Path, seconds: float, f0: float = 220.0, sr: int = SAMPLE_RATE) -> Path:
    """Write a mono PCM16 sine tone of `seconds` at `f0` Hz (amplitude 0.3) to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(round(seconds * sr)) / sr
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * f0 * t)).astype(np.float32), sr, subtype="PCM_16")
    return path


def make_utterance(**overrides: Any) -> Utterance:
    """An Utterance with plausible defaults; any field can be overridden.

    The id is derived from source id, language, speaker and emotion unless given.
    """
    base: dict[str, Any] = {
        "source_id": "xed-en-1",
        "source_corpus": "xed",
        "source_lang": "en",
        "source_text": "I can't believe you did that!",
        "lang": "en",
        "text": "I can't believe you did that!",
        "translation_backend": "identity",
        "emotion": "angry",
        "intensity": 0.8,
        "speaker_id": "en-espeak-m1",
        "gender": "male",
        "tts_backend": "espeak",
        "voice": "en-us+m1",
        "prosody": {"rate": 20.0, "pitch": 25.0},
        "sample_rate": SAMPLE_RATE,
        "duration_s": 1.0,
        "metrics": {},
        "drop_reason": None,
        "split": "train",
    }
    base.update(overrides)
    if not base.get("id"):
        base["id"] = utterance_id(base["source_id"], base["lang"], base["speaker_id"], base["emotion"], 0)
    return Utterance(**base)


def make_sentences(n_per: int, emotions: Sequence[str] = ("happy", "sad")) -> list[Utterance]:
    """`n_per` distinct sentences per emotion, not yet cast (no speaker): input for plan steps."""
    return [
        Utterance(id=f"{e}{i}", source_id=f"s{e}{i}", text=f"{e} {i}", emotion=e)
        for e in emotions
        for i in range(n_per)
    ]


def _clip(root: Path, lang: str, emotion: str, i: int, **overrides: Any) -> Utterance:
    """One clip with a tone WAV under `root/audio/<lang>/`; deterministic in its arguments."""
    speaker = f"{lang}-espeak-{'mf'[i % 2]}{i % 4}"
    seconds = round(0.2 + 0.05 * (i % 3), 2)
    utt = make_utterance(
        source_id=f"src-{i}",
        source_lang="en",
        lang=lang,
        text=f"{emotion} sentence {i} in {lang}",
        emotion=emotion,
        speaker_id=speaker,
        gender="male" if i % 2 == 0 else "female",
        voice=f"{lang}+{'mf'[i % 2]}{i % 4}",
        duration_s=seconds,
        metrics={"snr_db": 20.0 + i, "clipping_ratio": 0.0, "rms_db": -20.0 - i},
        **overrides,
    )
    wav = write_tone_wav(root / "audio" / lang / f"{utt.id}.wav", seconds, f0=150.0 + 10 * i)
    utt.audio_path = str(wav.resolve())
    return utt


def make_kept_set(
    tmp_path: str | Path,
    langs: Sequence[str],
    emotions: Sequence[str],
    n_per: int,
    *,
    splits: Sequence[str] = DEFAULT_SPLITS,
    **overrides: Any,
) -> dict[str, list[Utterance]]:
    """Kept clips per language: `n_per` per emotion, tone WAVs under `tmp_path/audio/`.

    Clip `i` goes to ``splits[i % len(splits)]``; speakers and durations cycle with `i`
    (0.2, 0.25, 0.3 s); `overrides` set further Utterance fields on every clip.
    """
    root = Path(tmp_path)
    return {
        lang: [
            _clip(root, lang, emotion, i, split=splits[i % len(splits)], **overrides)
            for emotion in emotions
            for i in range(n_per)
        ]
        for lang in langs
    }


def make_dropped_set(
    tmp_path: str | Path,
    langs: Sequence[str],
    emotions: Sequence[str],
    reasons: Mapping[str, int],
) -> dict[str, list[Utterance]]:
    """Dropped clips per language: for each emotion, `reasons[r]` clips dropped for reason `r`."""
    root = Path(tmp_path)
    out: dict[str, list[Utterance]] = {}
    for lang in langs:
        items: list[Utterance] = []
        for emotion in emotions:
            i = 100
            for reason, count in reasons.items():
                for _ in range(count):
                    items.append(_clip(root, lang, emotion, i, drop_reason=reason, split=""))
                    items[-1].metrics["snr_db"] = 2.0
                    i += 1
        out[lang] = items
    return out


def write_removed(out_dir: str | Path, dropped: Iterable[Utterance]) -> list[Path]:
    """Write dropped clips to ``out_dir/removed/<lang>/<reason>.jsonl``; returns the files."""
    groups: dict[tuple[str, str], list[Utterance]] = defaultdict(list)
    for utt in dropped:
        if utt.drop_reason is None:
            raise ValueError(f"clip {utt.id}: field 'drop_reason' is None; not a dropped clip")
        groups[(utt.lang, utt.drop_reason)].append(utt)
    paths = []
    for (lang, reason), items in sorted(groups.items()):
        path = Path(out_dir) / "removed" / lang / f"{reason}.jsonl"
        write_manifest(path, sorted(items, key=lambda u: u.id))
        paths.append(path)
    return paths


def isolate_hf(monkeypatch: pytest.MonkeyPatch, root: str | Path) -> Path:
    """Run `datasets` offline with every cache under `root`; returns the datasets cache dir.

    Sets the environment (read when `datasets` is first imported) and, if `datasets` is
    already imported, its config too. Pass the returned path as ``cache_dir`` as well.
    """
    cache = Path(root) / "hf" / "datasets"
    cache.mkdir(parents=True, exist_ok=True)
    for key, value in {
        "HF_HOME": str(Path(root) / "hf"),
        "HF_DATASETS_CACHE": str(cache),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    }.items():
        monkeypatch.setenv(key, value)
    if "datasets" in sys.modules:
        config = sys.modules["datasets"].config
        monkeypatch.setattr(config, "HF_DATASETS_CACHE", cache)
        monkeypatch.setattr(config, "HF_HUB_OFFLINE", True)
    return cache


EAR_STEPS = frozenset({"asr", "language_id", "asr_filter", "vad", "f0", "dnsmos", "speaker", "emotion", "retry"})
"""Steps that listen to the audio with pretrained models; `write_tiny_recipe` stops before the
first of them unless asked (``ear=True``)."""


def write_tiny_recipe(
    folder: Path,
    root: Path,
    languages: dict | None = None,
    per_emotion: int = 2,
    step_params: dict[str, dict] | None = None,
    **overrides: Any,
) -> Path:
    """A small variant of `root`/manifests/recipes/mini.yaml whose output and work folders live
    in `folder`; repo paths are made absolute. `per_emotion` sets the ``select`` step's quota,
    `step_params` update the parameters of named steps, `overrides` replace top-level keys
    (``steps=[...]`` replaces the step list; ``ear=True`` keeps the listening checks).
    Returns the recipe path (``folder/recipe.yaml``)."""
    import yaml

    data = yaml.safe_load((root / "manifests/recipes/mini.yaml").read_text(encoding="utf-8"))
    data["output"] = str(folder / "out" / "m5ser")
    data["work_dir"] = str(folder / "out" / "work")
    data["emotions"] = str(root / "manifests/emotions.yaml")
    data["voices_dir"] = str(root / "manifests/voices")
    for source in data["sources"].values():
        source["path"] = str(root / source["path"])
    if languages is not None:
        data["languages"] = languages
    params = {"select": {"per_emotion": per_emotion}, **(step_params or {})}
    ear = overrides.pop("ear", False)
    steps = []
    for entry in overrides.pop("steps", data["steps"]):
        name, value = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
        if name in EAR_STEPS and not ear:
            break  # the demo's listening checks (Whisper, VAD, ...) come last; tests of the pipeline skip them
        steps.append({name: {**(value or {}), **params.get(name, {})}})
    data["steps"] = steps
    data.update(overrides)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def make_text_drops(langs: Sequence[str], reasons: Mapping[str, int], emotion: str = "") -> dict[str, list[Utterance]]:
    """Text-level drops per language: `reasons[r]` source sentences dropped for reason `r`
    before any speaker was cast (empty `speaker_id`, no audio, zero duration)."""
    out: dict[str, list[Utterance]] = {}
    for lang in langs:
        out[lang] = [
            make_utterance(
                source_id=f"txt-{reason}-{i}",
                lang=lang,
                text=f"sentence {i} dropped for {reason} in {lang}",
                emotion=emotion,
                speaker_id="",
                gender="",
                tts_backend="",
                voice="",
                prosody={},
                duration_s=0.0,
                drop_reason=reason,
                split="",
            )
            for reason, count in reasons.items()
            for i in range(count)
        ]
    return out

"""Test factories: tiny M5SER shards and a tiny real-corpus folder with synthetic signals
whose pitch, pitch range, energy and syllable rate depend on the emotion (so a model can
learn them in seconds). The label set is the repo's `manifests/emotions.yaml`.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import soundfile as sf

from m5ser.audio import wav_bytes
from m5ser.config import load_emotions
from m5ser.schema import SAMPLE_RATE as SR
from m5ser.shards.parquet import SCHEMA as SHARD_SCHEMA  # the one shard column list

EMOTIONS_FILE = Path(__file__).resolve().parents[2] / "manifests" / "emotions.yaml"
"""The repo's emotions manifest (label set and aliases), for tests and benches."""


def repo_labels() -> tuple[str, ...]:
    """The label set of the repo's emotions manifest, in its order."""
    return load_emotions(EMOTIONS_FILE).labels


# emotion -> (F0 factor, F0 modulation depth, amplitude, syllables per second)
EMOTION_CUES: dict[str, tuple[float, float, float, float]] = {
    "neutral": (1.0, 0.05, 0.20, 4.0),
    "happy": (1.35, 0.25, 0.30, 5.0),
    "sad": (0.85, 0.02, 0.10, 2.5),
    "angry": (1.25, 0.30, 0.45, 5.5),
    "fear": (1.50, 0.20, 0.20, 6.5),
    "disgust": (0.80, 0.12, 0.15, 2.0),
    "surprise": (1.45, 0.45, 0.30, 4.5),
}


def emotional_signal(
    emotion: str, base_f0: float, rng: np.random.Generator, duration_s: float = 1.0, sr: int = SR
) -> np.ndarray:
    """A voiced-like harmonic signal with emotion-dependent prosody, jittered per clip."""
    f0_factor, depth, amp, rate = EMOTION_CUES[emotion]
    t = np.arange(int(duration_s * sr)) / sr
    jitter = rng.normal(1.0, 0.04, 4)
    f0 = base_f0 * f0_factor * jitter[0] * (1 + depth * jitter[1] * np.sin(2 * np.pi * 1.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    tone = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * rate * jitter[2] * t)) ** 2
    x = amp * jitter[3] * envelope * tone / 2 + rng.normal(0, 0.003, len(t))
    return np.clip(x, -1, 1).astype(np.float32)


def write_shards(
    root: str | Path,
    languages: tuple[str, ...] = ("en", "de"),
    splits: dict[str, int] | None = None,
    speakers_per_lang: int = 2,
    emotions: tuple[str, ...] | None = None,
    duration_s: float = 1.0,
    seed: int = 0,
) -> Path:
    """Write `root/<lang>/<split>-00000-of-00001.parquet` in the M5SER shard schema.

    `splits` maps split name -> clips per (speaker, emotion); `emotions` defaults to the
    repo's label set. Returns `root`.
    """
    splits = splits or {"train": 3, "dev": 1}
    emotions = emotions or repo_labels()
    rng = np.random.default_rng(seed)
    root = Path(root)
    for li, lang in enumerate(languages):
        (root / lang).mkdir(parents=True, exist_ok=True)
        for split, per in splits.items():
            rows = []
            for s in range(speakers_per_lang):
                gender = "female" if s % 2 else "male"
                base_f0 = (210.0 if gender == "female" else 120.0) * (1 + 0.05 * li)
                for emotion in emotions:
                    for k in range(per):
                        x = emotional_signal(emotion, base_f0, rng, duration_s * rng.uniform(0.8, 1.2))
                        cid = f"{lang}-{split}-{s}-{emotion}-{k}"
                        rows.append(
                            {
                                "id": cid,
                                "audio": {"bytes": wav_bytes(x), "path": f"{cid}.wav"},
                                "lang": lang,
                                "text": f"sentence {k} in {lang}",
                                "emotion": emotion,
                                "speaker_id": f"{lang}-spk{s}",
                                "gender": gender,
                                "tts_backend": "synthetic",
                                "voice": f"tone{s}",
                                "source_id": f"src-{split}-{k}",
                                "source_corpus": "testing",
                                "split": split,
                                "intensity": 1.0,
                                "duration_s": len(x) / SR,
                                "sample_rate": SR,
                            }
                        )
            table = pa.Table.from_pylist(rows, schema=SHARD_SCHEMA)
            pq.write_table(table, root / lang / f"{split}-00000-of-00001.parquet")
    return root


def write_corpus(
    root: str | Path,
    per_emotion: int = 3,
    emotions: tuple[str, ...] = ("neutral", "happy", "sad", "angry"),
    extra_labels: tuple[str, ...] = ("calm",),
    missing: int = 0,
    seed: int = 1,
) -> Path:
    """A 'real corpus' folder: labels.csv + audio as WAV 16 kHz, FLAC 44.1 kHz and stereo
    WAV 48 kHz; `extra_labels` rows are outside the label set; `missing` rows name no file.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    rows = []
    formats = [("wav", 16_000, 1), ("flac", 44_100, 1), ("wav", 48_000, 2)]
    i = 0
    for speaker in ("spkA", "spkB"):
        base = 130.0 if speaker == "spkA" else 200.0
        for emotion in (*emotions, *extra_labels):
            for _ in range(per_emotion):
                ext, sr, channels = formats[i % len(formats)]
                x = emotional_signal(emotion if emotion in EMOTION_CUES else "neutral", base, rng, 1.2, sr)
                if channels == 2:
                    x = np.stack([x, 0.8 * x], axis=1)
                rel = f"audio/{i:04d}.{ext}"
                sf.write(root / rel, x, sr, subtype="PCM_16")
                rows.append({"path": rel, "emotion": emotion, "speaker": speaker, "language": "xx", "note": "t"})
                i += 1
    for k in range(missing):
        rows.append({"path": f"audio/missing-{k}.wav", "emotion": emotions[0], "speaker": "spkA", "language": "xx"})
    with (root / "labels.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "emotion", "speaker", "language", "note"])
        writer.writeheader()
        writer.writerows(rows)
    return root

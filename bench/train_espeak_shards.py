"""Stand-in training shards for stage-1 experiments while the real pipeline's shards are not
built: espeak-ng renders sentences from the bundled XED sample with the emotion prosody of
manifests/emotions.yaml (SSML rate/pitch/range/volume + pauses, per-clip jitter, the speaker
bank's espeak voices), each sentence with a random emotion so the text carries no label.
Writes shards in the M5SER contract schema (split by sentence 80/10/10). Not the dataset:
no contour shaping, no quality filters; `make train` uses the pipeline's shards.

    .venv/bin/python bench/train_espeak_shards.py --out /tmp/espeak_shards --per-lang 280
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import soundfile as sf
import yaml

from m5ser.audio import condition, wav_bytes
from m5ser.train.testing import SHARD_SCHEMA

TEXTS = {
    "en": "data/sample/xed/AnnotatedData/en-annotated.tsv",
    "de": "data/sample/xed/Projections/de-projections.tsv",
    "fr": "data/sample/xed/Projections/fr-projections.tsv",
    "es": "data/sample/xed/Projections/es-projections.tsv",
    "it": "data/sample/xed/Projections/it-projections.tsv",
    "zh": "data/sample/xed/Projections/cn-projections.tsv",
}


def sentences(path: str, n: int) -> list[str]:
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        text = line.split("\t")[0].strip().lstrip("*-, .").strip()
        if 12 <= len(text) <= 120 and text not in out:
            out.append(text)
    return out[:n]


def ssml(text: str, p: dict, rng: np.random.Generator, jitter: dict) -> str:
    def j(key: str) -> float:
        return p[key] + rng.normal(0, jitter.get(key, 0))

    rate, pitch, rng_, vol = (j(k) for k in ("rate", "pitch", "range", "volume"))
    body = text.replace("&", "and").replace("<", "").replace(">", "")
    if p.get("pause_ms"):
        words = body.split(" ")
        mid = len(words) // 2
        body = " ".join(words[:mid]) + f' <break time="{int(p["pause_ms"])}ms"/> ' + " ".join(words[mid:])
    return (
        f'<speak><prosody rate="{100 + rate:.0f}%" pitch="{pitch:+.0f}%" range="{rng_:+.0f}%" '
        f'volume="{vol:+.0f}%">{body}</prosody></speak>'
    )


def render(voice: str, markup: str) -> np.ndarray:
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        subprocess.run(["espeak-ng", "-v", voice, "-m", "-w", tmp.name, markup], check=True, capture_output=True)
        x, sr = sf.read(tmp.name, dtype="float32")
    return condition(x, sr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--per-lang", type=int, default=280)
    ap.add_argument("--langs", nargs="*", default=list(TEXTS))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    emo = yaml.safe_load(Path("manifests/emotions.yaml").read_text())
    labels, presets, jitter = emo["labels"], emo["rendering"], emo.get("jitter", {})
    rng = np.random.default_rng(args.seed)
    for lang in args.langs:
        bank = yaml.safe_load(Path(f"manifests/voices/{lang}.yaml").read_text())["speakers"]
        bank = [s for s in bank if s.get("engine") == "espeak"]
        jobs = []
        for k, text in enumerate(sentences(TEXTS[lang], args.per_lang)):
            emotion = labels[k % len(labels)] if k < len(labels) else str(rng.choice(labels))
            spk = bank[int(rng.integers(len(bank)))]
            split = "train" if k % 10 < 8 else ("dev" if k % 10 == 8 else "test")
            jobs.append((k, text, emotion, spk, split, ssml(text, presets[emotion], rng, jitter)))
        with ThreadPoolExecutor(2) as pool:
            audio = list(pool.map(lambda j: render(j[3]["voice"], j[5]), jobs))
        (args.out / lang).mkdir(parents=True, exist_ok=True)
        for split in ("train", "dev", "test"):
            rows = [
                {
                    "id": f"{lang}-{k:05d}",
                    "audio": {"bytes": wav_bytes(x), "path": f"{lang}-{k:05d}.wav"},
                    "lang": lang,
                    "text": text,
                    "emotion": emotion,
                    "speaker_id": spk["id"],
                    "gender": spk.get("gender", ""),
                    "tts_backend": "espeak-ng",
                    "voice": spk["voice"],
                    "source_id": f"xed-{lang}-{k}",
                    "source_corpus": "xed-sample",
                    "split": s,
                    "intensity": 1.0,
                    "duration_s": len(x) / 16_000,
                    "sample_rate": 16_000,
                }
                for (k, text, emotion, spk, s, _), x in zip(jobs, audio, strict=True)
                if s == split
            ]
            pq.write_table(
                pa.Table.from_pylist(rows, schema=SHARD_SCHEMA), args.out / lang / f"{split}-00000-of-00001.parquet"
            )
        print(lang, len(jobs), "clips", flush=True)


if __name__ == "__main__":
    main()

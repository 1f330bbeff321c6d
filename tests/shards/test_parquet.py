"""Parquet shards: schema round trip, `datasets` decoding, determinism, stale files, rolling."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from m5ser.schema import SAMPLE_RATE, Utterance
from m5ser.shards.parquet import (
    SCHEMA,
    ShardError,
    read_published_manifest,
    read_shard,
    shard_name,
    write_language,
)
from m5ser.testing import isolate_hf, make_kept_set, write_tone_wav

EMOTIONS = ["neutral", "happy", "angry"]


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate_hf(monkeypatch, tmp_path)


@pytest.fixture
def kept(tmp_path: Path) -> dict[str, list[Utterance]]:
    return make_kept_set(tmp_path / "in", ["de", "fr"], EMOTIONS, n_per=5)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_schema_round_trip(tmp_path: Path, kept: dict[str, list[Utterance]]) -> None:
    out = tmp_path / "out"
    paths = write_language("de", kept["de"], out)
    assert [p.name for p in paths] == [shard_name(s, 0, 1) for s in ("train", "dev", "test")]
    by_id = {u.id: u for u in kept["de"]}
    seen = []
    for path in paths:
        table = pq.read_table(path)
        assert table.schema.equals(SCHEMA, check_metadata=True)
        features = json.loads(table.schema.metadata[b"huggingface"])["info"]["features"]
        assert features["audio"] == {"sampling_rate": SAMPLE_RATE, "_type": "Audio"}
        assert features["emotion"] == {"dtype": "string", "_type": "Value"}
        rows = table.to_pylist()
        assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
        for row in rows:
            utt = by_id[row["id"]]
            assert row["audio"]["path"] == f"{utt.id}.flac"
            assert row["audio"]["bytes"][:4] == b"fLaC"
            decoded, _ = sf.read(io.BytesIO(row["audio"]["bytes"]), dtype="int16")
            np.testing.assert_array_equal(decoded, sf.read(utt.audio_path, dtype="int16")[0])
            for name in ("lang", "text", "emotion", "speaker_id", "gender", "voice", "source_id", "split"):
                assert row[name] == getattr(utt, name), name
            assert row["split"] == path.name.split("-")[0]
            assert row["duration_s"] == pytest.approx(utt.duration_s)
            assert row["sample_rate"] == SAMPLE_RATE
            seen.append(row["id"])
    assert sorted(seen) == sorted(by_id)


def test_read_shard_decodes_float32(tmp_path: Path, kept: dict[str, list[Utterance]]) -> None:
    paths = write_language("de", kept["de"], tmp_path / "out")
    by_id = {u.id: u for u in kept["de"]}
    rows = [row for path in paths for row in read_shard(path)]
    assert len(rows) == len(kept["de"])
    for row in rows:
        expected, sr = sf.read(by_id[row["id"]].audio_path, dtype="float32")
        assert row["audio"]["sampling_rate"] == sr == SAMPLE_RATE
        assert row["audio"]["array"].dtype == np.float32
        np.testing.assert_array_equal(row["audio"]["array"], expected)


def test_datasets_decodes_audio_at_16k(tmp_path: Path, kept: dict[str, list[Utterance]], hf_cache: Path) -> None:
    import datasets

    paths = write_language("de", kept["de"], tmp_path / "out")
    files = {p.name.split("-")[0]: str(p) for p in paths}
    ds = datasets.load_dataset("parquet", data_files=files, cache_dir=str(hf_cache))
    assert ds["train"].features["audio"] == datasets.Audio(sampling_rate=SAMPLE_RATE)
    assert ds["train"].features["emotion"] == datasets.Value("string")
    by_id = {u.id: u for u in kept["de"]}
    for split in ("train", "test"):
        for row in ds[split]:
            audio = row["audio"]
            assert audio["sampling_rate"] == SAMPLE_RATE
            expected, _ = sf.read(by_id[row["id"]].audio_path, dtype="float32")
            # FLAC is lossless: torchcodec gives back the very samples of the WAV file.
            np.testing.assert_array_equal(np.asarray(audio["array"], dtype=np.float32).reshape(-1), expected)


def test_identical_input_gives_identical_bytes(tmp_path: Path, kept: dict[str, list[Utterance]]) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write_language("de", kept["de"], a, max_shard_bytes=20_000, wav=True)
    write_language("de", list(reversed(kept["de"])), b, max_shard_bytes=20_000, wav=True)
    assert _snapshot(a) == _snapshot(b)
    write_language("de", kept["de"], a, max_shard_bytes=20_000, wav=True)  # rebuild in place
    assert _snapshot(a) == _snapshot(b)


def test_rebuild_removes_only_own_stale_shards(tmp_path: Path, kept: dict[str, list[Utterance]]) -> None:
    out = tmp_path / "out"
    write_language("de", kept["de"], out, max_shard_bytes=10_000)
    write_language("fr", kept["fr"], out, max_shard_bytes=10_000)
    before_fr = _snapshot(out / "data" / "fr") | {"manifest": (out / "manifests" / "fr.jsonl").read_bytes()}
    old_de = {p.name for p in (out / "data" / "de").iterdir()}
    (out / "data" / "de" / ".train-00009-of-00010.parquet.abc.tmp").write_bytes(b"torn write")
    (out / "data" / "de" / "notes.txt").write_text("not a shard")

    new = write_language("de", kept["de"][:4], out)  # fewer clips, one shard per split
    now_de = {p.name for p in (out / "data" / "de").iterdir()}
    assert now_de == {p.name for p in new} | {"notes.txt"}
    stale = old_de - {p.name for p in new}
    assert stale and not stale & now_de  # the old 10 kB shards existed and are gone
    after_fr = _snapshot(out / "data" / "fr") | {"manifest": (out / "manifests" / "fr.jsonl").read_bytes()}
    assert after_fr == before_fr
    assert len(list(read_published_manifest(out / "manifests" / "de.jsonl"))) == 4


@pytest.mark.parametrize(
    ("max_bytes", "per_shard"),
    [
        (10**9, None),  # everything in one shard per split
        (16_000, 2),  # tone WAVs are 6.4-9.6 kB: at most two fit
        (1, 1),  # a clip bigger than the limit gets a shard of its own
    ],
)
def test_rolls_shards_by_audio_bytes(
    tmp_path: Path, kept: dict[str, list[Utterance]], max_bytes: int, per_shard: int | None
) -> None:
    clips = kept["de"]
    paths = write_language("de", clips, tmp_path / "out", max_shard_bytes=max_bytes)
    sizes = {u.id: Path(u.audio_path).stat().st_size for u in clips}
    for split in ("train", "dev", "test"):
        mine = sorted(p for p in paths if p.name.startswith(f"{split}-"))
        n_split = sum(u.split == split for u in clips)
        assert [p.name for p in mine] == [shard_name(split, i, len(mine)) for i in range(len(mine))]
        ids = [r for p in mine for r in pq.read_table(p, columns=["id"]).column("id").to_pylist()]
        assert ids == sorted(u.id for u in clips if u.split == split)  # sorted across shards
        for p in mine:
            rows = pq.read_table(p, columns=["id"]).column("id").to_pylist()
            assert len(rows) == 1 or sum(sizes[i] for i in rows) <= max_bytes
            if per_shard is not None:
                assert len(rows) <= per_shard
        if per_shard is None:
            assert len(mine) == 1
        elif per_shard == 1:
            assert len(mine) == n_split


def test_manifest_and_wav_sidecars(tmp_path: Path, kept: dict[str, list[Utterance]]) -> None:
    out = tmp_path / "out"
    write_language("de", kept["de"], out, wav=True)
    rows = [json.loads(line) for line in (out / "manifests" / "de.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == sorted(u.id for u in kept["de"])
    by_id = {u.id: u for u in kept["de"]}
    for row in rows:
        assert row["audio_path"] == row["audio_filepath"] == f"wav/de/{row['id']}.wav"
        assert row["duration"] == row["duration_s"]
        assert row["shard"].startswith(f"data/de/{row['split']}-")
        assert (out / row["audio_path"]).read_bytes() == Path(by_id[row["id"]].audio_path).read_bytes()
    for utt in read_published_manifest(out / "manifests" / "de.jsonl"):
        src = by_id[utt.id]
        assert utt.audio_path.startswith("wav/de/")
        utt.audio_path = src.audio_path
        assert utt == src

    write_language("de", kept["de"], out, wav=False)  # sidecars of this language go away
    assert not list((out / "wav" / "de").glob("*.wav"))
    row = json.loads((out / "manifests" / "de.jsonl").read_text().splitlines()[0])
    assert row["audio_path"] == row["shard"]


def _bad(tmp_path: Path, case: str) -> list[Utterance]:
    clips = make_kept_set(tmp_path / "in", ["de"], ["sad"], n_per=2)["de"]
    bad = clips[0]
    if case == "split":
        bad.split = "validation"
    elif case == "lang":
        bad.lang = "fr"
    elif case == "missing":
        bad.audio_path = str(tmp_path / "nope.wav")
    elif case == "rate":
        write_tone_wav(bad.audio_path, 0.1, sr=22_050)
    elif case == "dropped":
        bad.drop_reason = "too_short"
    elif case == "duplicate":
        clips[1].id = bad.id
    return clips


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("split", "field 'split' is 'validation'"),
        ("lang", "field 'lang' is 'fr'"),
        ("missing", "field 'audio_path'"),
        ("rate", "22050 Hz; expected WAV/PCM_16, 1 channel, 16000 Hz"),
        ("dropped", "field 'drop_reason' is 'too_short'"),
        ("duplicate", "duplicate clip id"),
    ],
)
def test_bad_input_names_clip_and_field(tmp_path: Path, case: str, message: str) -> None:
    clips = _bad(tmp_path, case)
    with pytest.raises(ShardError, match=message) as err:
        write_language("de", clips, tmp_path / "out")
    assert clips[0].id in str(err.value)
    assert not (tmp_path / "out" / "data").exists()  # validation happens before any write


def test_wav_format_stores_the_file_as_it_is(tmp_path: Path, kept: dict[str, list[Utterance]]) -> None:
    paths = write_language("de", kept["de"], tmp_path / "out", audio_format="wav")
    by_id = {u.id: u for u in kept["de"]}
    for row in (r for p in paths for r in pq.read_table(p).to_pylist()):
        utt = by_id[row["id"]]
        assert row["audio"] == {"bytes": Path(utt.audio_path).read_bytes(), "path": f"{utt.id}.wav"}


def test_flac_changes_bytes_not_content(tmp_path: Path, kept: dict[str, list[Utterance]]) -> None:
    """Every column but the audio bytes and file name is equal; the decoded samples are equal."""
    flac = [r for p in write_language("de", kept["de"], tmp_path / "f") for r in read_shard(p)]
    wav = [r for p in write_language("de", kept["de"], tmp_path / "w", audio_format="wav") for r in read_shard(p)]
    assert [r["id"] for r in flac] == [r["id"] for r in wav]
    for a, b in zip(flac, wav, strict=True):
        np.testing.assert_array_equal(a["audio"].pop("array"), b["audio"].pop("array"))
        assert a["audio"].pop("path") == a["id"] + ".flac" and b["audio"].pop("path") == b["id"] + ".wav"
        assert a == b


def test_unknown_audio_format_is_named(tmp_path: Path, kept: dict[str, list[Utterance]]) -> None:
    with pytest.raises(ValueError, match=r"shards\.audio_format: 'mp3'"):
        write_language("de", kept["de"], tmp_path / "out", audio_format="mp3")

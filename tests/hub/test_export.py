"""Exports read back with the real libraries: lhotse CutSet, NeMo-style JSONL, webdataset tars."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import soundfile as sf

from m5ser.hub.export import ExportError, export
from m5ser.shards.parquet import write_language
from m5ser.testing import make_kept_set

EMOTIONS = ["neutral", "sad", "angry"]
N_PER = 5  # clips per emotion: 3 train, 1 dev, 1 test each


@pytest.fixture
def published(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    for lang, clips in make_kept_set(tmp_path / "in", ["de", "fr"], EMOTIONS, n_per=N_PER).items():
        write_language(lang, clips, out)
    return out


def test_lhotse_cutset_loads_with_labels_in_custom(published: Path, tmp_path: Path) -> None:
    lhotse = pytest.importorskip("lhotse")
    out = tmp_path / "lhotse"
    export(published, out, "lhotse", languages=["de"])
    recs = lhotse.load_manifest(out / "m5ser-de_recordings_train.jsonl.gz")
    sups = lhotse.load_manifest(out / "m5ser-de_supervisions_train.jsonl.gz")
    cuts = lhotse.CutSet.from_manifests(recordings=recs, supervisions=sups)
    assert len(cuts) == 3 * len(EMOTIONS)
    cut = next(iter(cuts))
    sup = cut.supervisions[0]
    assert sup.custom["emotion"] in EMOTIONS and sup.custom["engine"] == "espeak" and sup.language == "de"
    assert 0.0 <= float(sup.custom["intensity"]) <= 1.0 and sup.speaker
    audio = cut.load_audio()
    assert audio.shape == (1, cut.num_samples) and abs(audio).max() > 0.1
    assert {c.supervisions[0].custom["emotion"] for c in cuts} == set(EMOTIONS)


def test_nemo_lines_point_at_readable_audio(published: Path, tmp_path: Path) -> None:
    out = tmp_path / "nemo"
    export(published, out, "nemo")
    files = sorted(out.glob("m5ser-*_*.jsonl"))
    names = [f"m5ser-{lang}_{s}.jsonl" for lang in ("de", "fr") for s in ("dev", "test", "train")]
    assert [f.name for f in files] == names
    n = 0
    for manifest in files:
        for line in manifest.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            assert {"audio_filepath", "duration", "text", "emotion"} <= set(entry)
            info = sf.info(str(manifest.parent / entry["audio_filepath"]))  # relative to the manifest, as NeMo resolves
            assert info.samplerate == 16000 and abs(info.duration - entry["duration"]) < 1e-3
            n += 1
    assert n == 2 * len(EMOTIONS) * N_PER


def test_webdataset_iterates_flac_and_json(published: Path, tmp_path: Path) -> None:
    wds = pytest.importorskip("webdataset")
    out = tmp_path / "wds"
    tars = export(published, out, "webdataset", languages=["fr"])
    assert [t.name for t in tars] == [f"m5ser-fr-{s}-000000.tar" for s in ("dev", "test", "train")]
    seen = 0
    for sample in wds.WebDataset([str(t) for t in tars], shardshuffle=False):
        meta = json.loads(sample["json"])
        samples, rate = sf.read(io.BytesIO(sample["flac"]))
        assert rate == 16000 and len(samples) == round(meta["duration"] * rate)
        assert meta["emotion"] in EMOTIONS and meta["lang"] == "fr" and sample["__key__"] == meta["id"]
        seen += 1
    assert seen == len(EMOTIONS) * N_PER


def test_bad_format_and_missing_language_are_named(published: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="expected one of lhotse, nemo, webdataset"):
        export(published, tmp_path / "x", "kaldi")
    with pytest.raises(ExportError, match="no shards for language"):
        export(published, tmp_path / "x", "nemo", languages=["ja"])

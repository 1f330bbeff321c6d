"""Property tests: any record survives manifest → shard → manifest; any Unicode text is read
into a sentence (or a counted drop) without loss of its words."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from m5ser.config import SourceConfig, load_emotions
from m5ser.manifest import dumps, read_manifest
from m5ser.shards.parquet import read_published_manifest, read_shard, write_language
from m5ser.testing import make_utterance, write_tone_wav
from m5ser.text.readers import XedReader

from .conftest import ROOT

SPEC = load_emotions(ROOT / "manifests/emotions.yaml")
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=80)
METRICS = st.dictionaries(
    st.text(min_size=1, max_size=10), st.one_of(st.floats(allow_nan=False), st.integers(), st.text(max_size=10))
)
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SLOW
@given(text=TEXT, source_text=TEXT, metrics=METRICS, intensity=st.floats(0, 1))
def test_a_record_round_trips_through_a_manifest(tmp_path_factory, text, source_text, metrics, intensity):
    utt = make_utterance(text=text, source_text=source_text, metrics=metrics, intensity=intensity)
    path = tmp_path_factory.mktemp("m") / "m.jsonl"
    path.write_text(dumps(utt) + "\n", encoding="utf-8")
    assert list(read_manifest(path)) == [utt]


@SLOW
@given(texts=st.lists(TEXT, min_size=1, max_size=4))
def test_a_record_round_trips_through_a_shard(tmp_path_factory, texts):
    out = tmp_path_factory.mktemp("out")
    kept = []
    for i, text in enumerate(texts):
        utt = make_utterance(source_id=f"s{i}", lang="de", text=text, speaker_id=f"de-{i}")
        wav = write_tone_wav(out / "audio" / f"{utt.id}.wav", 0.1 + 0.01 * i)
        kept.append(dataclasses.replace(utt, audio_path=str(wav)))
    write_language("de", kept, out / "pub")
    rows = {r["id"]: r for p in sorted((out / "pub" / "data" / "de").glob("*.parquet")) for r in read_shard(p)}
    published = {u.id: u for u in read_published_manifest(out / "pub" / "manifests" / "de.jsonl")}
    for utt in kept:
        assert rows[utt.id]["text"] == utt.text == published[utt.id].text
        assert rows[utt.id]["audio"]["sampling_rate"] == 16_000


@SLOW
@given(text=TEXT)
def test_any_unicode_line_becomes_a_sentence_or_a_counted_drop(tmp_path_factory, text):
    text = text.replace("\t", " ").replace("\n", " ").replace("\r", " ")
    root = tmp_path_factory.mktemp("xed")
    (root / "Projections").mkdir()
    (root / "Projections" / "de-projections.tsv").write_text(f"{text}\t1\n", encoding="utf-8", newline="")
    source = SourceConfig(reader="xed", path=Path(root), name="xed")
    items = list(XedReader(source, SPEC, "de").read("de"))
    if not text.strip():
        assert items == [] or items[0].drop_reason == "empty_text"
        return
    (utt,) = items
    assert utt.text.split() == text.split() and utt.text == utt.text.strip()
    assert utt.drop_reason in (None, "empty_text")

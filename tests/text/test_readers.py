from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from m5ser.config import SourceConfig, load_emotions
from m5ser.text.readers import GoEmotionsReader, SourceError, UserReader, XedReader, _content_id

from ..conftest import ROOT, SHARED_TEXT

SPEC = load_emotions(ROOT / "manifests/emotions.yaml")


def source(name: str, reader: str, path: Path, **kwargs) -> SourceConfig:
    return SourceConfig(reader=reader, path=path, name=name, **kwargs)


def xed(tmp_path: Path, files: dict[str, str], lang: str = "de", **options) -> XedReader:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    return XedReader(source("xed", "xed", tmp_path, options=options), SPEC, lang)


def kept(items):
    return [u for u in items if u.kept]


def reasons(items) -> Counter:
    return Counter(u.drop_reason for u in items if not u.kept)


def test_xed_english_annotated_and_neutral(tmp_path):
    reader = xed(tmp_path, {
        "AnnotatedData/en-annotated.tsv": "I hate you.\t1\nWow!\t7, 5\nHooray!\t5, 2\nWe trust you.\t8\n",
        "AnnotatedData/neu_en.txt": "9\tThe bus leaves at six.\n",
    }, lang="en")  # fmt: skip
    items = list(reader.read("en"))
    assert [(i.text, i.emotion) for i in kept(items)] == [
        ("I hate you.", "angry"),
        ("Hooray!", "happy"),  # anticipation (2) maps to nothing: one mappable label remains
        ("The bus leaves at six.", "neutral"),
    ]
    assert reasons(items) == {"no_single_label": 2}  # "Wow!" has two labels; trust maps to nothing
    wow = next(u for u in items if u.source_text == "Wow!")
    assert (wow.lang, wow.speaker_id, wow.metrics["source_labels"]) == ("en", "", ["7", "5"])
    assert len({u.id for u in items}) == len(items)


def test_xed_projection_file_code_and_first_policy(tmp_path):
    reader = xed(tmp_path, {"Projections/cn-projections.tsv": "我很生气\t1, 6\n"}, lang="zh", projections={"zh": "cn"},
                 multi_label="first")  # fmt: skip
    [item] = list(reader.read("zh"))
    assert (item.lang, item.source_lang, item.emotion, item.source_corpus) == ("zh", "zh", "angry", "xed")


@pytest.mark.parametrize(
    ("line", "field"),
    [("no tab here", "columns"), ("text\tjoy", "labels"), ("a\tb\tc\td", "columns"), ("text\t42", "labels")],
)
def test_xed_bad_rows_name_file_line_and_field(tmp_path, line, field):
    reader = xed(tmp_path, {"Projections/de-projections.tsv": f"Gut.\t5\n{line}\n"})
    with pytest.raises(SourceError) as err:
        list(reader.read("de"))
    assert (err.value.line, err.value.field) == (2, field)
    assert "de-projections.tsv:2" in str(err.value)


def test_xed_lenient_mode_drops_with_a_reason(tmp_path):
    reader = xed(tmp_path, {"Projections/de-projections.tsv": "Gut.\t5\nbroken\n"}, strict=False)
    items = list(reader.read("de"))
    assert [i.text for i in kept(items)] == ["Gut."]
    [bad] = [u for u in items if not u.kept]
    assert (bad.drop_reason, bad.source_text, bad.source_id) == ("malformed_columns", "broken", "xed-de-projections-2")
    assert "de-projections.tsv:2: field 'columns'" in bad.metrics["error"]


def test_xed_missing_language_says_what_it_looked_for(tmp_path):
    reader = xed(tmp_path, {"Projections/de-projections.tsv": "Gut.\t5\n"})
    with pytest.raises(FileNotFoundError, match=r"xx-projections\.tsv"):
        list(reader.read("xx"))


def test_label_override_maps_trust_to_neutral(tmp_path):
    (tmp_path / "Projections").mkdir()
    (tmp_path / "Projections/fr-projections.tsv").write_text("Je te crois.\t8\n", encoding="utf-8")
    reader = XedReader(source("xed", "xed", tmp_path, label_overrides={"8": "neutral"}), SPEC, "fr")
    assert [i.emotion for i in reader.read("fr")] == ["neutral"]


def test_goemotions_ekman(tmp_path):
    (tmp_path / "labels.txt").write_text("anger\ndisgust\nfear\njoy\nneutral\nsadness\nsurprise\n", encoding="utf-8")
    (tmp_path / "train.tsv").write_text(
        "text\tlabel\tid\nSo glad!\t3\tid1\nMixed\t0,5\tid2\n[NAME] is sad\t5\tid3\nbad\tx\tid4\n", encoding="utf-8"
    )
    reader = GoEmotionsReader(source("go", "goemotions", tmp_path, options={"strict": False}), SPEC, "en")
    items = list(reader.read("en"))
    assert [(i.source_id, i.emotion) for i in kept(items)] == [("goemotions-id1", "happy")]
    assert reasons(items) == {"no_single_label": 1, "placeholder": 1, "malformed_label": 1}
    strict = GoEmotionsReader(source("go", "goemotions", tmp_path), SPEC, "en")
    with pytest.raises(SourceError, match=r"train\.tsv:5: field 'label'"):
        list(strict.read("en"))


def test_user_csv_and_jsonl(tmp_path):
    (tmp_path / "a.csv").write_text("text,emotion,lang,id\nHallo!,Joy,de,x1\nHi,angry,en,x2\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(json.dumps({"text": "Na gut.", "emotion": "sad", "lang": "de"}) + "\n")
    reader = UserReader(source("mine", "user", tmp_path), SPEC, "de")
    assert [(i.source_id, i.text, i.emotion) for i in reader.read("de")] == [
        ("user-x1", "Hallo!", "happy"),
        (f"user-b-{_content_id('Na gut.', 'sad')}", "Na gut.", "sad"),  # no id column: an id from the content
    ]


@pytest.mark.parametrize(
    ("content", "suffix", "match"),
    [
        ("text,emotion\nHi,bored\n", ".csv", r"a\.csv:2: field 'emotion'"),
        ("text\nHi\n", ".csv", r"a\.csv:1: field 'emotion'"),
        ('{"text": "", "emotion": "sad"}\n', ".jsonl", r"a\.jsonl:1: field 'text'"),
        ("{oops\n", ".jsonl", r"a\.jsonl:1: field 'json'"),
    ],
)
def test_user_bad_rows(tmp_path, content, suffix, match):
    path = tmp_path / f"a{suffix}"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SourceError, match=match):
        list(UserReader(source("mine", "user", path), SPEC, "en").read("en"))


@pytest.mark.skipif(not SHARED_TEXT.exists(), reason="full corpora under ../shared/data/text not present")
def test_full_xed_projection_quirks_are_dropped_not_fatal():
    reader = XedReader(source("xed", "xed", SHARED_TEXT / "xed", options={"strict": False}), SPEC, "de")
    items = list(reader.read("de"))
    assert len(kept(items)) > 2000
    assert reasons(items)["malformed_columns"] > 0  # alignment rows inside the projection file

from __future__ import annotations

import pytest

from m5ser.manifest import ManifestError, atomic_open, read_manifest, write_manifest, written_ids
from m5ser.schema import Utterance


def test_write_then_read_lazily(tmp_path):
    items = [Utterance(id=str(i), text=f"t{i}") for i in range(3)]
    path = tmp_path / "m.jsonl"
    assert write_manifest(path, items) == 3
    stream = read_manifest(path)
    assert next(stream).id == "0"
    assert [u.id for u in stream] == ["1", "2"]
    assert written_ids(path) == {"0", "1", "2"}


def test_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "m.jsonl"
    write_manifest(path, [Utterance(id="keep")])
    with pytest.raises(RuntimeError), atomic_open(path) as f:
        f.write("partial")
        raise RuntimeError("crash")
    assert [u.id for u in read_manifest(path)] == ["keep"]
    assert list(tmp_path.iterdir()) == [path]


def test_bad_line_names_file_and_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"id": "a"}\n{not json\n', encoding="utf-8")
    with pytest.raises(ManifestError, match=r"m\.jsonl:2"):
        list(read_manifest(path))


def test_written_ids_tolerates_a_torn_last_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b', encoding="utf-8")
    assert written_ids(path) == {"a"}

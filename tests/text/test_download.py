from __future__ import annotations

import pytest
import yaml

from m5ser.text.download import download


def test_download_from_a_mirror_is_atomic_and_idempotent(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "Projections").mkdir(parents=True)
    (mirror / "Projections" / "de-projections.tsv").write_text("Gut.\t5\n", encoding="utf-8")
    catalogue = tmp_path / "corpora.yaml"
    catalogue.write_text(yaml.safe_dump({"xed": {"base": "https://example.invalid/", "files": [
        "Projections/de-projections.tsv"]}}), encoding="utf-8")  # fmt: skip
    [path] = download("xed", tmp_path / "out", catalogue, base=mirror.as_uri())
    assert path.read_text(encoding="utf-8") == "Gut.\t5\n"
    (mirror / "Projections" / "de-projections.tsv").write_text("changed\n", encoding="utf-8")
    download("xed", tmp_path / "out", catalogue, base=mirror.as_uri())
    assert path.read_text(encoding="utf-8") == "Gut.\t5\n"  # present files are kept
    with pytest.raises(KeyError, match="no corpus 'nope'"):
        download("nope", tmp_path / "out", catalogue)

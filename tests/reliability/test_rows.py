"""Class 3: every row becomes a planned clip or a counted drop; nothing is lost with exit 0."""

from __future__ import annotations

import pytest

from m5ser.config import RecipeError
from m5ser.manifest import read_manifest
from m5ser.pipeline.build import build_language
from m5ser.pipeline.plan import plan_language
from m5ser.text.readers import SourceError

from .conftest import ROWS, write_csv


def planned(recipe):
    plan = plan_language(recipe, "de")
    return plan, list(read_manifest(plan.path))


def test_a_utf8_bom_keeps_the_id_column(user_build, tmp_path):
    csv = tmp_path / "rows.csv"
    write_csv(csv, ROWS)
    csv.write_bytes(b"\xef\xbb\xbf" + csv.read_bytes())
    _, items = planned(user_build())
    assert sorted(u.source_id for u in items) == [f"user-{r[0]}" for r in ROWS]


def test_an_unbalanced_quote_is_an_error_naming_its_lines(user_build, tmp_path):
    text = (tmp_path / "rows.csv").read_text(encoding="utf-8").replace('mich!"', "mich!")  # the quote never closes
    (tmp_path / "rows.csv").write_text(text, encoding="utf-8")
    with pytest.raises(SourceError, match=r"rows\.csv:3: field 'quote': the row runs over lines 3-4"):
        planned(user_build())


def test_language_codes_are_compared_in_lower_case_and_unknown_ones_are_counted(user_build, tmp_path):
    lines = (tmp_path / "rows.csv").read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace(",de", ",DE")
    lines.append('r9,"Bonjour tout le monde.",joy,fr')
    (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    plan, items = planned(user_build())
    assert plan.clips == len(ROWS)  # the DE row is German
    assert plan.dropped == {"lang_not_built": 1}
    (lost,) = [u for u in items if not u.kept]
    assert "field 'lang': 'fr' is not built" in lost.metrics["error"]


def test_ids_from_content_do_not_shift_when_a_row_is_inserted(user_build, tmp_path):
    header = "text,emotion,lang"
    write_csv(tmp_path / "rows.csv", [], header=header)
    body = [f'"{t}",{e},de' for _, t, e in ROWS]
    (tmp_path / "rows.csv").write_text("\n".join([header, *body]) + "\n", encoding="utf-8")
    _, first = planned(user_build())
    (tmp_path / "rows.csv").write_text("\n".join([header, '"Ganz neu hier.",joy,de', *body]) + "\n", encoding="utf-8")
    _, second = planned(user_build())
    assert {u.source_id for u in first} < {u.source_id for u in second}


def test_non_utf8_input_names_file_and_line(user_build, tmp_path):
    csv = tmp_path / "rows.csv"
    csv.write_bytes(csv.read_bytes().replace("fährt".encode(), "fährt".encode("latin-1")))
    with pytest.raises(SourceError, match=r"rows\.csv:5: field 'encoding': not UTF-8 \(byte 0xe4"):
        planned(user_build())


def test_an_empty_source_is_an_error_and_the_previous_build_survives(user_build, tmp_path):
    recipe = user_build()
    build_language(recipe, "de", progress=False)
    shards = {p: p.read_bytes() for p in (recipe.output / "data" / "de").glob("*.parquet")}
    write_csv(tmp_path / "rows.csv", [])
    with pytest.raises(RecipeError, match="no rows for 'de'"):
        build_language(user_build(), "de", progress=False)
    assert shards and {p: p.read_bytes() for p in shards} == shards


def test_lenient_drops_reach_the_language_result(user_build, tmp_path):
    write_csv(tmp_path / "rows.csv", [*ROWS, ("r5", "", "joy"), ("r6", "Gähn.", "bored")])
    recipe = user_build(sources={"mine": {"reader": "user", "path": str(tmp_path / "rows.csv"),
                                          "options": {"lang": "de", "strict": False}}})  # fmt: skip
    result = build_language(recipe, "de", progress=False)
    assert result.text_dropped == {"malformed_emotion": 1, "malformed_text": 1}
    assert sorted(p.name for p in (recipe.output / "removed" / "de").glob("malformed_*")) == [
        "malformed_emotion.jsonl",
        "malformed_text.jsonl",
    ]

from __future__ import annotations

import shutil

import pytest

from m5ser.text.translate import DEFAULT_APERTIUM_MODES, ApertiumTranslator, IdentityTranslator, find_route


@pytest.mark.parametrize(
    ("src", "tgt", "route"),
    [("en", "es", ["en-es"]), ("en", "fr", ["en-es", "es-fr"]), ("it", "fr", ["it-es", "es-fr"]), ("en", "de", None)],
)
def test_routes(src, tgt, route):
    assert find_route(DEFAULT_APERTIUM_MODES, src, tgt) == route


def test_no_route_is_reported_not_faked():
    with pytest.raises(ValueError, match="no route from 'en' to 'de'"):
        ApertiumTranslator().route("en", "de")


def test_identity_refuses_to_change_language():
    assert IdentityTranslator().translate(["a"], "en", "en") == ["a"]
    with pytest.raises(ValueError):
        IdentityTranslator().translate(["a"], "en", "de")


@pytest.mark.skipif(shutil.which("apertium") is None, reason="Debian package apertium not installed")
def test_apertium_chain_translates_line_by_line():
    out = ApertiumTranslator().translate(["I am happy.", "Where is the dog?"], "en", "it")
    assert len(out) == 2
    assert "felice" in out[0].lower()
    assert "cane" in out[1].lower()

from __future__ import annotations

import pytest

from m5ser.schema import FIELD_NAMES, Utterance, utterance_id


def test_id_is_stable_and_depends_on_every_part():
    base = ("xed-1", "de", "de-espeak-m1", "angry", 7)
    assert utterance_id(*base) == utterance_id(*base)
    for i, other in enumerate(["xed-2", "fr", "de-espeak-f1", "sad", 8]):
        changed = list(base)
        changed[i] = other
        assert utterance_id(*changed) != utterance_id(*base)


def test_round_trip_through_dict():
    utt = Utterance(id="a", text="hallo", emotion="happy", metrics={"snr_db": 40.0}, prosody={"rate": 10})
    assert Utterance.from_dict(utt.to_dict()) == utt
    assert set(utt.to_dict()) == FIELD_NAMES


def test_unknown_field_is_rejected():
    with pytest.raises(KeyError, match="colour"):
        Utterance.from_dict({"id": "a", "colour": "red"})

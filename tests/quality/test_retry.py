"""The retry step: a failing voice leads to another voice of the same gender; drops hold every attempt."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

from m5ser import registry
from m5ser.config import RecipeError, load_emotions, load_recipe
from m5ser.quality.retry import Retry, RetryParams
from m5ser.schema import Utterance, Voice
from m5ser.steps import Annotator, Filter, StepContext
from m5ser.testing import make_utterance

VOICES = (
    Voice("de-m1", "de", "espeak", "de+m1", "male", "GPL-3.0", pitch_offset=0.0),
    Voice("de-m3", "de", "espeak", "de+m3", "male", "GPL-3.0", pitch_offset=-6.0),
    Voice("de-m5", "de", "espeak", "de+m5", "male", "GPL-3.0", pitch_offset=5.0),
    Voice("de-f1", "de", "espeak", "de+f1", "female", "GPL-3.0"),
)


@dataclass(frozen=True)
class FailParams:
    voices: list[str]  # speaker ids whose clips fail


class Render(Annotator):
    """Stands in for synthesis + a metric: records which speaker rendered the clip."""

    name = "test_render"

    def measure(self, utt: Utterance) -> dict:
        return {"rendered_by": utt.speaker_id, "asr_error": 0.9 if utt.speaker_id in ("de-m1", "de-m3") else 0.1}


class FailVoice(Filter):
    """Drops ``asr_mismatch`` for the listed speakers, ``clipping`` for speaker 'de-clip'."""

    name = "test_fail_voice"
    Params = FailParams

    def reason(self, utt: Utterance) -> str | None:
        if utt.speaker_id == "de-clip":
            return "clipping"
        return "asr_mismatch" if utt.speaker_id in self.params.voices or "*" in self.params.voices else None


@pytest.fixture(autouse=True)
def test_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("m5ser_retry_test_steps")
    module.Render, module.FailVoice = Render, FailVoice
    monkeypatch.setitem(sys.modules, module.__name__, module)
    registry.register("step", "test_render", f"{module.__name__}:Render")
    registry.register("step", "test_fail_voice", f"{module.__name__}:FailVoice")


@pytest.fixture
def ctx(tiny_recipe) -> StepContext:
    recipe = load_recipe(tiny_recipe({"de": {"sources": ["xed"], "translate": "parallel"}}))
    return StepContext(recipe, "de", load_emotions(recipe.emotions), VOICES)


def _retry(ctx: StepContext, fail: list[str], attempts: int = 3) -> Retry:
    steps = ["test_render", {"test_fail_voice": {"voices": fail}}]
    return Retry(RetryParams(steps=steps, attempts=attempts, on=["asr_mismatch"]), ctx)


def _clip(speaker: str = "de-m1", gender: str = "male") -> Utterance:
    return make_utterance(lang="de", speaker_id=speaker, gender=gender, voice="x", prosody={"pitch": 10.0, "rate": 0})


def test_failing_voice_leads_to_another_voice_of_the_same_gender(ctx: StepContext) -> None:
    step = _retry(ctx, ["de-m1"])
    (out,) = list(step([_clip()]))
    assert out.drop_reason is None
    assert out.speaker_id in ("de-m3", "de-m5") and out.gender == "male" and out.metrics["attempt"] == 2
    new = next(v for v in VOICES if v.id == out.speaker_id)
    assert out.prosody["pitch"] == 10.0 + new.pitch_offset  # the speaker offset follows the voice
    (first,) = out.metrics["attempts"]
    assert first["speaker_id"] == "de-m1" and first["reason"] == "asr_mismatch"
    assert first["metrics"]["rendered_by"] == "de-m1"
    assert step.counts == {"retried": 1, "kept_after_retry": 1}


def test_drop_record_holds_every_attempt(ctx: StepContext) -> None:
    step = _retry(ctx, ["*"], attempts=5)
    (out,) = list(step([_clip()]))
    assert out.drop_reason == "asr_mismatch"
    tried = [a["speaker_id"] for a in out.metrics["attempts"]]
    assert tried[0] == "de-m1" and sorted(tried) == ["de-m1", "de-m3", "de-m5"]  # every male voice, no female
    assert [a["attempt"] for a in out.metrics["attempts"]] == [1, 2, 3]
    assert all(a["metrics"]["rendered_by"] == a["speaker_id"] for a in out.metrics["attempts"])
    assert step.counts == {"retried": 2, "retry_exhausted": 1, "asr_mismatch": 1}


def test_attempts_bound_and_other_reasons(ctx: StepContext) -> None:
    step = _retry(ctx, ["*"], attempts=2)
    a, b, c = list(step([_clip(), _clip("de-clip"), _clip("de-f1", "female")]))
    assert a.drop_reason == "asr_mismatch" and len(a.metrics["attempts"]) == 2
    assert b.drop_reason == "clipping" and "attempts" not in b.metrics  # not a retry reason
    assert c.drop_reason == "asr_mismatch" and len(c.metrics["attempts"]) == 1  # no other female voice


def test_same_choice_every_run(ctx: StepContext) -> None:
    runs = [next(iter(_retry(ctx, ["de-m1"])([_clip()]))).speaker_id for _ in range(3)]
    assert len(set(runs)) == 1


def test_bad_parameters_name_the_key(ctx: StepContext) -> None:
    with pytest.raises(RecipeError, match=r"retry\.steps\[0\]\.nope: unknown step"):
        Retry(RetryParams(steps=["nope"], on=["asr_mismatch"]), ctx)
    with pytest.raises(RecipeError, match=r"retry\.steps\[0\]\.ingest: a plan step"):
        Retry(RetryParams(steps=["ingest"], on=["asr_mismatch"]), ctx)
    with pytest.raises(RecipeError, match="attempts: must be >= 1"):
        RetryParams(steps=["test_render"], on=["x"], attempts=0)


def test_real_synthesis_inside_retry(ctx: StepContext, tmp_path: Path) -> None:
    """The wrapped steps are real recipe steps: synthesize writes a new WAV per voice."""
    steps = ["synthesize", "signal", {"test_fail_voice": {"voices": ["de-m1"]}}]
    step = Retry(RetryParams(steps=steps, attempts=2, on=["asr_mismatch"]), ctx)
    utt = _clip()
    utt.text = "Das ist gut."
    (out,) = list(step([utt]))
    assert out.drop_reason is None and out.audio_path and Path(out.audio_path).is_file()
    assert out.metrics["attempts"][0]["metrics"]["duration_s"] > 0.3

"""Retries: a clip that fails a check is re-synthesized with another voice before it is dropped.

The `retry` step wraps a list of steps (written like the recipe's own ``steps:``), typically
synthesis and the checks after it::

    - retry:
        attempts: 3                                   # at most 3 voices per clip
        on: [asr_mismatch, wrong_language, low_snr]   # reasons that trigger another voice
        steps:
          - synthesize: {voice_quality: true}
          - signal
          - signal_filter: {min_snr_db: 20.0}
          - asr: {model: whisper-base}
          - language_id: {min_prob: 0.5}
          - asr_filter: {max_error: 0.6}

All kept clips of the work unit go through the inner steps together (so batched steps such as
`asr` keep their batches); those dropped for a reason in ``on`` get the next voice of the same
language and gender (and the same held-out status) that this clip has not tried, in an order
seeded by the clip id, and go through again. A clip keeps its planned id (it is the same planned
clip, rendered by a fallback voice); its speaker, voice, engine and the speaker offsets in its
prosody change (the emotion rendering and its jitter do not). Every failed attempt is kept in
``metrics["attempts"]`` (speaker, voice, reason, the attempt's metrics), on the drop record and
on a clip kept at a later attempt; ``metrics["attempt"]`` is the attempt that produced the audio.
A clip out of voices or attempts is dropped with its last reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from m5ser import registry
from m5ser.config import RecipeError, parse_section
from m5ser.schema import Utterance, Voice, stable_key
from m5ser.steps import MapStep, StepContext, chain


@dataclass(frozen=True)
class RetryParams:
    steps: list[Any] = field(default_factory=list)  # the wrapped steps: names or {name: {parameters}}
    attempts: int = 3  # voices tried per clip at most (the first included); >= 1
    on: list[str] = field(default_factory=list)  # drop reasons that trigger another voice

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise RecipeError("attempts: must be >= 1")
        if not self.steps:
            raise RecipeError("steps: expected a non-empty list of steps to wrap")
        if not self.on:
            raise RecipeError("on: expected the drop reasons that trigger a retry")


def _inner(params: RetryParams, ctx: StepContext | None) -> list[MapStep]:
    steps = []
    for i, entry in enumerate(params.steps):
        where = f"retry.steps[{i}]"
        if isinstance(entry, str):
            entry = {entry: {}}
        if not isinstance(entry, dict) or len(entry) != 1:
            raise RecipeError(f"{where}: expected a step name or a mapping {{name: {{parameters}}}}")
        ((name, options),) = entry.items()
        if name == "retry":
            raise RecipeError(f"{where}: a retry cannot wrap another retry")
        try:
            cls = registry.resolve("step", name)
        except KeyError as e:
            raise RecipeError(f"{where}.{name}: {e.args[0]}") from None
        if cls.stage in ("plan", "language"):
            raise RecipeError(f"{where}.{name}: a {cls.stage} step cannot be retried per clip")
        steps.append(cls(parse_section(cls.Params, options or {}, f"{where}.{name}"), ctx))
    return steps


class Retry(MapStep):
    """Runs the wrapped steps; clips dropped for a reason in ``on`` are re-synthesized with
    another voice of the same language and gender, up to ``attempts`` voices in all."""

    name = "retry"
    Params = RetryParams
    stage = "clip"

    def __init__(self, params: RetryParams | None = None, ctx: StepContext | None = None) -> None:
        super().__init__(params, ctx)
        self.steps = _inner(self.params, ctx)
        self.voices: tuple[Voice, ...] = ctx.voices if ctx is not None else ()

    def next_voice(self, utt: Utterance, tried: list[str]) -> Voice | None:
        """The voice a failed clip tries next: same language and gender, same held-out status,
        not tried yet; ordered by a hash of (clip id, voice id) so the choice is reproducible."""
        holdout = set(self.context.recipe.splits.holdout_speakers)
        candidates = [
            v
            for v in self.voices
            if v.id not in tried and v.gender == utt.gender and (v.id in holdout) == (utt.speaker_id in holdout)
        ]
        return min(candidates, key=lambda v: stable_key(utt.id, v.id), default=None)

    @staticmethod
    def revoice(start: Utterance, old: Voice | None, new: Voice, attempt: int) -> Utterance:
        """`start` (the clip as it entered the retry) rendered by `new` instead of its speaker."""
        prosody = dict(start.prosody)
        for key, offset in (("pitch", "pitch_offset"), ("rate", "rate_offset")):
            if key in prosody:
                prosody[key] = prosody[key] - (getattr(old, offset) if old else 0.0) + getattr(new, offset)
        return dataclasses.replace(
            start,
            speaker_id=new.id,
            gender=new.gender,
            tts_backend=new.engine,
            voice=new.voice,
            prosody=prosody,
            audio_path="",
            duration_s=0.0,
            metrics={**start.metrics, "attempt": attempt},
            drop_reason=None,
        )

    def __call__(self, items: Iterable[Utterance]) -> Iterator[Utterance]:
        by_id = {v.id: v for v in self.voices}
        starts: dict[str, Utterance] = {}
        history: dict[str, list[dict[str, Any]]] = {}
        todo = []
        for utt in items:
            if utt.drop_reason is not None:
                yield utt
                continue
            starts[utt.id] = dataclasses.replace(utt, metrics=dict(utt.metrics), prosody=dict(utt.prosody))
            history[utt.id] = []
            todo.append(utt)
        done: dict[str, Utterance] = {}
        for attempt in range(1, self.params.attempts + 1):
            if not todo:
                break
            again = []
            for out in chain(todo, self.steps):
                if out.drop_reason is None or out.drop_reason not in self.params.on:
                    done[out.id] = out
                    continue
                past = history[out.id]
                past.append(
                    {
                        "attempt": attempt,
                        "speaker_id": out.speaker_id,
                        "voice": out.voice,
                        "tts_backend": out.tts_backend,
                        "reason": out.drop_reason,
                        "metrics": {k: v for k, v in out.metrics.items() if k not in ("attempts", "attempt")},
                    }
                )
                voice = self.next_voice(out, [p["speaker_id"] for p in past])
                if attempt == self.params.attempts or voice is None:
                    self.counts["retry_exhausted"] += 1
                    done[out.id] = out
                    continue
                self.counts["retried"] += 1
                start = starts[out.id]
                again.append(self.revoice(start, by_id.get(start.speaker_id), voice, attempt + 1))
            todo = again
        for uid in starts:
            out = done[uid]
            if out.drop_reason is not None:
                self.counts[out.drop_reason] += 1  # final drops only (a failed attempt is not a drop)
            if history[uid]:
                out.metrics["attempts"] = history[uid]
                if out.drop_reason is None:
                    self.counts["kept_after_retry"] += 1
            yield out

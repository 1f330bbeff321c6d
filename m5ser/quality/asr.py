"""Back-transcription: does a clip say its text, in its language? (annotator + two filters)

`asr` (annotator) runs Whisper over a work unit's clips in batches and adds to ``metrics``:
``asr_text`` (transcript decoded in the clip's language), ``asr_lang`` / ``asr_lang_prob``
(Whisper's most probable language and its probability), ``asr_own_prob`` (the probability of
the clip's own language), ``wer`` and ``cer`` (jiwer, after the spoken form of numbers and
symbols, `error_rates`, and `normalize`) and ``asr_error`` (the one the filters read: ``cer``
for the languages in ``cer_langs``, which are written without spaces, else ``wer``) and
``asr_status``: ``checked``, or ``unchecked`` for the languages in ``unchecked`` (the ear is
known not to work on them: transcribed for the report, never filtered). Languages in ``skip``
get no ASR metrics at all. The report shows both as "not checked", never as passed.

`asr_filter` drops ``asr_mismatch`` and `language_id` drops ``wrong_language``; both take
per-language overrides (``per_lang: {zh: {max_error: 0.6}}``).
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from m5ser import audio
from m5ser.config import RecipeError, parse_section
from m5ser.registry import require
from m5ser.schema import Utterance
from m5ser.steps import Filter, MapStep, StepContext
from m5ser.text.normalize import LangRules, load_rules, normalize_text

SAMPLE_RATE = 16_000


def normalize(text: str) -> str:
    """Lower case, punctuation and symbols to spaces, whitespace collapsed (any script).

    >>> normalize("Ich hasse das!  Wirklich?")
    'ich hasse das wirklich'
    >>> normalize("我不知道，你在说什么。")
    '我不知道 你在说什么'
    """
    chars = [" " if unicodedata.category(c)[0] in "PSZC" else c for c in unicodedata.normalize("NFKC", text).lower()]
    return " ".join("".join(chars).split())


def error_rates(reference: str, hypothesis: str, rules: LangRules | None = None, lang: str = "") -> dict[str, float]:
    """WER and CER of `hypothesis` against `reference` after `normalize` (CER without spaces).

    With the language's `rules` (the `normalize` step's: numbers spelled by num2words, symbols,
    abbreviations), both texts are first put in their spoken form: the clip's text already is,
    and Whisper writes "2700" for the "deux mille sept cents" it heard.
    An empty reference gives 0 for an empty hypothesis and 1 otherwise.

    >>> error_rates("Ich habe drei Hunde.", "Ich habe 3 Hunde", LangRules(num2words="de"), "de")
    {'wer': 0.0, 'cer': 0.0}
    """
    jiwer = require("jiwer", "quality")
    if rules is not None:
        reference, hypothesis = normalize_text(reference, lang, rules), normalize_text(hypothesis, lang, rules)
    ref, hyp = normalize(reference), normalize(hypothesis)
    if not ref:
        bad = float(bool(hyp))
        return {"wer": bad, "cer": bad}
    ref_chars, hyp_chars = ref.replace(" ", ""), hyp.replace(" ", "")
    return {
        "wer": round(float(jiwer.wer(ref, hyp)) if hyp else 1.0, 4),
        "cer": round(float(jiwer.cer(ref_chars, hyp_chars)) if hyp_chars else 1.0, 4),
    }


@dataclass(frozen=True)
class AsrParams:
    model: str = "whisper-base"  # a model-store name, a CTranslate2 folder or a faster-whisper id
    backend: str = "ct2"  # ct2 (faster-whisper/CTranslate2)
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 1  # per work-unit process
    beam_size: int = 1
    batch_size: int = 8  # clips per encoder/decoder call
    window_s: float = 30.0  # each clip is padded to this window: 30 = Whisper's own; shorter is faster
    cer_langs: list[str] = field(default_factory=lambda: ["zh", "ja"])  # written without spaces: asr_error = cer
    skip: list[str] = field(default_factory=list)  # languages not run through the ear at all (no ASR metrics)
    # Languages transcribed for the report but not checked: the ear is known not to work on
    # them (espeak-ng zh/ru are heard as other languages). asr_status "unchecked"; filters skip them.
    unchecked: list[str] = field(default_factory=list)
    lang_codes: dict[str, str] = field(default_factory=dict)  # recipe language -> Whisper code, where they differ
    # Spoken-form rules applied to text and transcript before scoring (numbers, symbols): the
    # `normalize` step's file; empty: normalize.yaml beside the recipe's emotions file (no
    # recipe context: texts compared as written).
    rules: str = ""


class AsrAnnotator(MapStep):
    """Adds Whisper's transcript, language ID and WER/CER to ``metrics`` (never drops)."""

    name = "asr"
    Params = AsrParams
    stage = "clip"

    def __init__(self, params: AsrParams | None = None, ctx: StepContext | None = None) -> None:
        super().__init__(params, ctx)
        self._whisper: Any = None

    @property
    def whisper(self) -> Any:
        """The Whisper backend, loaded on first use (once per step, i.e. per work unit)."""
        if self._whisper is None:
            from m5ser.quality.whisper import load_whisper

            p = self.params
            self._whisper = load_whisper(
                p.backend, model=p.model, device=p.device, compute_type=p.compute_type,
                cpu_threads=p.cpu_threads, beam_size=p.beam_size, window_s=p.window_s,
            )  # fmt: skip
        return self._whisper

    def rules(self, lang: str) -> LangRules | None:
        """The language's spoken-form rules (None: the language has none; texts compared as written)."""
        if self.params.rules:
            path = Path(self.params.rules)
        elif self.ctx is not None:
            path = self.ctx.recipe.emotions_file.parent / "normalize.yaml"
        else:
            return None
        if not path.is_file():
            raise RecipeError(f"asr.rules: no normalization rules file {path}")
        return load_rules(path).get(lang)

    def annotate(self, batch: list[Utterance]) -> None:
        """Add the ASR metrics to every clip of `batch` (one Whisper call)."""
        langs = [self.params.lang_codes.get(u.lang, u.lang) for u in batch]
        clips = [audio.load(u.audio_path, SAMPLE_RATE) for u in batch]
        # A bound on the decoding: generous for the text, so a hallucination loop stops.
        limits = [min(220, 16 + 3 * len(u.text)) for u in batch]
        for utt, heard in zip(batch, self.whisper.hear(clips, langs, limits), strict=True):
            rates = error_rates(utt.text, heard.text, self.rules(utt.lang), utt.lang)
            status = "unchecked" if utt.lang in self.params.unchecked else "checked"
            utt.metrics.update(
                asr_text=heard.text,
                asr_lang=heard.lang,
                asr_lang_prob=round(heard.lang_prob, 4),
                asr_own_prob=round(heard.own_prob, 4),
                asr_model=self.params.model,
                asr_status=status,
                **rates,
                asr_error=rates["cer"] if utt.lang in self.params.cer_langs else rates["wer"],
            )
            self.counts[f"asr_{status}"] += 1

    def __call__(self, items: Iterable[Utterance]) -> Iterator[Utterance]:
        batch: list[Utterance] = []
        for utt in items:
            if utt.drop_reason is not None or utt.lang in self.params.skip:
                if utt.drop_reason is None:
                    self.counts["asr_not_run"] += 1
                yield utt
                continue
            batch.append(utt)
            if len(batch) >= self.params.batch_size:
                self.annotate(batch)
                yield from batch
                batch = []
        if batch:
            self.annotate(batch)
            yield from batch


def _overrides(cls: type, params: Any, where: str) -> dict[str, Any]:
    """Each language's parameters: the defaults with its ``per_lang`` entry applied."""
    base = {f.name: getattr(params, f.name) for f in dataclasses.fields(params) if f.name != "per_lang"}
    out = {}
    for lang, extra in (params.per_lang or {}).items():
        if not isinstance(extra, dict):
            raise RecipeError(f"{where}.per_lang.{lang}: expected a mapping of parameters")
        out[lang] = parse_section(cls, {**base, **extra}, f"{where}.per_lang.{lang}")
    return out


class _PerLangFilter(Filter):
    """A filter whose parameters may be overridden per language (``per_lang``)."""

    def __init__(self, params: Any = None, ctx: StepContext | None = None) -> None:
        super().__init__(params, ctx)
        self._per_lang = _overrides(type(self.params), self.params, self.name)

    def params_for(self, lang: str) -> Any:
        return self._per_lang.get(lang, self.params)


@dataclass(frozen=True)
class AsrThresholds:
    max_error: float | None = 0.5  # drop (asr_mismatch) if the metric > this; null: not checked here
    metric: str = "asr_error"  # asr_error (CER for cer_langs, else WER), wer or cer
    per_lang: dict[str, Any] = field(default_factory=dict)  # e.g. {zh: {max_error: 0.6}}

    def __post_init__(self) -> None:
        if self.metric not in ("asr_error", "wer", "cer"):
            raise RecipeError("metric: expected asr_error, wer or cer")

    def thresholds(self) -> dict[str, list[float]]:
        """Metric -> threshold values (drawn on the report's histograms; per-language overrides aside)."""
        return {self.metric: [self.max_error]} if self.max_error is not None else {}


class AsrFilter(_PerLangFilter):
    """Drops ``asr_mismatch`` when the ``metric`` (default ``asr_error``) ``> max_error`` (strict). A clip whose
    ``asr_status`` is not ``checked`` (no ASR, or an unchecked language) or a language whose
    ``max_error`` is null is kept unchecked."""

    name = "asr_filter"
    Params = AsrThresholds
    stage = "clip"

    def reason(self, utt: Utterance) -> str | None:
        p = self.params_for(utt.lang)
        limit, error = p.max_error, utt.metrics.get(p.metric)
        if limit is None or error is None or utt.metrics.get("asr_status") != "checked":
            return None
        return "asr_mismatch" if error > limit else None


@dataclass(frozen=True)
class LanguageIdThresholds:
    min_prob: float | None = 0.5  # drop if another language is detected with probability > this; null: off
    per_lang: dict[str, Any] = field(default_factory=dict)  # e.g. {ru: {min_prob: null}}
    lang_codes: dict[str, str] = field(default_factory=dict)  # recipe language -> Whisper code, where they differ


class LanguageIdFilter(_PerLangFilter):
    """Drops ``wrong_language`` when Whisper's most probable language is not the clip's and its
    probability ``asr_lang_prob > min_prob`` (strict). Clips whose ``asr_status`` is not
    ``checked`` are kept."""

    name = "language_id"
    Params = LanguageIdThresholds
    stage = "clip"

    def reason(self, utt: Utterance) -> str | None:
        p = self.params_for(utt.lang)
        heard = utt.metrics.get("asr_lang")
        if p.min_prob is None or heard is None or utt.metrics.get("asr_status") != "checked":
            return None
        own = self.params.lang_codes.get(utt.lang, utt.lang)
        return "wrong_language" if heard != own and utt.metrics["asr_lang_prob"] > p.min_prob else None

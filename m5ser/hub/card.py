"""The dataset card (``README.md``) of a published folder, with per-language configs.

Everything is computed from the files in the folder, so rebuilding one language and
regenerating the card covers all languages. Configs of an existing card for languages
that are not present locally are kept, so pushing one language never erases another's.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from m5ser.hub.report import Stats, collect_stats, kept_table, md_table
from m5ser.manifest import write_text_atomic
from m5ser.schema import Voice
from m5ser.shards.parquet import SPLITS, read_published_manifest

HF_SPLIT = {"train": "train", "dev": "validation", "test": "test"}
"""File split names → Hub split names."""

ALL_CONFIG = "all"
DEFAULT_LICENSE = "cc-by-4.0"
TAGS = ["synthetic", "speech-emotion-recognition", "text-to-speech", "multilingual"]

# Attribution of the known source corpora, keyed by `source_corpus` prefix.
CORPORA: dict[str, str] = {
    "xed": (
        "**XED** — Öhman, E., Pàmies, M., Kajava, K. & Tiedemann, J. (2020). XED: A Multilingual "
        "Dataset for Sentiment Analysis and Emotion Detection. COLING 2020. Licence: CC BY 4.0. "
        "<https://github.com/Helsinki-NLP/XED>"
    ),
    "goemotions": (
        "**GoEmotions** — Demszky, D., Movshovitz-Attias, D., Ko, J., Cowen, A., Nemade, G. & Ravi, S. "
        "(2020). GoEmotions: A Dataset of Fine-Grained Emotions. ACL 2020. Licence: CC BY 4.0. "
        "<https://github.com/google-research/google-research/tree/master/goemotions>"
    ),
}


_RESTRICTED = re.compile(r"non[- ]?commercial|\bnc\b|non[- ]?free|proprietary", re.IGNORECASE)
"""Licence names that restrict use of the audio (flagged in the card)."""

NOT_RECORDED = "not recorded"
"""Licence shown for a speaker that is not in the speaker bank given to `write_card`."""


class CardError(ValueError):
    """An existing README.md whose front matter cannot be merged."""


def read_front_matter(path: Path) -> tuple[dict[str, Any], str]:
    """YAML front matter and body of a markdown file (empty dict when there is none)."""
    text = Path(path).read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---\n", 4)
    if end < 0:
        raise CardError(f"{path}: front matter opened with '---' is never closed")
    try:
        meta = yaml.safe_load(text[4:end]) or {}
    except yaml.YAMLError as e:
        raise CardError(f"{path}: invalid YAML front matter ({e})") from e
    if not isinstance(meta, dict):
        raise CardError(f"{path}: front matter is not a mapping")
    return meta, text[end + 5 :]


def _splits_on_disk(out_dir: Path, lang: str) -> list[str]:
    folder = out_dir / "data" / lang
    return [s for s in SPLITS if any(folder.glob(f"{s}-*.parquet"))]


def lang_config(lang: str, splits: Sequence[str]) -> dict[str, Any]:
    """The ``configs:`` entry of one language.

    >>> lang_config("de", ["train", "dev"])["data_files"][1]
    {'split': 'validation', 'path': 'data/de/dev-*'}
    """
    return {
        "config_name": lang,
        "data_files": [{"split": HF_SPLIT[s], "path": f"data/{lang}/{s}-*"} for s in splits],
    }


def merge_configs(local: Mapping[str, Sequence[str]], existing: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`all` (default) + one config per language; existing configs of other languages are kept.

    `local` maps each local language to its splits (file names). The `all` config covers
    every split that any language (local or kept) has, with ``data/*/<split>-*`` patterns.
    """
    kept = [dict(c) for c in existing if c.get("config_name") not in {ALL_CONFIG, *local} and c.get("config_name")]
    hf_to_file = {v: k for k, v in HF_SPLIT.items()}
    splits = {s for ss in local.values() for s in ss}
    for c in kept:
        for df in c.get("data_files") or []:
            if isinstance(df, Mapping) and df.get("split") in hf_to_file:
                splits.add(hf_to_file[df["split"]])
    configs = [lang_config(lang, ss) for lang, ss in local.items() if ss] + kept
    configs.sort(key=lambda c: str(c["config_name"]))
    every = {
        "config_name": ALL_CONFIG,
        "data_files": [{"split": HF_SPLIT[s], "path": f"data/*/{s}-*"} for s in SPLITS if s in splits],
        "default": True,
    }
    return [every, *configs]


def size_category(n: int) -> str:
    """Hub ``size_categories`` bucket of `n` examples.

    >>> size_category(1500)
    '1K<n<10K'
    """
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")]
    for bound, name in bounds:
        if n < bound:
            return name
    return "1M<n<10M" if n < 10_000_000 else "n>10M"


def _repo_id(recipe: Mapping[str, Any] | None) -> str:
    recipe = recipe or {}
    hub = recipe.get("hub") if isinstance(recipe.get("hub"), Mapping) else {}
    return str(recipe.get("repo_id") or hub.get("repo_id") or "<user>/m5ser")


@dataclass
class _Usage:
    """What the kept clips actually use: speakers with licences, engines, corpora, text routes."""

    # one row per used speaker: lang, speaker, engine, voice, gender, licence, clips
    voice_rows: list[list[Any]] = field(default_factory=list)
    unknown_speakers: list[str] = field(default_factory=list)  # speakers missing from the given bank
    engines: Counter[str] = field(default_factory=Counter)  # tts_backend -> clips
    corpora: Counter[str] = field(default_factory=Counter)  # source_corpus -> clips
    routes: Counter[str] = field(default_factory=Counter)  # translation_backend -> clips

    @property
    def licences(self) -> Counter[str]:
        """Licence -> speakers using it (recorded licences only)."""
        return Counter(row[5] for row in self.voice_rows if row[5] != NOT_RECORDED)

    @property
    def restricted(self) -> list[str]:
        return sorted(k for k in self.licences if _RESTRICTED.search(k))


def _scan(out_dir: Path, langs: Sequence[str], voices: Mapping[str, Sequence[Voice]] | None) -> _Usage:
    usage = _Usage()
    for lang in langs:
        used: dict[str, tuple[str, str, str, int]] = {}
        for utt in read_published_manifest(out_dir / "manifests" / f"{lang}.jsonl"):
            usage.corpora[utt.source_corpus] += 1
            usage.engines[utt.tts_backend] += 1
            usage.routes[utt.translation_backend or "unknown"] += 1
            n = used.get(utt.speaker_id, ("", "", "", 0))[3]
            used[utt.speaker_id] = (utt.tts_backend, utt.voice, utt.gender, n + 1)
        bank = {v.id: v for v in (voices or {}).get(lang, ())}
        for sid in sorted(used):
            engine, voice, gender, n = used[sid]
            if sid not in bank:
                usage.unknown_speakers.append(sid)
            licence = bank[sid].license if sid in bank else NOT_RECORDED
            usage.voice_rows.append([lang, f"`{sid}`", engine, f"`{voice}`", gender, licence, n])
    return usage


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _voices_md(usage: _Usage) -> str:
    """Speakers and voice licences (used voices only)."""
    text = md_table(["lang", "speaker", "engine", "voice", "gender", "licence", "clips"], usage.voice_rows)
    if usage.licences:
        listed = ", ".join(f"{k} ({_plural(n, 'speaker')})" for k, n in sorted(usage.licences.items()))
        text += f"\n\nLicences of the voices used: {listed}."
    if usage.restricted:
        text += (
            f" **Some voices carry restrictive licences ({', '.join(usage.restricted)}); audio made with "
            "them may not be usable commercially.**"
        )
    if usage.unknown_speakers:
        text += (
            f"\n\n{_plural(len(usage.unknown_speakers), 'speaker')} not in the speaker bank given to the "
            f"card writer; their licence is marked *{NOT_RECORDED}*."
        )
    return text


def _corpora_section(corpora: Sequence[str]) -> str:
    lines = []
    for name in sorted(corpora):
        ref = next((v for k, v in CORPORA.items() if name.lower().startswith(k)), None)
        lines.append(
            f"- `{name}`: {ref}"
            if ref
            else f"- `{name}`: text supplied by the builder; its licence is the builder's to state."
        )
    return "\n".join(lines) if lines else "- (no clips)"


def _body(
    title: str,
    stats: Stats,
    local: Mapping[str, Sequence[str]],
    other: Sequence[str],
    usage: _Usage,
    repo: str,
    recipe: Mapping[str, Any] | None,
) -> str:
    langs = [lang for lang in stats.languages if lang in local]
    first = langs[0] if langs else "de"
    hours_rows = [[lang, *(f"{stats.hours[lang].get(e, 0.0):.3f}" for e in stats.emotions)] for lang in stats.languages]
    reasons = sorted({r for by in stats.drops_by_reason.values() for r in by})
    drops = (
        md_table(
            ["lang", *reasons, "total dropped", "kept"],
            [
                [
                    lang,
                    *(stats.drops_by_reason[lang].get(r, 0) for r in reasons),
                    stats.total("dropped", lang),
                    stats.total("kept", lang),
                ]
                for lang in stats.languages
            ],
        )
        if reasons
        else "No clip was dropped."
    )
    genders = sorted({g for by in stats.speaker_genders.values() for g in by})
    speakers = md_table(
        ["lang", "speakers", *genders],
        [
            [lang, len(stats.speakers[lang]), *(stats.speaker_genders[lang].get(g, 0) for g in genders)]
            for lang in stats.languages
        ],
    )
    engines = ", ".join(f"`{e}`" for e in sorted(usage.engines)) or "none"
    parts = [
        f"# {title}",
        "",
        f"{title} is a **synthetic multilingual speech-emotion dataset**: emotion-labelled sentences from "
        "text corpora, in their own language or translated, rendered as speech by text-to-speech "
        f"engines ({engines}) with emotion-specific prosody (pitch level and range, speaking rate, "
        "loudness, pauses and contour; Murray & Arnott 1993, Burkhardt 2005) and several speakers per "
        "language. Audio is 16 kHz mono PCM16 WAV, embedded in Parquet shards.",
        "",
        f"It holds **{stats.total('kept')} clips ({stats.total('hours'):.2f} h)** in "
        f"{len(stats.languages)} language(s): {', '.join(f'`{x}`' for x in stats.languages)}. "
        "Splits are made by source sentence: no sentence appears in two splits.",
        "",
        "## How to load",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        f'ds = load_dataset("{repo}", "{first}")          # one language',
        f'ds_all = load_dataset("{repo}", "{ALL_CONFIG}")  # every language (default config)',
        'ds["train"][0]["audio"]  # decoded at 16 kHz',
        "```",
        "",
        "Columns: `id`, `audio`, `lang`, `text`, `emotion`, `intensity`, `speaker_id`, `gender`, "
        "`tts_backend`, `voice`, `source_id`, `source_corpus`, `split`, `duration_s`, `sample_rate`. "
        "`manifests/<lang>.jsonl` lists every clip with its prosody and quality metrics "
        "(NeMo/lhotse-friendly `audio_filepath` and `duration`), without reading any audio.",
        "",
    ]
    if other:
        parts += [
            f"Configs kept from the previously published card (no local data when this card was built, "
            f"so they are not counted below): {', '.join(f'`{c}`' for c in other)}.",
            "",
        ]
    parts += [
        "## Clips per language × emotion",
        "",
        kept_table(stats),
        "",
        "Hours per language × emotion:",
        "",
        md_table(["lang", *stats.emotions], hours_rows),
        "",
        "## Speakers",
        "",
        speakers,
        "",
        "### Voices and licences",
        "",
        _voices_md(usage),
        "",
        "## Labels: where they come from",
        "",
        "The `emotion` of a clip is its **intended** emotion. It is derived from the text: the label the "
        "source corpus gives the sentence (mapped onto `neutral, happy, sad, angry, fear, disgust, "
        "surprise`), which the synthesizer then renders through prosody. The labels were **not validated "
        "by human listeners on the audio**; automatic checks only remove broken clips (signal quality and, "
        "where available, transcription). Source labels themselves are annotator judgements on text "
        "(or projections of them onto translations), with the disagreement that implies.",
        "",
        *_overrides(recipe),
        "## Source corpora",
        "",
        _corpora_section(list(usage.corpora)),
        "",
        "Text per translation route (clips): "
        + ", ".join(f"`{k}` ({n})" for k, n in sorted(usage.routes.items()))
        + ". `identity` is the source text itself, `parallel` the corpus's own line in that language "
        "(a human translation); any other route is machine translation.",
        "",
        "## Quality filtering",
        "",
        "Clips failing a check are removed and listed with their metrics in "
        "`removed/<lang>/<reason>.jsonl`; `reports/quality.md` has the distributions and the checks that "
        "were (and were not) run per language.",
        "",
        drops,
        "",
        "## Limitations",
        "",
        "- The speech is synthetic. Rule-based engines (formant/diphone, such as espeak-ng) change "
        "pitch, rate, loudness and pauses, but not vocal effort or voice quality (spectral tilt, "
        "breathiness, creak), which carry much of the emotion in real speech. Models trained only on "
        "this data transfer poorly to real emotional speech without normalization and real-speech "
        "evaluation.",
        "- Emotion is acted by rule: one prosodic preset per emotion with intensity scaling and random "
        "jitter. Expect stereotyped, easily separable classes.",
        "- Machine-translated sentences (rule-based where no parallel line exists) may be ungrammatical "
        "or lose the emotional tone of the source.",
        "- Automatic transcription checks are only available offline for some languages (see the report).",
        "- Voice licences vary by engine; check the table above before commercial use.",
        "",
    ]
    if recipe:
        parts += [
            "## Build recipe",
            "",
            "```yaml",
            yaml.safe_dump(dict(recipe), sort_keys=False, allow_unicode=True).rstrip(),
            "```",
            "",
        ]
    return "\n".join(parts)


def _overrides(recipe: Mapping[str, Any] | None) -> list[str]:
    """Card lines listing the recipe's explicit source-label overrides (none: no lines)."""
    sources = (recipe or {}).get("sources") or {}
    lines = [
        f"- `{name}`: source label `{label}` → `{target}`"
        for name, src in sorted(sources.items())
        if isinstance(src, Mapping)
        for label, target in sorted((src.get("label_overrides") or {}).items())
    ]
    if not lines:
        return []
    return [
        "This build maps these source labels explicitly (recipe overrides of the default mapping):",
        "",
        *lines,
        "",
    ]


def _licence_meta(recipe: Mapping[str, Any] | None, usage: _Usage) -> dict[str, str]:
    """The recipe's ``license`` if it sets one; else CC BY 4.0 (the text's licence), or
    ``other`` when a voice licence restricts use of the audio."""
    if recipe and recipe.get("license"):
        return {"license": str(recipe["license"])}
    if usage.restricted:
        return {"license": "other", "license_name": "cc-by-4.0-text-with-restricted-voices"}
    return {"license": DEFAULT_LICENSE}


def write_card(
    out_dir: Path,
    *,
    title: str = "M5SER",
    voices: Mapping[str, Sequence[Voice]] | None = None,
    recipe: Mapping | None = None,
) -> Path:
    """Write ``out_dir/README.md`` from the folder's manifests and removed files; returns it."""
    out_dir = Path(out_dir)
    path = out_dir / "README.md"
    old_meta: dict[str, Any] = {}
    if path.is_file():
        old_meta, _ = read_front_matter(path)
    stats = collect_stats(out_dir)
    local_langs = [lang for lang in stats.languages if (out_dir / "manifests" / f"{lang}.jsonl").is_file()]
    local = {lang: _splits_on_disk(out_dir, lang) for lang in local_langs}
    existing = old_meta.get("configs") or []
    if not isinstance(existing, list):
        raise CardError(f"{path}: 'configs' is not a list")
    configs = merge_configs(local, existing)
    other = [str(c["config_name"]) for c in configs[1:] if c["config_name"] not in local]
    usage = _scan(out_dir, local_langs, voices)
    meta: dict[str, Any] = {**_licence_meta(recipe, usage)}
    meta |= {
        "language": sorted(str(c["config_name"]) for c in configs[1:]),
        "pretty_name": title,
        "task_categories": ["audio-classification"],
        "size_categories": [size_category(int(stats.total("kept")))],
        "tags": [*TAGS, *sorted(e for e in usage.engines if e)],
        "configs": configs,
    }
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    body = _body(title, stats, local, other, usage, _repo_id(recipe), recipe)
    write_text_atomic(path, f"---\n{front}---\n\n{body}")
    return path

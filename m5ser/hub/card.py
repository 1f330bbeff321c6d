"""The dataset card (``README.md``) of a published folder, with per-language configs.

The card is a view of the folder's `Stats` (see `m5ser.hub.stats`), so rebuilding one
language and regenerating the card covers all languages. Its prose lives in
``card_template.md`` (`string.Template` placeholders); corpus citations come from the
corpus catalogue (``manifests/corpora.yaml``). Configs of an existing card for languages
that are not present locally are kept, so pushing one language never erases another's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import yaml

from m5ser.config import Recipe, is_commercial_ok, load_emotions, load_yaml
from m5ser.errors import InputError
from m5ser.hub.report import kept_table, md_table, text_drops_table
from m5ser.hub.stats import Stats
from m5ser.manifest import write_text_atomic
from m5ser.schema import SAMPLE_RATE, Voice
from m5ser.shards.parquet import SCHEMA, SPLITS

HF_SPLIT = {"train": "train", "dev": "validation", "test": "test"}
"""File split names → Hub split names."""

ALL_CONFIG = "all"
DEFAULT_LICENSE = "cc-by-4.0"
"""Card licence when the recipe sets none and no voice restricts use: the text corpora's licence."""
RESTRICTED_LICENSE_NAME = "cc-by-4.0-text-with-restricted-voices"
"""``license_name`` of a derived ``license: other`` (some voice forbids commercial use)."""
DEFAULT_REPO_ID = "<user>/m5ser"
"""Repo id shown in the load examples when the recipe's ``hub.repo_id`` is empty."""
TAGS = ["synthetic", "speech-emotion-recognition", "text-to-speech", "multilingual"]
TEMPLATE = "card_template.md"
"""The card's prose, next to this module; `$name` placeholders are filled by `write_card`."""

NOT_RECORDED = "not recorded"
"""Licence shown for a speaker that is not in the speaker bank given to `write_card`."""


class CardError(InputError):
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


def render(template: str, values: Mapping[str, str]) -> str:
    """`template` with its `$name` placeholders filled from `values` (`string.Template`).

    A placeholder alone on its line whose value is empty disappears together with the
    blank line after it. A placeholder without a value is an error (KeyError).

    >>> render("a\\n\\n$x\\n\\nb $y\\n", {"x": "", "y": "c"})
    'a\\n\\nb c\\n'
    """
    for key, value in values.items():
        if not value:
            template = template.replace(f"\n${key}\n\n", "\n")
    return Template(template).substitute(values)


def load_citations(path: str | Path) -> dict[str, str]:
    """Corpus name -> markdown citation, from the ``citation`` entries of a corpus catalogue
    (none when the recipe's manifests have no catalogue: the card then names the corpora only)."""
    if not Path(path).is_file():
        return {}
    out = {}
    for name, entry in load_yaml(path).items():
        citation = entry.get("citation") if isinstance(entry, Mapping) else None
        if citation is None:
            continue
        if not isinstance(citation, str) or not citation.strip():
            raise CardError(f"{path}: {name}.citation must be a non-empty string")
        out[str(name).lower()] = citation.strip()
    return out


def _citation(corpus: str, citations: Mapping[str, str]) -> str | None:
    """The citation whose corpus name is the longest prefix of `corpus` (case-insensitive)."""
    matches = [k for k in citations if corpus.lower().startswith(k)]
    return citations[max(matches, key=len)] if matches else None


@dataclass
class _Voices:
    """The speakers of the kept clips, joined with the speaker bank's licences."""

    # one row per used speaker: lang, speaker, engine, voice, gender, licence, clips
    rows: list[list[Any]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # speakers missing from the given bank
    licences: Counter[str] = field(default_factory=Counter)  # recorded licence -> speakers using it

    @property
    def restricted(self) -> list[str]:
        """Recorded licences that forbid commercial use (`m5ser.config.is_commercial_ok`)."""
        return sorted(k for k in self.licences if not is_commercial_ok(k))


def _voices(stats: Stats, langs: Sequence[str], bank: Mapping[str, Sequence[Voice]]) -> _Voices:
    """The kept clips' speakers of `langs` (from `stats`), with licences from the speaker `bank`."""
    out = _Voices()
    for lang in langs:
        known = {v.id: v for v in bank.get(lang, ())}
        for sid, clips in stats.speakers.get(lang, {}).items():
            used = stats.speaker_voices.get(lang, {}).get(sid, {})
            if sid in known:
                licence = known[sid].license
                out.licences[licence] += 1
            else:
                licence = NOT_RECORDED
                out.unknown.append(sid)
            out.rows.append(
                [
                    lang,
                    f"`{sid}`",
                    used.get("engine", ""),
                    f"`{used.get('voice', '')}`",
                    used.get("gender", ""),
                    licence,
                    clips,
                ]
            )
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _voices_md(voices: _Voices) -> str:
    """Speakers and voice licences (used voices only)."""
    text = md_table(["lang", "speaker", "engine", "voice", "gender", "licence", "clips"], voices.rows)
    if voices.licences:
        listed = ", ".join(f"{k} ({_plural(n, 'speaker')})" for k, n in sorted(voices.licences.items()))
        text += f"\n\nLicences of the voices used: {listed}."
    if voices.restricted:
        text += (
            f" **Some voices carry restrictive licences ({', '.join(voices.restricted)}); audio made with "
            "them may not be usable commercially.**"
        )
    if voices.unknown:
        text += (
            f"\n\n{_plural(len(voices.unknown), 'speaker')} not in the speaker bank given to the "
            f"card writer; their licence is marked *{NOT_RECORDED}*."
        )
    return text


def _corpora_md(corpora: Sequence[str], citations: Mapping[str, str]) -> str:
    lines = []
    for name in sorted(corpora):
        ref = _citation(name, citations)
        lines.append(
            f"- `{name}`: {ref}"
            if ref
            else f"- `{name}`: text supplied by the builder; its licence is the builder's to state."
        )
    return "\n".join(lines) if lines else "- (no clips)"


def _overrides_md(raw: Mapping[str, Any]) -> str:
    """The recipe's explicit source-label overrides (none: empty)."""
    sources = raw.get("sources") or {}
    lines = [
        f"- `{name}`: source label `{label}` → `{target}`"
        for name, src in sorted(sources.items())
        if isinstance(src, Mapping)
        for label, target in sorted((src.get("label_overrides") or {}).items())
    ]
    if not lines:
        return ""
    head = "This build maps these source labels explicitly (recipe overrides of the default mapping):"
    return "\n".join([head, "", *lines])


def _missing_md(labels: Sequence[str], stats: Stats) -> str:
    """Emotions of the label set with no kept clip in a language (empty when every cell is filled).

    A build says so instead of filling the cell by relabelling (for example: no neutral text
    for a language that has no neutral source lines and no translation route for them).
    """
    lines = [
        f"- `{lang}`: no {', '.join(f'`{e}`' for e in missing)}"
        for lang in stats.languages
        if (missing := [e for e in labels if not stats.kept.get(lang, {}).get(e, 0)])
    ]
    if not lines:
        return ""
    head = (
        "Emotions with **no clips** in a language: no source text with that label reached the language "
        "(the recipe's `documentation` says why); no other label was relabelled to fill the gap."
    )
    return "\n".join([head, "", *lines])


def _drops_md(stats: Stats) -> str:
    """Dropped clips per language × reason, with totals (clips only)."""
    reasons = stats.reasons()
    if not reasons:
        return "No clip was dropped."
    rows = [
        [
            lang,
            *(stats.drops_by_reason[lang].get(r, 0) for r in reasons),
            stats.total("dropped", lang),
            stats.total("kept", lang),
        ]
        for lang in stats.languages
    ]
    return md_table(["lang", *reasons, "total dropped", "kept"], rows)


def _licence_meta(license: str, voices: _Voices) -> dict[str, str]:
    """The recipe's ``hub.license`` if set; else CC BY 4.0 (the text's licence), or ``other``
    when a voice licence restricts use of the audio."""
    if license:
        return {"license": license}
    if voices.restricted:
        return {"license": "other", "license_name": RESTRICTED_LICENSE_NAME}
    return {"license": DEFAULT_LICENSE}


def _body(
    recipe: Recipe,
    stats: Stats,
    local: Sequence[str],
    other: Sequence[str],
    voices: _Voices,
    citations: Mapping[str, str],
) -> str:
    title = recipe.hub.pretty_name
    genders = sorted({g for by in stats.speaker_genders.values() for g in by})
    speakers = md_table(
        ["lang", "speakers", *genders],
        [
            [lang, len(stats.speakers.get(lang, {})), *(stats.speaker_genders.get(lang, {}).get(g, 0) for g in genders)]
            for lang in stats.languages
        ],
    )
    hours = md_table(
        ["lang", *stats.emotions],
        [[lang, *(f"{stats.hours[lang].get(e, 0.0):.3f}" for e in stats.emotions)] for lang in stats.languages],
    )
    other_md = (
        "Configs kept from the previously published card (no local data when this card was built, "
        f"so they are not counted below): {', '.join(f'`{c}`' for c in other)}."
        if other
        else ""
    )
    routes = stats.pooled("routes")
    values = {
        "title": title,
        "engines": ", ".join(f"`{e}`" for e in sorted(stats.pooled("engines"))) or "none",
        "khz": f"{SAMPLE_RATE / 1000:g}",
        "clips": str(stats.total("kept")),
        "hours": f"{stats.total('hours'):.2f}",
        "n_languages": str(len(stats.languages)),
        "language_list": ", ".join(f"`{x}`" for x in stats.languages),
        "repo_id": recipe.hub.repo_id or DEFAULT_REPO_ID,
        "first_lang": local[0] if local else "de",
        "all_config": ALL_CONFIG,
        "columns": ", ".join(f"`{c}`" for c in SCHEMA.names),
        "other_configs": other_md,
        "kept_table": kept_table(stats),
        "hours_table": hours,
        "speakers_table": speakers,
        "voices": _voices_md(voices),
        "labels": "`" + ", ".join(load_emotions(recipe.emotions_file).labels) + "`",
        "overrides": _overrides_md(recipe.raw),
        "missing": _missing_md(load_emotions(recipe.emotions_file).labels, stats),
        "corpora": _corpora_md(list(stats.pooled("corpora")), citations),
        "routes": ", ".join(f"`{k}` ({n})" for k, n in sorted(routes.items())) or "none",
        "drops_table": _drops_md(stats),
        "text_drops_table": text_drops_table(stats),
        "recipe_yaml": yaml.safe_dump(dict(recipe.raw), sort_keys=False, allow_unicode=True).rstrip(),
    }
    template = resources.files("m5ser.hub").joinpath(TEMPLATE).read_text(encoding="utf-8")
    return render(template, values)


def write_card(
    recipe: Recipe,
    stats: Stats,
    *,
    voices: Mapping[str, Sequence[Voice]] | None = None,
    corpora_file: Path | None = None,
) -> Path:
    """Write ``recipe.output/README.md`` from `stats` (the folder's statistics); returns it.

    `voices` is the speaker bank per language (licences of the voices used; a speaker not
    in it is marked *not recorded*). `corpora_file` holds the corpus citations (default:
    ``corpora.yaml`` beside the recipe's emotions file).
    """
    out_dir = Path(recipe.output)
    path = out_dir / "README.md"
    old_meta: dict[str, Any] = {}
    if path.is_file():
        old_meta, _ = read_front_matter(path)
    local_langs = [lang for lang in stats.languages if (out_dir / "manifests" / f"{lang}.jsonl").is_file()]
    local = {lang: _splits_on_disk(out_dir, lang) for lang in local_langs}
    existing = old_meta.get("configs") or []
    if not isinstance(existing, list):
        raise CardError(f"{path}: 'configs' is not a list")
    configs = merge_configs(local, existing)
    other = [str(c["config_name"]) for c in configs[1:] if c["config_name"] not in local]
    used = _voices(stats, local_langs, voices or {})
    citations = load_citations(corpora_file or recipe.emotions_file.parent / "corpora.yaml")
    meta: dict[str, Any] = {**_licence_meta(recipe.hub.license, used)}
    meta |= {
        "language": sorted(str(c["config_name"]) for c in configs[1:]),
        "pretty_name": recipe.hub.pretty_name,
        "task_categories": ["audio-classification"],
        "size_categories": [size_category(int(stats.total("kept")))],
        "tags": [*TAGS, *sorted(e for e in stats.pooled("engines") if e)],
        "configs": configs,
    }
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    body = _body(recipe, stats, local_langs, other, used, citations)
    write_text_atomic(path, f"---\n{front}---\n\n{body}")
    return path

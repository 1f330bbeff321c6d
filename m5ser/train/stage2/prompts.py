"""Stage-2 instruction templates: prompts/stage2/<lang>.yaml, each with `{speech}` and `{labels}`."""

from __future__ import annotations

from pathlib import Path

import yaml


def load_prompts(folder: str | Path) -> dict[str, list[str]]:
    """Language → templates, validated (every template has exactly one `{speech}`)."""
    folder = Path(folder)
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise FileNotFoundError(f"no <lang>.yaml prompt files in {folder}")
    out: dict[str, list[str]] = {}
    for file in files:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        templates = data.get("instructions")
        if not isinstance(templates, list) or not templates:
            raise ValueError(f"{file}: field `instructions` must be a non-empty list of strings")
        for i, t in enumerate(templates):
            if not isinstance(t, str) or t.count("{speech}") != 1:
                raise ValueError(f"{file}: instructions[{i}] must be a string with exactly one {{speech}}")
        out[str(data.get("lang") or file.stem)] = templates
    return out


def split_template(template: str, labels: tuple[str, ...]) -> tuple[str, str]:
    """The text before and after the speech tokens, with `{labels}` filled in."""
    before, after = template.split("{speech}")
    joined = ", ".join(labels)
    return before.replace("{labels}", joined), after.replace("{labels}", joined)

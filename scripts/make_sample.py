"""Cut the small text sample under `data/sample/` that `make demo` builds from.

Run from the repo root with the full corpora beside it (``../shared/data/text``):
``python scripts/make_sample.py ../shared/data/text data/sample``. For every XED file and
label id it keeps the first `PER_LABEL` lines that carry that single label, so the sample
keeps the upstream line format (and its quirks) unchanged. See data/sample/SOURCE.md.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

PER_LABEL = 70
XED_FILES = {
    "AnnotatedData/en-annotated.tsv": "labels_last",
    "AnnotatedData/neu_en.txt": "neutral",
    **{f"Projections/{code}-projections.tsv": "labels_last" for code in ("de", "fr", "es", "it", "cn", "ru", "ja")},
}
GOEMOTIONS_FILES = ["ekman_7/train.tsv"]


def cut_xed(src: Path, dst: Path) -> None:
    for rel, kind in XED_FILES.items():
        counts: dict[str, int] = defaultdict(int)
        keep = []
        for line in (src / "xed" / rel).read_text(encoding="utf-8").splitlines():
            cols = line.split("\t")
            if len(cols) != 2:
                continue
            label = cols[0] if kind == "neutral" else cols[1].strip()
            limit = PER_LABEL * 2 if kind == "neutral" else PER_LABEL
            if "," in label or counts[label] >= limit:
                continue
            counts[label] += 1
            keep.append(line)
        out = dst / "xed" / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(keep) + "\n", encoding="utf-8")


def cut_goemotions(src: Path, dst: Path) -> None:
    root = src / "goemotions" / "ekman_7"
    out = dst / "goemotions"
    out.mkdir(parents=True, exist_ok=True)
    (out / "labels.txt").write_text((root / "labels.txt").read_text(encoding="utf-8"), encoding="utf-8")
    lines = (root / "train.tsv").read_text(encoding="utf-8").splitlines()
    counts: dict[str, int] = defaultdict(int)
    keep = [lines[0]]
    for line in lines[1:]:
        cols = line.split("\t")
        if len(cols) == 3 and "," not in cols[1] and counts[cols[1]] < PER_LABEL:
            counts[cols[1]] += 1
            keep.append(line)
    (out / "train.tsv").write_text("\n".join(keep) + "\n", encoding="utf-8")


if __name__ == "__main__":
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    cut_xed(source, target)
    cut_goemotions(source, target)

"""Inputs of the domain adversary: real speech without labels against the synthetic training clips.

The real side is each `data.unlabeled` folder, normalized with its own statistics (as a test
corpus is at evaluation). The synthetic side is every training clip band-limited to the lowest
sample rate of that real speech (8 kHz for telephone prompts), normalized per training group:
otherwise the missing upper band alone would tell the domains apart, and the encoder would
learn nothing but to hide it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from m5ser import audio
from m5ser.schema import SAMPLE_RATE

from .config import Stage1Config
from .data import Clip, crop, load_unlabeled
from .features import GroupStats, normalized_features


@dataclass
class DomainInputs:
    """Normalized model inputs for the domain adversary."""

    real: list[np.ndarray]
    synthetic: dict[str, np.ndarray]  # training clip id -> its band-limited input
    rate: int  # the band the synthetic clips were limited to (Hz sample rate)
    counts: dict[str, int]  # real clips per unlabeled folder
    short: dict[str, int]  # files per folder left out as shorter than 1 s


def band_limit(samples: np.ndarray, rate: int) -> np.ndarray:
    """`samples` (16 kHz) through a `rate` Hz channel and back; unchanged when `rate` >= 16 kHz."""
    if rate >= SAMPLE_RATE:
        return samples
    return audio.resample(audio.resample(samples, SAMPLE_RATE, rate), rate, SAMPLE_RATE)[: len(samples)]


def build_domain_inputs(
    cfg: Stage1Config,
    clips: list[Clip],
    extract: Callable[[np.ndarray], np.ndarray],
    group_of: Callable[[Clip], str | None],
    progress: bool = False,
) -> DomainInputs:
    """Read `cfg.data.unlabeled` and extract both sides' features (cached by the extractor)."""
    max_samples = int(cfg.data.max_duration_s * SAMPLE_RATE)
    folders = [
        load_unlabeled(f, cfg.data.trim, max_clips=cfg.data.unlabeled_max_clips, seed=cfg.seed)
        for f in cfg.data.unlabeled
    ]
    rate = min(f.native_rate for f in folders)
    real: list[np.ndarray] = []
    for folder in tqdm(folders, desc="unlabeled speech", disable=not progress, leave=False):
        cropped = [crop(c, max_samples, None) for c in folder.clips]
        real.extend(normalized_features(cropped, extract, [folder.name] * len(cropped)))
    it = tqdm(clips, desc="band-limited features", disable=not progress, leave=False)
    feats = [extract(band_limit(crop(c.audio, max_samples, None), rate)) for c in it]
    groups = [group_of(c) for c in clips]
    stats = GroupStats.fit(feats, groups)
    synthetic = {c.id: stats.apply(f, g) for c, f, g in zip(clips, feats, groups, strict=True)}
    counts = {f.name: len(f.clips) for f in folders}
    return DomainInputs(real, synthetic, rate, counts, {f.name: f.n_short for f in folders})

"""DNSMOS P.835 (Microsoft's non-intrusive MOS; the ONNX models ship in `speechmos`) per clip.

Adds ``dnsmos_sig`` (speech quality), ``dnsmos_bak`` (background), ``dnsmos_ovrl`` (overall)
and ``dnsmos_p808`` (P.808 MOS), each on the 1–5 scale. DNSMOS scores 9 s windows: a shorter
clip is repeated to fill one (speechmos's own rule). Filter with ``metric_filter`` (e.g.
``{metric: dnsmos_ovrl, min: 2.5, reason: low_mos}``).

Model: Reddy et al., "DNSMOS P.835", ICASSP 2022; weights from microsoft/DNS-Challenge (via
the speechmos package).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from m5ser import audio
from m5ser.registry import require
from m5ser.schema import Utterance
from m5ser.steps import Annotator, NoParams

SAMPLE_RATE = 16_000


def dnsmos_metrics(samples: np.ndarray) -> dict[str, float]:
    """DNSMOS P.835 and P.808 of one 16 kHz clip."""
    dnsmos = require("speechmos.dnsmos", "quality")
    samples = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    if not np.any(samples):
        raise ValueError("DNSMOS of an all-zero clip is undefined")
    scores = dnsmos.run(samples, SAMPLE_RATE)
    return {
        f"dnsmos_{k.removesuffix('_mos')}": round(float(scores[k]), 3)
        for k in ("sig_mos", "bak_mos", "ovrl_mos", "p808_mos")
    }


class DnsmosAnnotator(Annotator):
    """Adds DNSMOS P.835 sig/bak/ovrl and P.808 to ``metrics`` (an all-zero clip gets none)."""

    name = "dnsmos"
    Params = NoParams
    stage = "clip"

    def measure(self, utt: Utterance) -> dict[str, Any]:
        samples = audio.load(utt.audio_path, SAMPLE_RATE)
        if not np.any(samples):
            self.counts["dnsmos_silent"] += 1
            return {}
        return dnsmos_metrics(samples)

"""A filter on any metric an earlier step annotated: thresholds as recipe data."""

from __future__ import annotations

import re
from dataclasses import dataclass

from m5ser.config import RecipeError
from m5ser.schema import Utterance
from m5ser.steps import Filter

_REASON = re.compile(r"^[a-z0-9_]+$")


@dataclass(frozen=True)
class MetricThreshold:
    metric: str  # a key of `metrics` (or "duration_s", the clip's duration)
    reason: str  # the drop reason (lowercase letters, digits, underscores: a file name in removed/)
    min: float | None = None  # drop if the value < min
    max: float | None = None  # drop if the value > max
    missing: str = "error"  # a clip without the metric: "error", "keep" or "drop"

    def thresholds(self) -> dict[str, list[float]]:
        """Metric -> threshold values (drawn on the report's histograms)."""
        return {self.metric: [v for v in (self.min, self.max) if v is not None]}


class MetricFilter(Filter):
    """Drops a clip whose metric is below ``min`` (strict ``<``) or above ``max`` (strict ``>``).

    A clip without the metric raises (``missing: error``, the default: a step is missing
    from the recipe), is kept (``keep``) or is dropped with the same reason (``drop``).
    """

    name = "metric_filter"
    Params = MetricThreshold

    def __init__(self, params: MetricThreshold | None = None, ctx=None) -> None:
        super().__init__(params, ctx)
        p = self.params
        if not _REASON.match(p.reason):
            raise RecipeError(f"metric_filter.reason: '{p.reason}' must be lowercase letters, digits, underscores")
        if p.min is None and p.max is None:
            raise RecipeError("metric_filter: set min, max or both")
        if p.missing not in ("error", "keep", "drop"):
            raise RecipeError("metric_filter.missing: expected error, keep or drop")

    def reason(self, utt: Utterance) -> str | None:
        p = self.params
        value = utt.duration_s if p.metric == "duration_s" else utt.metrics.get(p.metric)
        if value is None:
            if p.missing == "error":
                raise KeyError(f"clip {utt.id}: metric '{p.metric}' is missing (no step before this filter adds it)")
            return p.reason if p.missing == "drop" else None
        too_low = p.min is not None and value < p.min
        too_high = p.max is not None and value > p.max
        return p.reason if too_low or too_high else None

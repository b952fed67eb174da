"""Anomaly detection on metric series: pure numpy and scipy, no I/O.

Usage::

    from detectors import DetectorSettings, evaluate

    result = evaluate(timestamps, values, now=now, settings=DetectorSettings(window=300))
    if result.status == "anomaly" and result.tier == "high":
        print(result.anomaly.kind, result.deviation, result.p_value)

`evaluate(timestamps, values, *, now, settings)` takes float64 unix seconds (ascending, possibly
irregular) and float64 values. NaN, +Inf and -Inf count as missing, and points after `now` are
ignored. The alert window is (now - window, now] and the baseline is
[now - window - baseline_offset - baseline, now - window - baseline_offset).

It returns an `Evaluation`:

- `status` "anomaly", "normal" or "skipped". A skip carries a `reason`: "no data" (no finite
  point in the window), "insufficient history" (fewer than `min_samples` finite baseline
  points) or "no variance" (a flat baseline). A skip never raises and never warns.
- `current` (window mean), `expected` (baseline expectation), `baseline_mean`, `baseline_std`,
  `deviation` (signed, in baseline sigma), `p_value` and `tier`.
- `anomaly`, set only for status "anomaly": an `Anomaly` with `kind` ("spike" above the upper
  bound, "drop" below the lower bound), `shape` for spikes ("burst" under 5 minutes,
  "sustained" over 15 minutes, else None), `direction`, `start`, `duration`, `amplitude`,
  `deviation` and detector-specific `details`.

A window is an anomaly when its deviation crosses the bound in the configured direction and
its tier is not "low". `tier_for(p)` returns "high" for p < 0.01, "medium" for p < 0.05, else
"low".

The p-value is empirical: the window statistic ranked among the same statistic over every
window of equal width in the baseline, with a generalised Pareto tail beyond the sample
(see `detectors._pvalues`). It does not assume normal or independent points, but it does assume
that the baseline's windows and the current window share one distribution.

Detectors (`DETECTOR_NAMES`):

- `sigma`: the PromQL rule (avg_over_time(x[window]) - avg_over_time(x[baseline] offset
  window)) / stddev_over_time(x[baseline] offset window), for metrics without seasonality.
"""

from detectors._batch import BatchEvaluation, SigmaBank, evaluate_many
from detectors._engine import evaluate
from detectors._pvalues import adjust_p_values
from detectors._results import Anomaly, Evaluation, tier_for
from detectors._settings import DETECTOR_NAMES, DetectorSettings

__all__ = [
    "DETECTOR_NAMES",
    "Anomaly",
    "BatchEvaluation",
    "SigmaBank",
    "evaluate_many",
    "DetectorSettings",
    "Evaluation",
    "adjust_p_values",
    "evaluate",
    "tier_for",
]

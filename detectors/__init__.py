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
  points) or "no variance" (a flat baseline). A skip is a result, not an exception.
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

Detectors (`DETECTOR_NAMES`; `DetectorSettings.for_detector(name)` applies each one's defaults):

- `sigma`: the PromQL rule (avg_over_time(x[window]) - avg_over_time(x[baseline] offset
  window)) / stddev_over_time(x[baseline] offset window), for metrics without seasonality.
- `mad`: distance from the baseline median in robust sigma (1.4826 * MAD), default k = 2.5.
- `iqr`: Tukey's fences Q1 - k * IQR and Q3 + k * IQR, default k = 1.5.
- `seasonal`: residuals from a daily or weekly median profile in the monitor's time zone,
  chosen from the baseline's autocorrelation when `seasonality` is "auto".
- `trend`: the window's slope against the slopes of the baseline's windows. `details` gives
  the slope per hour and, with `capacity`, the seconds until the capacity is reached.
- `oscillation`: new or stronger periodic movement, from the window's spectrum against the
  baseline's (scipy.signal.periodogram). Needs a window of 16 sampling steps or more.
- `drop`: `sigma` on the lower side only, default lower bound 2 sigma.
- `ensemble`: three tests on one baseline with a Bonferroni-combined p-value: the `seasonal`
  window test, the same residuals over a window 12 times as wide (at least an hour), and a
  distribution-free test of the raw window mean against the baseline's range. `details`
  names the deciding test.

Datadog-style names map onto these:

- `basic` -> `iqr`: quantile bounds on a lagging baseline, no seasonality.
- `agile` -> `seasonal`, re-levelled to the hour (or 4 windows) before the window, so it
  follows level shifts quickly.
- `robust` -> `seasonal`: a median profile that a long anomaly in the baseline barely moves.
- `adaptive` -> `mad` on only the last day of the baseline, so it follows recent behaviour.

Other entry points:

- `adjust_p_values(p)`: Benjamini-Hochberg adjusted p-values across the series of one cycle.
  Tiering on the adjusted value is the recommended default for callers with many series.
- `SigmaBank` and `evaluate_many`: the `sigma` detector over a (series x steps) array on a
  regular grid, kept up to date with running sums (`SigmaBank.append`, one column per step).
  `SeasonalBank` does the same on residuals from a daily profile, or a weekly one with
  `seasonality="weekly"` and 14 days or more of history, fitted to the detrended values and
  re-levelled to the last day's median at each rebuild. `conservative_tail=True` on either
  bank gives larger p-values beyond the null sample, closer to calibrated at the 1e-5 that
  Benjamini-Hochberg over thousands of series needs (see `detectors._pvalues`).
- `Exclusions` and `evaluate(..., excluded=...)`: the points of a strong, short anomaly
  (p under 1e-4, under 2 hours) stay out of later baselines, so a second spike of the same
  size is not hidden by the first.
- `replay(timestamps, values, settings=...)`: causal replay of one series, one evaluation per
  point, with exclusions; `ReplayResult.anomaly_scores()` turns it into scores in [0, 1] for backtests, and
  `anomaly_scores(memory=seconds)` scores a point only when its evidence -log10(p) beats the
  last scored point's, decayed with that time constant, and within one anomaly run beats the
  run's last scored evidence by a fifth.
"""

from detectors._batch import BatchEvaluation, SigmaBank, evaluate_many
from detectors._batch_seasonal import SeasonalBank
from detectors._engine import evaluate
from detectors._exclusions import Exclusions
from detectors._pvalues import adjust_p_values
from detectors._replay import ReplayResult, replay
from detectors._results import Anomaly, Evaluation, tier_for
from detectors._settings import DETECTOR_NAMES, DetectorSettings

__all__ = [
    "DETECTOR_NAMES",
    "Anomaly",
    "BatchEvaluation",
    "DetectorSettings",
    "Evaluation",
    "Exclusions",
    "ReplayResult",
    "SeasonalBank",
    "SigmaBank",
    "adjust_p_values",
    "evaluate",
    "evaluate_many",
    "replay",
    "tier_for",
]

"""Numbers for the playbook steps, computed from a series and its evaluation.

`step_fields` returns the values a playbook template may name, already
formatted for people, so templates stay plain text.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np

from bot.durations import format_duration
from bot.incident import Incident
from bot.monitors import Monitor
from bot.sources.base import DataQuality
from detectors import Evaluation

HOUR = 3600.0

STEP_FIELDS = frozenset({
    "monitor", "query", "detector", "tier", "window", "threshold", "baseline_span",
    "hour_mean", "hour_min", "hour_max", "hour_change", "hour_points", "hour_outside",
    "band_low", "band_high", "baseline_mean", "baseline_std", "baseline_points",
    "current", "expected", "deviation", "peak_deviation", "p_value",
    "anomaly_start", "anomaly_duration", "spike_shape", "amplitude", "amplitude_pct",
    "trend_rate", "trend_capacity", "data_quality",
    # Filled in by bot.step_context from the store, the monitor and the escalation matrix.
    "related_anomalies", "validation_queries", "escalation_plan", "suggested_rule",
    # Filled in from the root-cause analysis when the incident opens.
    "dimension_table",
})


def format_number(value: float) -> str:
    """Format a metric value with four significant digits; `n/a` for NaN."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e6 or magnitude < 1e-3:
        return f"{value:.3e}"
    digits = max(0, 3 - int(math.floor(math.log10(magnitude))))
    return f"{value:,.{digits}f}"


def format_p_value(p_value: float) -> str:
    if p_value < 1e-4:
        return "< 0.0001"
    return f"{p_value:.4f}"


def format_p(p_value: float) -> str:
    """Format a p-value with its symbol: `p < 0.0001` or `p = 0.0123`."""
    text = format_p_value(p_value)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def format_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _percent_change(value: float, reference: float) -> str:
    if not math.isfinite(value) or not math.isfinite(reference) or reference == 0:
        return "n/a"
    return f"{(value - reference) / abs(reference) * 100:+.1f}%"


def step_fields(
    *,
    monitor: Monitor,
    incident: Incident,
    evaluation: Evaluation,
    timestamps: np.ndarray,
    values: np.ndarray,
    now: float,
) -> dict[str, str]:
    """Compute every STEP_FIELDS value for one incident at time `now`."""
    detector = monitor.detector
    settings = detector.to_settings()
    threshold = settings.threshold
    lower = settings.lower_bound

    in_hour = (timestamps > now - HOUR) & (timestamps <= now) & np.isfinite(values)
    hour = values[in_hour]
    has_hour = hour.size > 0
    band_low = evaluation.expected - lower * evaluation.baseline_std
    band_high = evaluation.expected + threshold * evaluation.baseline_std
    outside = int(np.count_nonzero((hour < band_low) | (hour > band_high))) if has_hour else 0

    baseline_end = now - detector.window - detector.baseline_offset
    in_baseline = (
        (timestamps >= baseline_end - detector.baseline)
        & (timestamps < baseline_end)
        & np.isfinite(values)
    )

    duration = max(0.0, incident.last_anomalous_at - incident.anomaly_start)
    amplitude = evaluation.current - evaluation.expected
    details = evaluation.anomaly.details if evaluation.anomaly else {}

    return {
        "monitor": monitor.name,
        "query": monitor.query,
        "detector": evaluation.detector,
        "tier": incident.tier,
        "window": format_duration(detector.window),
        "threshold": f"{threshold:g}",
        "baseline_span": format_duration(detector.baseline),
        "hour_mean": format_number(float(hour.mean())) if has_hour else "n/a",
        "hour_min": format_number(float(hour.min())) if has_hour else "n/a",
        "hour_max": format_number(float(hour.max())) if has_hour else "n/a",
        "hour_change": _percent_change(float(hour.mean()), evaluation.baseline_mean) if has_hour else "n/a",
        "hour_points": str(int(hour.size)),
        "hour_outside": str(outside),
        "band_low": format_number(band_low),
        "band_high": format_number(band_high),
        "baseline_mean": format_number(evaluation.baseline_mean),
        "baseline_std": format_number(evaluation.baseline_std),
        "baseline_points": f"{int(np.count_nonzero(in_baseline)):,}",
        "current": format_number(evaluation.current),
        "expected": format_number(evaluation.expected),
        "deviation": f"{evaluation.deviation:+.2f}",
        "peak_deviation": f"{incident.peak_deviation:+.2f}",
        "p_value": format_p_value(evaluation.p_value),
        "anomaly_start": format_time(incident.anomaly_start),
        "anomaly_duration": format_duration(duration),
        "spike_shape": _spike_shape(duration),
        "amplitude": format_number(amplitude),
        "amplitude_pct": _percent_change(evaluation.current, evaluation.expected),
        "trend_rate": _trend_rate(details),
        "trend_capacity": _trend_capacity(details),
        "data_quality": _hour_quality(timestamps, values, now=now, step=monitor.resolution),
    }


def _hour_quality(timestamps: np.ndarray, values: np.ndarray, *, now: float, step: float) -> str:
    """Describe the last hour's completeness; gaps and NaN are data quality, never a deviation."""
    inside = (timestamps > now - HOUR) & (timestamps <= now)
    expected = max(1, int(round(HOUR / step)))
    received = int(np.count_nonzero(inside))
    non_finite = int(np.count_nonzero(inside & ~np.isfinite(values)))
    return DataQuality(expected=expected, received=min(received, expected), non_finite=non_finite).describe()


def _spike_shape(duration: float) -> str:
    if duration < 5 * 60:
        return "a burst (under 5 minutes so far)"
    if duration > 15 * 60:
        return "sustained (over 15 minutes)"
    return "between a burst and a sustained spike (5 to 15 minutes)"


def _trend_rate(details: dict) -> str:
    slope = details.get("slope_per_hour")
    if isinstance(slope, int | float) and math.isfinite(slope):
        return f"{format_number(float(slope))} per hour"
    return "not measured by this detector"


def _trend_capacity(details: dict) -> str:
    seconds = details.get("time_to_capacity")
    if isinstance(seconds, int | float) and math.isfinite(seconds):
        return f"the configured capacity is reached in about {format_duration(float(seconds))}"
    return "no capacity limit set on this monitor, or not approaching it"

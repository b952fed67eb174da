"""Monitor settings that every detector reads, and the list of detector names."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Detectors implemented in this package, then the Datadog-style aliases that map onto them.
DETECTOR_NAMES: tuple[str, ...] = (
    "sigma",
    "mad",
    "iqr",
    "seasonal",
    "trend",
    "oscillation",
    "drop",
    "basic",
    "agile",
    "robust",
    "adaptive",
    "ensemble",
)

DIRECTIONS = ("above", "below", "both")
SEASONALITIES = ("auto", "daily", "weekly", "none")
# Maximum default warm-up of a new series (see `DetectorSettings.required_history`).
DEFAULT_MAX_WARM_UP = 86400.0

# Fits of the p-values' tail beyond the baseline's null sample (see detectors._pvalues).
TAILS = ("point", "conservative")

# Bound that each detector uses when built with `DetectorSettings.for_detector`: sigma for the
# mean-based detectors, k times the MAD scale for `mad`, k times the IQR for `iqr`.
DEFAULT_THRESHOLDS: dict[str, float] = {
    "sigma": 3.0,
    "mad": 2.5,
    "iqr": 1.5,
    "seasonal": 3.0,
    "trend": 3.0,
    "oscillation": 3.0,
    "drop": 3.0,
    "basic": 1.5,
    "agile": 3.0,
    "robust": 3.0,
    "adaptive": 2.5,
    "ensemble": 3.0,
}
DEFAULT_LOWER_THRESHOLDS: dict[str, float] = {"drop": 2.0}


@dataclass(frozen=True)
class DetectorSettings:
    """Settings of one monitor's detector.

    Times are in seconds. The alert window is (now - window, now] and the baseline is
    [now - window - baseline_offset - baseline, now - window - baseline_offset), so the
    window's points are never part of their own baseline.

    `threshold` is in baseline sigma for the mean-based detectors and is the factor k for
    `mad` and `iqr`. The plain constructor keeps 3.0 for every detector, and
    `DetectorSettings.for_detector(name)` starts from that detector's own defaults.
    `min_fraction` = 0 tests the window mean. Above 0, the window counts as anomalous only
    when at least that fraction of its points lies beyond the bound.

    `min_history` is the history (seconds before the baseline's end) a series needs before it
    is evaluated; None takes a quarter of the baseline, at most a day (`required_history`).

    `tail` = "point" extrapolates p-values beyond the null sample with the point estimate of
    the Pareto tail's shape; "conservative" fits the far tail and raises the shape by its
    standard error, which keeps p-values near 1e-5 calibrated. Use it for queries with hundreds
    of series or more, whose Benjamini-Hochberg adjustment needs p-values that far out.
    """

    detector: str = "sigma"
    window: float = 300.0
    baseline: float = 7 * 86400.0
    baseline_offset: float = 0.0
    threshold: float = 3.0
    lower_threshold: float | None = None
    direction: str = "both"
    min_fraction: float = 0.0
    min_samples: int = 100
    seasonality: str = "auto"
    timezone: str = "UTC"
    capacity: float | None = None
    tail: str = "point"
    min_history: float | None = None

    def __post_init__(self) -> None:
        _check_choice("detector", self.detector, DETECTOR_NAMES)
        _check_choice("direction", self.direction, DIRECTIONS)
        _check_choice("seasonality", self.seasonality, SEASONALITIES)
        _check_choice("tail", self.tail, TAILS)
        _check_positive("window", self.window)
        _check_positive("baseline", self.baseline)
        _check_positive("threshold", self.threshold)
        if self.lower_threshold is not None:
            _check_positive("lower_threshold", self.lower_threshold)
        if not (math.isfinite(self.baseline_offset) and self.baseline_offset >= 0):
            raise ValueError(
                f"invalid baseline_offset {self.baseline_offset!r}: "
                "use a number of seconds >= 0 (0 = the baseline ends where the window starts)"
            )
        if not 0.0 <= self.min_fraction <= 1.0:
            raise ValueError(
                f"invalid min_fraction {self.min_fraction!r}: use a fraction between 0 and 1 (0 = test the window mean)"
            )
        if isinstance(self.min_samples, bool) or not isinstance(self.min_samples, int) or (self.min_samples < 1):
            raise ValueError(f"invalid min_samples {self.min_samples!r}: use a whole number of points >= 1")
        if self.min_history is not None and not (math.isfinite(self.min_history) and self.min_history >= 0):
            raise ValueError(f"invalid min_history {self.min_history!r}: use a number of seconds >= 0")
        if self.capacity is not None and not math.isfinite(self.capacity):
            raise ValueError(f"invalid capacity {self.capacity!r}: use a finite limit in the metric's units, or None")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(
                f"unknown timezone {self.timezone!r}: use an IANA name such as 'UTC' or 'Europe/Berlin'"
            ) from error

    @classmethod
    def for_detector(cls, detector: str, **overrides: object) -> DetectorSettings:
        """Build settings with the thresholds that suit `detector`, then apply `overrides`."""
        _check_choice("detector", detector, DETECTOR_NAMES)
        defaults: dict[str, object] = {"detector": detector}
        if detector in DEFAULT_THRESHOLDS:
            defaults["threshold"] = DEFAULT_THRESHOLDS[detector]
        if detector in DEFAULT_LOWER_THRESHOLDS:
            defaults["lower_threshold"] = DEFAULT_LOWER_THRESHOLDS[detector]
        defaults.update(overrides)
        return cls(**defaults)  # type: ignore[arg-type]

    @property
    def required_history(self) -> float:
        """Seconds of history before the baseline's end that a series needs before it is evaluated.

        `min_history`, or by default a quarter of the baseline and at most a day, so a new
        series waits until its baseline has seen a good part of the day's movement.
        """
        if self.min_history is not None:
            return self.min_history
        return min(self.baseline / 4.0, DEFAULT_MAX_WARM_UP)

    @property
    def conservative_tail(self) -> bool:
        """Whether p-values beyond the null sample use the conservative tail fit."""
        return self.tail == "conservative"

    @property
    def lower_bound(self) -> float:
        """Distance below the expectation that counts as anomalous (positive number)."""
        return self.threshold if self.lower_threshold is None else self.lower_threshold

    def with_changes(self, **changes: object) -> DetectorSettings:
        """Return a copy with `changes` applied and validated."""
        return replace(self, **changes)  # type: ignore[arg-type]


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}: use one of {', '.join(choices)}")


def _check_positive(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValueError(f"invalid {name} {value!r}: use a finite number > 0")

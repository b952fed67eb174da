"""Vectorised evaluation of a `sigma` monitor's series, with the bank kept between polls.

A query that returns many series is evaluated by one `SigmaBank` over all of them. The bank
lives in this process's memory and moves forward one column per new step. The windows in
Redis stay the durable state: a restart, another worker, a new set of series or a change of
exclusions rebuilds the bank from them.

Excluded points (see `detectors._exclusions`) are missing values in the bank's baseline. While
one is still in the alert window, the bank is rebuilt at every poll, so the point leaves the
baseline as it would for a single series. Exclusions are rare, so rebuilds are too.

The bank screens: a series whose window does not cross the bound with a p-value near the
medium tier gets its normal evaluation from the bank's figures. Any other series (crossing,
or skipped for a reason) is evaluated alone with `detectors.evaluate`, so its anomaly is
classified exactly as for a small query.
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.monitors import Monitor
from bot.sources.base import Series
from detectors import BatchEvaluation, DetectorSettings, Evaluation, SigmaBank

log = logging.getLogger(__name__)

# Below this many series the bank saves little: one series alone takes about 1 ms for a week of
# 1-minute points, one bank step about 0.06 ms per series, a rebuild about 2 ms per series.
MIN_SERIES = 20
# The bank keeps its window means in float32, so a p-value this close to the medium tier's
# 0.05 is checked with the single-series detector.
SCREEN_P_VALUE = 0.06
# Rebuild at least this often: the running sums drift by float64 rounding.
MAX_BANK_AGE = 86400.0


@dataclass(frozen=True)
class BankInput:
    """One series of a poll: its fingerprint, stored window and excluded timestamps."""

    fingerprint: str
    window: Series
    excluded: np.ndarray


@dataclass
class _Bank:
    bank: SigmaBank
    settings: DetectorSettings
    step: float
    fingerprints: tuple[str, ...]
    exclusions: int
    built_at: float
    # False while an excluded point is in the window: it must leave the bank's baseline later.
    reusable: bool


class SigmaBanks:
    """One `SigmaBank` per qualifying monitor, kept between its polls."""

    def __init__(self) -> None:
        self._banks: dict[str, _Bank] = {}

    def qualifies(self, monitor: Monitor, count: int) -> bool:
        """Return whether a bank evaluates the monitor's `count` series in this poll."""
        detector = monitor.detector
        return detector.name == "sigma" and detector.min_fraction == 0.0 and count >= MIN_SERIES

    def screen(
        self, monitor: Monitor, inputs: Sequence[BankInput], *, end: float, now: float
    ) -> list[Evaluation | None]:
        """Return each series' evaluation at `end`, or None where it needs its own.

        `end` is the poll's last step (`now` rounded down to the step), where the poller
        evaluates every series; `now` is reported as the evaluation time.
        """
        step = monitor.resolution
        settings = monitor.detector.to_settings()
        fingerprints = tuple(item.fingerprint for item in inputs)
        exclusions = _exclusions_key(inputs)
        cached = self._banks.get(monitor.name)

        result = None
        if (cached is not None and cached.reusable and cached.fingerprints == fingerprints
                and cached.exclusions == exclusions and cached.settings == settings and cached.step == step):
            result = self._advance(cached, inputs, end=end, step=step)
        if result is None:
            result = self._rebuild(monitor, inputs, settings, end=end, fingerprints=fingerprints,
                                   exclusions=exclusions)

        evaluations: list[Evaluation | None] = []
        for row in range(len(inputs)):
            alone = (
                result.status[row] == "skipped"
                or bool(result.crossed[row])
                or not result.p_value[row] >= SCREEN_P_VALUE
            )
            evaluations.append(None if alone else _normal(result, row, detector=settings.detector, now=now))
        return evaluations

    def _advance(
        self, cached: _Bank, inputs: Sequence[BankInput], *, end: float, step: float
    ) -> BatchEvaluation | None:
        """Append the steps after the bank's last one, or return None when it must be rebuilt."""
        bank = cached.bank
        steps = round((end - bank.now) / step)
        on_grid = abs(bank.now + steps * step - end) <= 1e-6 * step
        if not on_grid or steps < 1 or steps > bank.span // 2 or end - cached.built_at > MAX_BANK_AGE:
            return None

        result = None
        for _ in range(steps):
            stamp = bank.now + step
            result = bank.append(stamp, np.array([_value_at(item, stamp) for item in inputs]))
        return result

    def _rebuild(
        self, monitor: Monitor, inputs: Sequence[BankInput], settings: DetectorSettings, *, end: float,
        fingerprints: tuple[str, ...], exclusions: int,
    ) -> BatchEvaluation:
        step = monitor.resolution
        steps = int(math.ceil(monitor.history_span() / step)) + 1
        grid = end - step * np.arange(steps - 1, -1, -1, dtype=np.float64)
        # Exclusions leave the baseline only; the window and the offset before it keep their points.
        baseline_end = end - settings.window - settings.baseline_offset
        history = np.full((len(inputs), steps), np.nan)
        for row, item in enumerate(inputs):
            history[row] = _on_grid(item, grid, step, excluded=item.excluded[item.excluded <= baseline_end])
        reusable = not any(np.any(item.excluded > baseline_end) for item in inputs)

        bank = SigmaBank.from_history(grid, history, settings=settings)
        self._banks[monitor.name] = _Bank(bank=bank, settings=settings, step=step, fingerprints=fingerprints,
                                          exclusions=exclusions, built_at=end, reusable=reusable)
        log.info("monitor %s: rebuilt the sigma bank of %d series on %d steps", monitor.name, len(inputs), steps)
        return bank.evaluate()


def _on_grid(item: BankInput, grid: np.ndarray, step: float, *, excluded: np.ndarray) -> np.ndarray:
    """Return the series' values at the grid's times, NaN where missing or `excluded`."""
    row = np.full(grid.size, np.nan)
    times = item.window.timestamps
    values = np.where(np.isin(times, excluded), np.nan, item.window.values)
    position = np.rint((times - grid[0]) / step).astype(np.int64)
    on_grid = (position >= 0) & (position < grid.size) & (np.abs(grid[0] + position * step - times) < 1e-6 * step)
    row[position[on_grid]] = values[on_grid]
    return np.where(np.isfinite(row), row, np.nan)


def _value_at(item: BankInput, stamp: float) -> float:
    """Return the series' value at a new step; a bank that advances has no exclusions this recent."""
    times = item.window.timestamps
    index = int(np.searchsorted(times, stamp))
    if index < times.size and abs(times[index] - stamp) < 1e-6:
        value = float(item.window.values[index])
        return value if math.isfinite(value) else math.nan
    return math.nan


def _exclusions_key(inputs: Sequence[BankInput]) -> int:
    """Return a checksum of every series' excluded timestamps; a change rebuilds the bank."""
    checksum = 0
    for item in inputs:
        checksum = zlib.crc32(np.ascontiguousarray(item.excluded, dtype=np.float64).tobytes(), checksum)
    return checksum


def _normal(result: BatchEvaluation, row: int, *, detector: str, now: float) -> Evaluation:
    """Build the normal evaluation of one screened series from the bank's figures."""
    return Evaluation(
        status="normal",
        reason=None,
        detector=detector,
        evaluated_at=now,
        current=float(result.current[row]),
        expected=float(result.expected[row]),
        baseline_mean=float(result.expected[row]),
        baseline_std=float(result.baseline_std[row]),
        deviation=float(result.deviation[row]),
        p_value=float(result.p_value[row]),
        tier=str(result.tier[row]),
    )

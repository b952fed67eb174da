"""Baseline exclusions: points of a strong, short anomaly stay out of later baselines.

A spike or a dip that the detector found is part of the baseline of every evaluation in
the next days. It widens the baseline's spread and its null sample, so a second anomaly of
the same size a day later looks ordinary. So the points of an alerting evaluation with a
p-value under EXCLUDE_P_VALUE are left out of later baselines while they are in range.

A run of such points that lasts longer than MAX_EXCLUDED_RUN is a change of level, not a
spike: its points go back into the baseline, so the baseline follows the new level.

Both limits were chosen on the NAB corpus (see benchmarks/README.md): runs of 30 minutes
and 1, 2 and 4 hours, p-values under 1e-3, 3e-4 and 1e-4.
"""

from __future__ import annotations

import bisect
import json
import math
from dataclasses import dataclass, field

import numpy as np

from detectors._results import Evaluation

EXCLUDE_P_VALUE = 1e-4
MAX_EXCLUDED_RUN = 7200.0


@dataclass
class Exclusions:
    """Timestamps left out of the baseline, and the anomaly run that is still growing.

    `times` contains the excluded timestamps of closed runs, ascending. `run` contains those
    of the current run of strong anomalous evaluations, which may still turn out to be a change
    of level.
    """

    times: list[float] = field(default_factory=list)
    run: list[float] = field(default_factory=list)

    def excluded(self) -> np.ndarray:
        """Return every excluded timestamp, ascending."""
        return np.array(sorted(self.times + self.run), dtype=np.float64)

    def record(self, evaluation: Evaluation, new_times: np.ndarray, *, oldest: float) -> None:
        """Update the exclusions with one evaluation and the timestamps it saw for the first time.

        `new_times` are the window's points that earlier evaluations did not see. Timestamps
        before `oldest` (the earliest any baseline still reaches) are dropped.
        """
        strong = evaluation.status == "anomaly" and evaluation.p_value < EXCLUDE_P_VALUE
        if strong:
            self.run.extend(float(stamp) for stamp in new_times if math.isfinite(stamp))
            if self.run and self.run[-1] - self.run[0] > MAX_EXCLUDED_RUN:
                # A change of level: its points are the new normal.
                self.run = []
        elif self.run:
            self.times = sorted(self.times + self.run)
            self.run = []

        if self.times and self.times[0] < oldest:
            del self.times[: bisect.bisect_left(self.times, oldest)]

    def to_json(self) -> str:
        return json.dumps({"times": self.times, "run": self.run})

    @classmethod
    def from_json(cls, text: str | bytes | None) -> Exclusions:
        """Rebuild from `to_json` output; None or an empty text gives no exclusions."""
        if not text:
            return cls()
        data = json.loads(text)
        return cls(times=[float(stamp) for stamp in data.get("times", [])],
                   run=[float(stamp) for stamp in data.get("run", [])])


def without_excluded(
    times: np.ndarray, values: np.ndarray, excluded: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Return the points whose timestamps are not in `excluded`."""
    if excluded is None or excluded.size == 0:
        return times, values
    keep = ~np.isin(times, excluded)
    return times[keep], values[keep]

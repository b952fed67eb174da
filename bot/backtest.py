"""`python -m bot backtest FILE.csv --out SCORES.csv`: replay a metric causally, score each row.

The input is a CSV file with a header and the columns `timestamp` and `value`; other columns
are ignored. A timestamp is unix seconds or an ISO 8601 date and time (UTC unless it carries
an offset), and an empty value or `NaN` is a missing point. Rows out of time order are
evaluated in time order.

Every row is evaluated at its own timestamp with only the rows up to that time, as the live
bot would have seen them. The output has one row per input row, in input order:
`timestamp,value,anomaly_score`, with the timestamp and value copied from the input. The score
is in [0, 1] and nonzero only at anomalous rows where the bot would alert. By default a row
scores 1 - exp(-e / 4) for its evidence e = -log10(p-value) when e exceeds the evidence of the
last scored row, decayed with the time constant `--memory` (one day), and within one
anomaly run exceeds the run's last scored evidence by a fifth. So a lasting anomaly scores
once, or again when its evidence clearly grows, and a repeat soon after needs stronger
evidence. With `--memory 0` a row scores 1 - p-value where an anomaly run's p-value reaches a
new low, else 0.

Invalid input (a missing file, missing columns, an unparsable timestamp or value) prints a
message naming the value and the fix, and returns exit code 2.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bot.durations import parse_duration
from detectors import DETECTOR_NAMES, DetectorSettings, replay
from detectors._replay import DEFAULT_MEMORY
from detectors._settings import SEASONALITIES, TAILS

EXIT_INVALID_INPUT = 2
# Files with at least this many rows get a progress bar on stderr.
PROGRESS_MIN_ROWS = 2000
DEFAULT_DETECTOR = "seasonal"
MISSING_VALUES = ("", "nan", "NaN", "NAN")


class InputError(Exception):
    """Invalid backtest input, with a message that names the value and the fix."""


@dataclass(frozen=True)
class Series:
    """Rows of the input file: parsed timestamps and values, and the original text."""

    timestamps: np.ndarray
    values: np.ndarray
    timestamp_text: list[str]
    value_text: list[str]


def main(argv: Sequence[str]) -> int:
    """Run the backtest with command-line arguments `argv` (those after `backtest`).

    Returns the exit code: 0 on success, 2 on invalid input or arguments.
    """
    arguments = list(argv)
    if arguments[:1] == ["backtest"]:
        arguments = arguments[1:]
    parser = _parser()
    try:
        options = parser.parse_args(arguments)
    except SystemExit as exit_request:
        return int(exit_request.code or 0)

    if not (math.isfinite(options.memory) and options.memory >= 0):
        print(
            f"backtest: error: invalid --memory {options.memory!r}: use a number of seconds >= 0",
            file=sys.stderr,
        )
        return EXIT_INVALID_INPUT
    if not (math.isfinite(options.refit_interval) and options.refit_interval > 0):
        print(
            f"backtest: error: invalid --refit-interval {options.refit_interval!r}: use a number of seconds > 0",
            file=sys.stderr,
        )
        return EXIT_INVALID_INPUT
    try:
        settings = DetectorSettings.for_detector(options.detector, **_overrides(options))
    except ValueError as error:
        print(f"backtest: error: {error}", file=sys.stderr)
        return EXIT_INVALID_INPUT

    try:
        series = read_series(Path(options.file))
    except InputError as error:
        print(f"backtest: error: {error}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    for note in order_notes(series.timestamps):
        print(f"backtest: note: {options.file}: {note}", file=sys.stderr)

    count = series.timestamps.size
    with tqdm(
        total=count,
        desc=f"backtest {Path(options.file).name}",
        unit="row",
        disable=count < PROGRESS_MIN_ROWS,
        file=sys.stderr,
    ) as bar:
        result = replay(
            series.timestamps,
            series.values,
            settings=settings,
            refit_interval=options.refit_interval,
            progress=bar.update,
        )
    scores = result.anomaly_scores(memory=options.memory or None)

    try:
        write_scores(Path(options.out), series, scores)
    except OSError as error:
        print(f"backtest: error: cannot write {options.out}: {error.strerror}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    alerts = int(np.count_nonzero(scores > 0.0))
    print(
        f"backtest: wrote {count} row(s) to {options.out} "
        f"({alerts} rows open or strengthen an anomaly, detector {settings.detector})",
        file=sys.stderr,
    )
    return 0


def order_notes(timestamps: np.ndarray) -> list[str]:
    """Return notes on rows out of time order and on repeated timestamps, which the replay accepts."""
    notes = []
    earlier = int(np.count_nonzero(timestamps[1:] < np.maximum.accumulate(timestamps)[:-1]))
    if earlier:
        notes.append(f"{earlier} row(s) are earlier than a row above them; they are evaluated in time order")
    repeated = int(timestamps.size - np.unique(timestamps).size)
    if repeated:
        notes.append(
            f"{repeated} row(s) repeat an earlier timestamp; each is evaluated with every point up to that "
            "time, so repeats see each other"
        )
    return notes


def read_series(path: Path) -> Series:
    """Read and parse the `timestamp,value` CSV file. Raises InputError on invalid input."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"input file not found: {path}: check the path") from None
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None

    with handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        missing = [name for name in ("timestamp", "value") if name not in columns]
        if missing:
            raise InputError(
                f"{path}: missing column(s) {', '.join(missing)} (found: "
                f"{', '.join(columns) or 'no header'}): the first line must be a header "
                "with the columns timestamp,value"
            )
        timestamps: list[float] = []
        values: list[float] = []
        timestamp_text: list[str] = []
        value_text: list[str] = []
        for row in reader:
            line = reader.line_num
            if row.get(None):
                raise InputError(
                    f"{path}, line {line}: {len(row[None])} more field(s) than the header's "
                    f"{len(columns)}: quote values that contain a comma, or add the column to the header"
                )
            stamp = (row.get("timestamp") or "").strip()
            raw_value = (row.get("value") or "").strip()
            timestamps.append(parse_timestamp(stamp, path=path, line=line))
            values.append(parse_value(raw_value, path=path, line=line))
            timestamp_text.append(stamp)
            value_text.append(raw_value)

    if not timestamps:
        raise InputError(f"{path}: no data rows after the header: add timestamp,value rows")
    return Series(
        timestamps=np.asarray(timestamps, dtype=np.float64),
        values=np.asarray(values, dtype=np.float64),
        timestamp_text=timestamp_text,
        value_text=value_text,
    )


def parse_timestamp(text: str, *, path: Path, line: int) -> float:
    """Parse unix seconds or an ISO 8601 date and time (UTC when it has no offset)."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds):
            return seconds
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"{path}, line {line}: invalid timestamp {text!r}: use unix seconds or ISO 8601 such as 2024-05-01 12:00:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_value(text: str, *, path: Path, line: int) -> float:
    """Parse a number. An empty field or NaN is a missing point (NaN)."""
    if text in MISSING_VALUES:
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise InputError(
            f"{path}, line {line}: invalid value {text!r}: use a number such as 12.5, "
            "or leave the field empty for a missing point"
        ) from None


def write_scores(path: Path, series: Series, scores: np.ndarray) -> None:
    """Write `timestamp,value,anomaly_score`, one row per input row."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["timestamp", "value", "anomaly_score"])
        for stamp, value, score in zip(series.timestamp_text, series.value_text, scores, strict=True):
            writer.writerow([stamp, value, f"{score:.6g}"])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot backtest",
        description="Replay a timestamp,value CSV causally and score each row for anomalies.",
    )
    parser.add_argument("file", help="input CSV with the columns timestamp,value")
    parser.add_argument("--out", required=True, help="output CSV: timestamp,value,anomaly_score")
    parser.add_argument(
        "--detector",
        choices=DETECTOR_NAMES,
        default=DEFAULT_DETECTOR,
        help=f"detector to replay (default: {DEFAULT_DETECTOR})",
    )
    parser.add_argument("--window", type=_duration, help="alert window: seconds or a duration such as 5m (default: 5m)")
    parser.add_argument(
        "--baseline", type=_duration, help="baseline length: seconds or a duration such as 7d (default: 7d)"
    )
    parser.add_argument("--threshold", type=float, help="bound in sigma, or k for mad and iqr (detector default)")
    parser.add_argument("--timezone", help="IANA time zone of seasonal profiles (default: UTC)")
    parser.add_argument(
        "--seasonality", choices=SEASONALITIES, help="profile of the seasonal detectors (default: auto)"
    )
    parser.add_argument("--tail", choices=TAILS, help="fit of the p-values' far tail (default: point)")
    parser.add_argument(
        "--memory",
        type=float,
        default=DEFAULT_MEMORY,
        help=(
            "time constant in seconds of the decaying memory of the last alert's evidence "
            f"(default: {DEFAULT_MEMORY:.0f}); 0 scores each new low of a run's p-value instead"
        ),
    )
    parser.add_argument(
        "--refit-interval",
        type=float,
        default=3600.0,
        help="seconds between baseline refits during the replay (default: 3600)",
    )
    return parser


def _duration(text: str) -> float:
    """Parse a --window or --baseline value: seconds or a duration such as 5m or 7d."""
    value: str | float = text
    try:
        value = float(text)
    except ValueError:
        pass

    try:
        return parse_duration(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _overrides(options: argparse.Namespace) -> dict[str, object]:
    names = ("window", "baseline", "threshold", "timezone", "seasonality", "tail")
    return {name: getattr(options, name) for name in names if getattr(options, name) is not None}

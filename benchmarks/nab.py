"""Score the backtest on the labelled NAB series with the standalone NAB scorer.

    .venv/bin/python -m benchmarks.nab [--detector seasonal] [--nab DIR] [--scorer FILE]

Runs `python -m bot backtest` on every data file under NAB_DIR/data (two files at a time),
writes the scores to RESULTS/<category>/<file>.csv, then runs the scorer with a corpus-wide
optimised threshold per profile and prints its report. The scorer needs pandas.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_NAB = Path("/work/shared/data/nab")
DEFAULT_SCORER = Path("/work/shared/tools/nab_score.py")
DEFAULT_RESULTS = ROOT / "out" / "nab"
WORKERS = 2


def run_file(data_file: Path, nab: Path, results: Path, detector: str, extra: list[str]) -> tuple[str, float]:
    """Run the backtest on one data file and return its relative name and run time."""
    relative = data_file.relative_to(nab / "data")
    out = results / relative
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    command = [
        sys.executable,
        "-m",
        "bot",
        "backtest",
        str(data_file),
        "--detector",
        detector,
        "--out",
        str(out),
        *extra,
    ]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"backtest failed on {relative}: {completed.stderr.strip()}")
    return str(relative), time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", default="seasonal", help="detector to replay")
    parser.add_argument("--nab", type=Path, default=DEFAULT_NAB, help="NAB root directory")
    parser.add_argument("--scorer", type=Path, default=DEFAULT_SCORER, help="nab_score.py")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="score directory")
    parser.add_argument("--baseline", type=float, help="baseline length in seconds (backtest default)")
    parser.add_argument("--window", type=float, help="alert window in seconds (backtest default)")
    parser.add_argument("--memory", type=float, help="scoring memory in seconds; 0 = per-run scores")
    options = parser.parse_args(argv)
    extra: list[str] = []
    for name in ("baseline", "window", "memory"):
        if getattr(options, name) is not None:
            extra += [f"--{name}", repr(getattr(options, name))]

    data_files = sorted((options.nab / "data").glob("*/*.csv"))
    if not data_files:
        print(f"no data files under {options.nab / 'data'}: pass --nab", file=sys.stderr)
        return 2
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        runs = list(
            pool.map(
                lambda path: run_file(path, options.nab, options.results, options.detector, extra),
                data_files,
            )
        )
    elapsed = time.perf_counter() - started
    rows = sum(1 for path in data_files for _ in path.open()) - len(data_files)
    print(
        f"backtest: {len(runs)} files, {rows} rows, {elapsed:.1f} s wall time "
        f"with {WORKERS} workers (detector {options.detector}{' ' if extra else ''}{' '.join(extra)})"
    )

    # The scorer accepts DIR/<category>/<file>.csv as one of its result layouts.
    command = [
        sys.executable,
        str(options.scorer),
        "--nab",
        str(options.nab),
        "--results",
        str(options.results),
        "--detector",
        options.detector,
        "--optimize",
    ]
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())

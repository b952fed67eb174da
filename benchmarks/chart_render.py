"""Time to render one incident chart (8 days of 1-minute points, the last hour drawn).

Run: .venv/bin/python -m benchmarks.chart_render [--runs 20]
Prints the median and the slowest render in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from bot.charts import ChartInput, render_chart


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="renders to time (default 20)")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    now = 1_800_000_000.0
    timestamps = np.arange(now - 8 * 86400, now, 60.0)
    values = 200 + 30 * np.sin(2 * np.pi * timestamps / 86400) + rng.normal(0, 5, timestamps.size)
    values[-20:] += 120
    chart = ChartInput("api-latency p99 {region=eu-west-1}", timestamps, values, now, 300.0, 200.0, 150.0, 250.0)

    render_chart(chart)  # the first render loads fonts
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        png = render_chart(chart)
        times.append((time.perf_counter() - started) * 1000)
    print(f"chart render: median {statistics.median(times):.0f} ms, max {max(times):.0f} ms over {args.runs} runs, "
          f"{len(png):,} bytes of PNG")


if __name__ == "__main__":
    main()

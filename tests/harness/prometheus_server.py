"""A real prometheus on a free loopback port, its history backfilled with promtool.

Backfilling writes OpenMetrics text and turns it into TSDB blocks with
`promtool tsdb create-blocks-from openmetrics`; the server then starts on
that data directory with a retention long enough to keep every block.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

from tests.harness.processes import LOOPBACK, free_port, require_binary, stop, wait_until

EMPTY_CONFIG = "global:\n  scrape_interval: 1h\n  evaluation_interval: 1h\nscrape_configs: []\n"


@dataclass(frozen=True)
class BackfillSeries:
    """One series to backfill: metric name, labels and samples."""

    metric: str
    labels: Mapping[str, str]
    timestamps: np.ndarray
    values: np.ndarray


def write_openmetrics(path: Path, series: Iterable[BackfillSeries]) -> None:
    """Write series as OpenMetrics text, one gauge family per metric name."""
    by_metric: dict[str, list[BackfillSeries]] = {}
    for entry in series:
        by_metric.setdefault(entry.metric, []).append(entry)

    with path.open("w", encoding="utf-8") as out:
        for metric, entries in by_metric.items():
            out.write(f"# TYPE {metric} gauge\n")
            for entry in entries:
                labels = ",".join(f'{name}="{value}"' for name, value in sorted(entry.labels.items()))
                selector = f"{metric}{{{labels}}}" if labels else metric
                for timestamp, value in zip(entry.timestamps, entry.values, strict=True):
                    out.write(f"{selector} {_sample(value)} {timestamp:.3f}\n")
        out.write("# EOF\n")


def _sample(value: float) -> str:
    if np.isnan(value):
        return "NaN"
    if np.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def backfill(data_dir: Path, series: Iterable[BackfillSeries]) -> None:
    """Create TSDB blocks for `series` in `data_dir` with promtool."""
    promtool = require_binary("promtool")
    data_dir.mkdir(parents=True, exist_ok=True)
    source = data_dir.parent / f"{data_dir.name}.om.txt"
    write_openmetrics(source, series)
    result = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(source), str(data_dir)],
        capture_output=True, text=True, timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"promtool backfill failed: {result.stderr.strip()[-2000:]}")
    source.unlink()


@dataclass
class PrometheusServer:
    process: subprocess.Popen
    port: int
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def stop(self) -> None:
        stop(self.process)


def start_prometheus(
    data_dir: Path, *, log_path: Path | None = None, config_text: str | None = None,
    extra_args: tuple[str, ...] = (),
) -> PrometheusServer:
    """Start prometheus on `data_dir`; retention is long so backfilled blocks stay.

    `config_text` replaces the default configuration (no scrape targets), for
    tests that add rule files and an Alertmanager.
    """
    binary = require_binary("prometheus")
    port = free_port()
    config = data_dir.parent / f"{data_dir.name}.prometheus.yml"
    config.write_text(config_text or EMPTY_CONFIG, encoding="utf-8")
    log_file = (log_path or data_dir.parent / f"{data_dir.name}.log").open("w")
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={data_dir}",
         "--storage.tsdb.retention.time=100y", f"--web.listen-address={LOOPBACK}:{port}",
         "--log.level=warn", *extra_args],
        stdout=log_file, stderr=subprocess.STDOUT,
    )
    log_file.close()
    server = PrometheusServer(process=process, port=port, data_dir=data_dir)

    def ready() -> bool:
        return httpx.get(f"{server.url}/-/ready", timeout=1).status_code == 200

    try:
        wait_until(ready, timeout=60, what="prometheus", process=process,
                   errors=(OSError, httpx.TransportError))
    except (TimeoutError, RuntimeError):
        server.stop()
        raise
    return server

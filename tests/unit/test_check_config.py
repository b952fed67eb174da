"""`python -m bot check-config FILE` as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.harness.processes import LOOPBACK, free_port

ROOT = Path(__file__).resolve().parent.parent.parent


def _check(path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", "check-config", str(path), *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "PROMETHEUS_URL": ""},
    )


def test_valid_file_listed(tmp_path):
    path = tmp_path / "monitors.yml"
    path.write_text(
        "monitors:\n  - {name: api-cpu, source: prometheus, query: up, interval: 30s, channel: '#ops'}\n"
    )
    result = _check(path)

    assert result.returncode == 0, result.stderr
    assert "1 monitor(s) valid" in result.stdout
    assert "api-cpu: prometheus every 30s -> #ops" in result.stdout
    assert "note: monitor 'api-cpu': source 'prometheus' is not configured; set PROMETHEUS_URL" in result.stdout


def test_invalid_file_exits_nonzero_naming_values(tmp_path):
    path = tmp_path / "monitors.yml"
    path.write_text(
        "monitors:\n"
        "  - {name: api-cpu, source: promethues, query: up, channel: '#ops'}\n"
        "  - {name: api-mem, source: prometheus, channel: '#ops', interval: 5 minutes}\n"
    )
    result = _check(path)

    assert result.returncode == 2
    assert f"{path}: 3 problem(s)" in result.stderr
    assert "monitor 'api-cpu' (entry 1): field 'source': 'promethues' is not a known source" in result.stderr
    assert "monitor 'api-mem' (entry 2): field 'query' is missing; add it" in result.stderr
    assert "monitor 'api-mem' (entry 2): field 'interval': '5 minutes' is not a duration" in result.stderr
    assert "Traceback" not in result.stderr


def test_probe_names_unreachable_source(tmp_path):
    url = f"http://{LOOPBACK}:{free_port()}"
    path = tmp_path / "monitors.yml"
    path.write_text(
        f"sources:\n  eu: {{type: prometheus, url: '{url}', timeout: 2s}}\n"
        "monitors:\n  - {name: api-cpu, source: eu, query: up, channel: '#ops'}\n"
    )
    result = _check(path, "--probe")

    assert result.returncode == 1
    assert f"source 'eu': Prometheus at {url} is unreachable" in result.stderr
    assert "check the URL and that the server is running" in result.stderr

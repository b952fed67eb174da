"""Severity from static, dynamic and seasonal thresholds, and routing by severity."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import PlaybookError
from bot.settings import PLAYBOOKS_DIR
from bot.severity import assess, load_policy

POLICY = load_policy(PLAYBOOKS_DIR / "severity.yml")


@pytest.mark.parametrize(
    ("metric_type", "current", "expected", "deviation", "tier", "severity", "reason"),
    [
        ("cpu", 96.0, 60.0, 5.0, "high", "P0", "static: cpu 96.0% above 90%"),
        ("cpu", 96.0, 60.0, 5.0, "medium", "P1", "static: cpu 96.0% above 90%"),
        ("memory", 94.0, 80.0, 4.0, "medium", "P2", "seasonal: +4.0σ"),
        ("disk", 88.0, 70.0, 3.5, "medium", "P1", "static: disk 88.0% above 85%"),
        ("latency", 320.0, 200.0, 4.0, "high", "P0", "dynamic: latency 1.6× the baseline"),
        ("latency", 280.0, 200.0, 4.0, "high", "P1", "seasonal: +4.0σ"),
        ("error_rate", 2.5, 1.0, 6.0, "medium", "P1", "dynamic: error rate 2.5× normal"),
        ("request_rate", 500.0, 800.0, -3.4, "high", "P0", "dynamic: request rate -3.4σ"),
        ("other", 10.0, 5.0, 3.2, "medium", "P2", "seasonal: +3.2σ"),
    ],
)
def test_assess(metric_type, current, expected, deviation, tier, severity, reason):
    assessed, reasons = assess(POLICY, metric_type=metric_type, current=current, expected=expected,
                               deviation=deviation, tier=tier)
    assert assessed == severity
    assert any(line.startswith(reason) for line in reasons), reasons


def test_policy_routing_loaded():
    assert POLICY.routing["P0"].page == "@oncall"
    assert POLICY.routing["P0"].war_room is True
    assert POLICY.routing["P1"].notify == "team"
    assert POLICY.static == {"cpu": 90.0, "memory": 95.0, "disk": 85.0}


def test_malformed_policy_names_field(tmp_path: Path):
    path = tmp_path / "severity.yml"
    path.write_text("dynamic: {latency_ratio: -1}\n")
    with pytest.raises(PlaybookError, match="dynamic.latency_ratio': -1 is not a positive number"):
        load_policy(path)

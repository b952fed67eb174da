"""Dimension shares, marks and the table text, from a replay source grouped locally."""

from __future__ import annotations

import numpy as np
import pytest

from bot.monitors import parse_monitors
from bot.rootcause.dimensions import break_down
from bot.rootcause.heatmap import render_heatmap, table_text
from bot.sources.replay import ReplaySource

STEP = 60.0
NOW = 1_717_250_400.0
ANOMALY_START = NOW - 600.0
# Change per (service, region): averaged by service a +3, b +1, c 0; by region x +2, y +2/3.
CHANGES = {("a", "x"): 4.0, ("a", "y"): 2.0, ("b", "x"): 2.0, ("b", "y"): 0.0, ("c", "x"): 0.0, ("c", "y"): 0.0}

MONITOR = parse_monitors("""
monitors:
  - name: checkout-latency
    source: replay
    query: checkout_latency
    interval: 1m
    channel: "#alerts"
""").monitors[0]


def _source(sign: float = 1.0) -> ReplaySource:
    """Baselines alternate 1.0 +- 0.1, so each mean is exactly 1.0; after the start each value is constant."""
    times = np.arange(NOW - 2 * 3600.0, NOW + STEP / 2, STEP)
    source = ReplaySource()
    for (service, region), change in CHANGES.items():
        values = 1.0 + 0.1 * np.where(np.arange(times.size) % 2 == 0, 1.0, -1.0)
        values[times >= ANOMALY_START] = 1.0 + sign * change
        source.add("checkout_latency", times, values, {"service": service, "region": region})
    return source


def _analysis(sign: float = 1.0, labels=("service", "region"), scope=None):
    return break_down(source=_source(sign), monitor=MONITOR, labels=list(labels), anomaly_start=ANOMALY_START,
                      now=NOW, direction=sign, incident_id="1", scope=scope)


def test_shares_by_service():
    analysis = _analysis()

    service = analysis.for_role("service")
    assert [row.value for row in service.rows] == ["a", "b", "c"]
    assert [row.share for row in service.rows] == pytest.approx([0.75, 0.25, 0.0])
    assert [row.current for row in service.rows] == pytest.approx([4.0, 2.0, 1.0])
    assert [row.baseline for row in service.rows] == pytest.approx([1.0, 1.0, 1.0])
    assert [row.mark for row in service.rows] == ["red", "red", "green"]
    assert service.rows[0].deviation == pytest.approx(3.0 / 0.1, rel=0.02)
    assert service.rows[0].onset == ANOMALY_START
    assert service.rows[2].onset is None


def test_shares_by_region():
    region = _analysis().for_role("region")

    assert [row.value for row in region.rows] == ["x", "y"]
    assert [row.share for row in region.rows] == pytest.approx([0.75, 0.25])
    assert [row.value for row in region.explaining()] == ["x", "y"]


def test_shares_of_pairs():
    cross = _analysis().cross_for_roles("service", "region")

    assert cross.labels == ("service", "region")
    shares = {cell.values: cell.share for cell in cross.cells}
    assert shares == pytest.approx({key: change / 8.0 for key, change in CHANGES.items()})
    assert {cell.values for cell in cross.within(first_value="a")} == {("a", "x"), ("a", "y")}


def test_scope_limits_to_incident_series():
    analysis = _analysis(scope={"service": "a", "__name__": "checkout_latency"})

    region = analysis.for_role("region")
    assert [row.value for row in region.rows] == ["x", "y"]
    assert [row.current for row in region.rows] == pytest.approx([5.0, 3.0])
    assert [row.share for row in region.rows] == pytest.approx([2 / 3, 1 / 3])
    service = analysis.for_role("service")
    assert [row.value for row in service.rows] == ["a", "b", "c"]


def test_shares_of_a_drop():
    service = _analysis(sign=-1.0).for_role("service")

    assert [row.share for row in service.rows] == pytest.approx([0.75, 0.25, 0.0])
    assert service.rows[0].deviation < -25
    assert service.rows[0].mark == "red"


def test_missing_label_is_reported():
    analysis = _analysis(labels=("service", "segment"))

    assert [breakdown.label for breakdown in analysis.breakdowns] == ["service"]
    assert len(analysis.missing) == 1
    assert analysis.missing[0].startswith("dimension segment: `checkout_latency` returned no series with a segment")


def test_table_text_marks_rows():
    text = table_text(_analysis(), anomaly_start=ANOMALY_START)

    lines = text.splitlines()
    assert "*service*: a (75%) and b (25%) explain 100% of the change." in lines
    assert any(line.startswith("🔴 a ") and line.endswith(" 75%") for line in lines)
    assert any(line.startswith("🟢 c ") and line.endswith("  0%") for line in lines)
    assert "*region*: x (75%) and y (25%) explain 100% of the change." in lines


def test_heatmap_only_beyond_a_few_rows():
    analysis = _analysis()

    image = render_heatmap(analysis, title="checkout-latency")
    few = render_heatmap(_analysis(labels=("region",)), title="checkout-latency")

    assert image is not None
    assert image.startswith(b"\x89PNG")
    assert few is None

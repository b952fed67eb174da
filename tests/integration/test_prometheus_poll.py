"""The main job end to end: real Prometheus with a labelled real series, real Redis, Slack emulator.

The machine temperature series of NAB's realKnownCause set is backfilled
into Prometheus, shifted so that it ends an hour ago. The poll cycle then
runs every five minutes of series time, with an explicit evaluation time,
over one labelled anomaly window and over a quiet stretch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pytest

from bot.sources.prometheus import PrometheusSource
from tests.harness.prometheus_server import BackfillSeries, PrometheusServer, backfill, start_prometheus
from tests.integration.nab_series import LabelledSeries, load_labelled, parse_time
from tests.integration.pipeline import build_pipeline

SERIES = "realKnownCause/machine_temperature_system_failure.csv"
STEP = 300.0
CHANNEL = "alerts-infra"

MONITORS = f"""
monitors:
  - name: machine-temperature
    source: prometheus
    query: machine_temperature
    interval: 5m
    channel: "#{CHANNEL}"
    labels: {{team: infrastructure}}
    detector: {{name: sigma, window: 15m, baseline: 7d, threshold: 3}}
"""

# The second labelled window of the series, and a stretch between labelled
# windows where the temperature only follows its usual cycle (times before
# the shift, as in the NAB labels).
LABELLED_WINDOW = ("2013-12-15 17:50:00", "2013-12-17 17:00:00")
QUIET_STRETCH = ("2014-01-06 00:00:00", "2014-01-08 00:00:00")
LEAD_IN = 6 * 3600.0


@pytest.fixture(scope="module")
def temperature(tmp_path_factory) -> Iterator[tuple[PrometheusServer, LabelledSeries, float]]:
    original = load_labelled(SERIES)
    end = math.floor(time.time() / STEP) * STEP - 3600.0
    offset = end - original.timestamps[-1]
    shifted = original.shifted(offset)

    data_dir = tmp_path_factory.mktemp("prometheus") / "data"
    backfill(data_dir, [BackfillSeries("machine_temperature", {"machine": "m1"},
                                       shifted.timestamps, shifted.values)])
    server = start_prometheus(data_dir)
    yield server, shifted, offset
    server.stop()


def _poll_through(pipeline, monitor, start: float, end: float) -> list[tuple[float, list[str]]]:
    opened = []
    now = start
    while now <= end:
        report = pipeline.poller.poll(monitor, now=now)
        if report.opened:
            opened.append((now, report.opened))
        now += STEP
    return opened


def test_card_posted_for_labelled_window(temperature, redis_server, redis_client, slack):
    server, series, offset = temperature
    slack.add_channel(CHANNEL)
    source = PrometheusSource(server.url)
    pipeline = build_pipeline(redis_url=redis_server.url, sources={"prometheus": source},
                              slack=slack, monitors_yaml=MONITORS)
    monitor = pipeline.monitors["machine-temperature"]
    window_start, window_end = (parse_time(text) + offset for text in LABELLED_WINDOW)

    opened = _poll_through(pipeline, monitor, window_start - LEAD_IN, window_end)

    cards = slack.messages(CHANNEL)
    assert len(cards) == 1, [card.get("text") for card in cards]
    assert len(opened) == 1
    detected_at, (incident_id,) = opened[0]
    incident = pipeline.store.get_incident(incident_id)
    print(f"\nlabelled window {LABELLED_WINDOW[0]} to {LABELLED_WINDOW[1]}; "
          f"anomaly start {_unshift(incident.anomaly_start, offset)}, "
          f"card at {_unshift(detected_at, offset)}, {incident.tier} {incident.kind}, "
          f"deviation {incident.deviation:+.2f}, p={incident.p_value:.3g}")
    assert window_start <= incident.anomaly_start <= window_end
    assert window_start <= detected_at <= window_end
    assert incident.card_ts == cards[0]["ts"]
    assert incident.tier in ("high", "medium")
    assert "machine-temperature" in cards[0]["text"]

    # conversations.replies lists the parent first, as Slack does.
    replies = slack.replies(CHANNEL, incident.card_ts)[1:]
    titles = [reply["text"].split(":")[0] for reply in replies if reply.get("text", "").startswith("Step")]
    assert titles[:2] == ["Step 1. Timeframe analysis", "Step 2. Baseline comparison"]
    assert titles[2] in ("Step 3a. Spike analysis", "Step 3d. Drop analysis")
    assert titles[3:] == ["Step 4. Multi-metric correlation", "Step 6. Hypothesis validation",
                          "Step 7. Action plan or escalation", "Step 8. Enhanced monitoring"]
    assert len(slack.calls_to("files.completeUploadExternal")) == 1

    # Later polls saw the same anomaly: the card was updated in place, never reposted.
    assert len(slack.calls_to("chat.update")) >= 1
    assert len(slack.calls_to("chat.postMessage")) == 1 + 7


def test_no_card_for_quiet_stretch(temperature, redis_server, redis_client, slack):
    server, series, offset = temperature
    slack.add_channel(CHANNEL)
    pipeline = build_pipeline(redis_url=redis_server.url, sources={"prometheus": PrometheusSource(server.url)},
                              slack=slack, monitors_yaml=MONITORS)
    monitor = pipeline.monitors["machine-temperature"]
    start, end = (parse_time(text) + offset for text in QUIET_STRETCH)

    opened = _poll_through(pipeline, monitor, start, end)

    assert opened == []
    assert slack.messages(CHANNEL) == []
    assert slack.calls_to("chat.postMessage") == []
    assert pipeline.store.open_incident_ids() == []


def test_first_poll_fetches_baseline_then_only_new_points(temperature, redis_server, redis_client, slack):
    server, series, offset = temperature
    slack.add_channel(CHANNEL)
    source = PrometheusSource(server.url)
    pipeline = build_pipeline(redis_url=redis_server.url, sources={"prometheus": source},
                              slack=slack, monitors_yaml=MONITORS)
    monitor = pipeline.monitors["machine-temperature"]
    now = parse_time(QUIET_STRETCH[0]) + offset

    first = pipeline.poller.poll(monitor, now=now)
    second = pipeline.poller.poll(monitor, now=now + STEP)
    third = pipeline.poller.poll(monitor, now=now + STEP + 10)

    # 7 days + 15 minutes at 5-minute steps, both ends included.
    assert first.fetched_points == (7 * 86400 + 900) // 300 + 1
    assert second.fetched_points == 1
    assert third.fetched_points == 0
    assert third.skipped == "no new points since the last poll"


def _unshift(timestamp: float, offset: float) -> str:
    from bot.analysis import format_time

    return format_time(timestamp - offset)

"""A large `sigma` query is screened by one bank, with the same outcome as one series at a time."""

from __future__ import annotations

import numpy as np
import pytest
from slack_sdk import WebClient

from bot import banks
from bot.analysis import STEP_FIELDS
from bot.monitors import parse_monitors
from bot.notifier import Notifier
from bot.playbooks import load_playbooks
from bot.poller import Poller
from bot.settings import PLAYBOOKS_DIR
from bot.slack.gateway import WebGateway
from bot.sources.replay import ReplaySource
from bot.store import Store

MINUTE = 60.0
T_END = 1_800_000_000.0
SERIES = 24

MONITORS = """
monitors:
  - name: queue-depth
    source: replay
    query: queue_depth
    interval: 1m
    channel: "#alerts"
    suppression: {group_by: null, max_alerts_per_hour: 50}
    detector: {name: sigma, window: 3m, baseline: 1d}
"""


def _source() -> ReplaySource:
    rng = np.random.default_rng(11)
    source = ReplaySource()
    timestamps = np.arange(T_END - 2 * 86400, T_END + 3600, MINUTE)
    for index in range(SERIES):
        values = 100.0 + rng.normal(0, 3.0, timestamps.size)
        if index == 5:
            values[(timestamps >= T_END) & (timestamps < T_END + 6 * MINUTE)] += 40.0
        if index == 9:
            values[timestamps >= T_END - 3 * MINUTE] = np.nan  # the series stops reporting
        source.add("queue_depth", timestamps, values, labels={"queue": f"q{index:02d}"})
    return source


def _poller(redis_client, slack, prefix: str, source: ReplaySource) -> Poller:
    store = Store(redis_client, prefix=prefix)
    monitors = {m.name: m for m in parse_monitors(MONITORS).monitors}
    gateway = WebGateway(WebClient(token=slack.token, base_url=slack.base_url), sleep=lambda _: None)
    notifier = Notifier(store=store, gateway=gateway, playbooks=load_playbooks(PLAYBOOKS_DIR, fields=STEP_FIELDS),
                        monitors=monitors, charts=False)
    return Poller(store=store, sources={"replay": source}, notifier=notifier)


def _run(poller: Poller, monitor):
    reports = []
    now = T_END - 3 * MINUTE + 17.0  # polls fall between grid steps
    while now <= T_END + 12 * MINUTE:
        reports.append(poller.poll(monitor, now=now))
        now += MINUTE
    return reports


@pytest.fixture
def builds(monkeypatch):
    counted = []
    original = banks.SigmaBank.from_history

    def from_history(*args, **kwargs):
        counted.append(kwargs.get("settings"))
        return original(*args, **kwargs)

    monkeypatch.setattr(banks.SigmaBank, "from_history", staticmethod(from_history))
    return counted


def test_bank_matches_one_series_at_a_time(redis_client, slack, builds):
    slack.add_channel("alerts")
    source = _source()
    monitor = parse_monitors(MONITORS).monitors[0]
    batched = _poller(redis_client, slack, "batched:", source)
    alone = _poller(redis_client, slack, "alone:", source)
    alone.banks.qualifies = lambda monitor, count: False

    batched_reports = _run(batched, monitor)
    alone_reports = _run(alone, monitor)

    for with_bank, without in zip(batched_reports, alone_reports, strict=True):
        assert with_bank.opened == without.opened
        assert len(with_bank.evaluations) == SERIES
        for (fingerprint, got), (same, expected) in zip(with_bank.evaluations, without.evaluations, strict=True):
            assert fingerprint == same
            assert (got.status, got.tier, got.reason) == (expected.status, expected.tier, expected.reason)
            assert got.deviation == pytest.approx(expected.deviation, rel=1e-6, abs=1e-9)
            assert got.p_value == pytest.approx(expected.p_value, rel=1e-3)

    opened = [(report.now, incident) for report in batched_reports for incident in report.opened]
    assert len(opened) == 1
    assert opened[0][0] == pytest.approx(T_END + 17.0)
    # Built at the first poll, then advanced one step a poll, except where the spike's points
    # were added to the exclusions (a change of exclusions rebuilds the bank).
    assert 1 < len(builds) < len(batched_reports)


def test_small_query_not_batched(redis_client, slack, builds):
    slack.add_channel("alerts")
    source = ReplaySource()
    timestamps = np.arange(T_END - 2 * 86400, T_END + 600, MINUTE)
    for index in range(banks.MIN_SERIES - 1):
        source.add("queue_depth", timestamps, np.random.default_rng(index).normal(100, 3, timestamps.size),
                   labels={"queue": f"q{index}"})
    monitor = parse_monitors(MONITORS).monitors[0]

    report = _poller(redis_client, slack, "small:", source).poll(monitor, now=T_END)

    assert len(report.evaluations) == banks.MIN_SERIES - 1
    assert builds == []


def test_quiet_query_bank_built_once_then_advanced(redis_client, slack, builds):
    slack.add_channel("alerts")
    source = ReplaySource()
    timestamps = np.arange(T_END - 2 * 86400, T_END + 3600, MINUTE)
    rng = np.random.default_rng(3)
    for index in range(SERIES):
        source.add("queue_depth", timestamps, rng.normal(100, 3, timestamps.size), labels={"queue": f"q{index}"})
    monitor = parse_monitors(MONITORS).monitors[0]
    poller = _poller(redis_client, slack, "quiet:", source)

    reports = [poller.poll(monitor, now=T_END + minute * MINUTE) for minute in range(10)]
    restarted = _poller(redis_client, slack, "quiet:", source).poll(monitor, now=T_END + 10 * MINUTE)

    assert all(len(report.evaluations) == SERIES for report in reports)
    # One build for the first poll, one for the restarted poller; nine polls only advanced it.
    assert len(builds) == 2
    assert len(restarted.evaluations) == SERIES


def test_changed_settings_rebuild_the_bank(redis_client, slack, builds):
    slack.add_channel("alerts")
    source = _source()
    monitor = parse_monitors(MONITORS).monitors[0]
    stricter = parse_monitors(MONITORS.replace("baseline: 1d}", "baseline: 1d, threshold: 4}")).monitors[0]
    poller = _poller(redis_client, slack, "changed:", source)

    poller.poll(monitor, now=T_END - 10 * MINUTE)
    poller.poll(monitor, now=T_END - 9 * MINUTE)
    poller.poll(stricter, now=T_END - 8 * MINUTE)

    assert [settings.threshold for settings in builds] == [3.0, 4.0]

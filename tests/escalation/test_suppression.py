"""Suppression, grouping, flapping, severity routing and war rooms through the poll cycle."""

from __future__ import annotations

import numpy as np
import pytest
from slack_sdk import WebClient

from bot.analysis import STEP_FIELDS
from bot.digest import build_digest
from bot.escalation import load_matrix
from bot.escalation_clock import EscalationClock
from bot.lifecycle import resolve
from bot.monitors import parse_monitors
from bot.notifier import Notifier
from bot.playbooks import load_playbooks
from bot.poller import Poller
from bot.responder import Responder
from bot.settings import PLAYBOOKS_DIR
from bot.severity import load_policy
from bot.slack.gateway import WebGateway
from bot.sources.replay import ReplaySource
from bot.store import Store
from detectors import Exclusions

MINUTE = 60.0
T_END = 1_800_000_000.0


def _series(rng, *, spikes: list[tuple[float, float]], level=100.0, noise=3.0):
    timestamps = np.arange(T_END - 3 * 86400, T_END + 3 * 3600, MINUTE)
    values = level + rng.normal(0, noise, timestamps.size)
    for start, end in spikes:
        values[(timestamps >= start) & (timestamps < end)] += 60
    return timestamps, values


MONITORS = """
monitors:
  - name: api-latency
    source: replay
    query: api_latency
    interval: 1m
    channel: "#alerts"
    labels: {service: api}
    metric_type: latency
    team: "@api-team"
    detector: {window: 3m, baseline: 2d}
    suppression: {repeat_window: 5m, max_alerts_per_hour: 2, flapping_opens: 3, group_window: 10m}
  - name: api-errors
    source: replay
    query: api_errors
    interval: 1m
    channel: "#alerts"
    labels: {service: api}
    metric_type: error_rate
    detector: {window: 3m, baseline: 2d}
  - name: cpu
    source: replay
    query: cpu
    interval: 1m
    channel: "#alerts"
    metric_type: cpu
    suppression: {group_by: null}
    detector: {window: 3m, baseline: 2d}
"""


@pytest.fixture
def world(redis_client, slack):
    slack.add_channel("alerts")
    slack.add_usergroup("api-team", [slack.add_user("carol")])
    slack.add_usergroup("oncall", [slack.add_user("dave")])
    store = Store(redis_client)
    monitors = {m.name: m for m in parse_monitors(MONITORS).monitors}
    gateway = WebGateway(WebClient(token=slack.token, base_url=slack.base_url), sleep=lambda _: None)
    notifier = Notifier(store=store, gateway=gateway, playbooks=load_playbooks(PLAYBOOKS_DIR, fields=STEP_FIELDS),
                        monitors=monitors, charts=False)
    policy = load_policy(PLAYBOOKS_DIR / "severity.yml")
    responder = Responder(store=store, notifier=notifier, gateway=gateway, policy=policy, monitors=monitors)
    matrix = load_matrix(PLAYBOOKS_DIR / "escalation.yml")
    source = ReplaySource()
    poller = Poller(store=store, sources={"replay": source}, notifier=notifier, matrix=matrix, policy=policy,
                    responder=responder, clock=EscalationClock(store, matrix, escalate=responder.escalate))
    return store, monitors, source, poller


def _poll(poller, monitor, start, end, step=MINUTE):
    reports = []
    now = start
    while now <= end:
        reports.append(poller.poll(monitor, now=now))
        now += step
    return reports


def test_repeat_window_and_hourly_cap(world, slack):
    store, monitors, source, poller = world
    rng = np.random.default_rng(1)
    # Three instances spike 20 minutes apart; each incident is resolved in between.
    spikes = [(T_END + offset, T_END + offset + 6 * MINUTE) for offset in (0, 20 * MINUTE, 40 * MINUTE)]
    for instance, spike in zip("abc", spikes, strict=True):
        source.add("api_latency", *_series(rng, spikes=[spike]), labels={"instance": instance})
    monitor = monitors["api-latency"]

    opened = []
    for start, end in spikes:
        reports = _poll(poller, monitor, start, end + 2 * MINUTE)
        opened += [incident_id for report in reports for incident_id in report.opened]
        for incident_id in store.open_incident_ids():
            resolve(store, incident_id, user="U1", now=end + 3 * MINUTE)

    # The cap of 2 alerts an hour lets the first two spikes through and stops the third.
    assert len(opened) == 2
    suppressed = store.redis.hgetall(store.key("suppressed", str(int(T_END // 86400))))
    assert int(suppressed[b"api-latency:rate"]) >= 1
    assert build_digest(store, end=T_END + 3600).suppressed["api-latency"] >= 1


def test_repeat_within_window_suppressed(world):
    store, monitors, source, poller = world
    rng = np.random.default_rng(2)
    spikes = [(T_END, T_END + 4 * MINUTE), (T_END + 7 * MINUTE, T_END + 11 * MINUTE)]
    source.add("api_latency", *_series(rng, spikes=spikes), labels={"instance": "a"})
    base = monitors["api-latency"]
    monitor = base.model_copy(update={"suppression": base.suppression.model_copy(update={"repeat_window": 900.0})})

    first = _poll(poller, monitor, T_END, T_END + 4 * MINUTE)
    (incident_id,) = [i for report in first for i in report.opened]
    resolve(store, incident_id, user="U1", now=T_END + 5 * MINUTE)
    second = _poll(poller, monitor, T_END + 7 * MINUTE, T_END + 11 * MINUTE)

    assert [i for report in second for i in report.opened] == []
    assert ("repeat" in [reason for report in second for _, reason in report.suppressed])


def test_flapping_series_marked_not_reposted(world, slack):
    store, monitors, source, poller = world
    rng = np.random.default_rng(6)
    spikes = [(T_END + offset, T_END + offset + 5 * MINUTE) for offset in (0, 15 * MINUTE, 30 * MINUTE)]
    source.add("api_latency", *_series(rng, spikes=spikes), labels={"instance": "a"})
    monitor = monitors["api-latency"].model_copy(update={"suppression": monitors["api-latency"].suppression.model_copy(
        update={"max_alerts_per_hour": 10})})

    opened = []
    for start, end in spikes:
        reports = _poll(poller, monitor, start, end)
        opened += [incident_id for report in reports for incident_id in report.opened]
        for incident_id in store.open_incident_ids():
            resolve(store, incident_id, user="U1", now=end + MINUTE)

    assert len(opened) == 2
    latest = store.get_incident(opened[-1])
    assert latest.flapping is True
    cards = [m for m in slack.messages("alerts") if m.get("blocks") and m["blocks"][0]["type"] == "header"]
    assert len(cards) == 2
    assert "flapping" in cards[-1]["blocks"][1]["fields"][5]["text"]


def test_same_service_groups_into_one_incident(world, slack):
    store, monitors, source, poller = world
    rng = np.random.default_rng(3)
    source.add("api_latency", *_series(rng, spikes=[(T_END, T_END + 30 * MINUTE)]), labels={"instance": "a"})
    source.add("api_errors", *_series(rng, spikes=[(T_END + 2 * MINUTE, T_END + 30 * MINUTE)], level=1.0,
                                      noise=0.05), labels={"instance": "a"})

    latency = _poll(poller, monitors["api-latency"], T_END + 3 * MINUTE, T_END + 3 * MINUTE)
    errors = _poll(poller, monitors["api-errors"], T_END + 5 * MINUTE, T_END + 8 * MINUTE)

    (incident_id,) = latency[0].opened
    assert [i for report in errors for i in report.opened] == []
    incident = store.get_incident(incident_id)
    assert len(incident.grouped) == 1
    (card,) = [m for m in slack.messages("alerts") if m.get("blocks")]
    thread = [reply["text"] for reply in slack.replies("alerts", card["ts"])]
    assert any(text.startswith("Also anomalous, grouped into this incident: api-errors") for text in thread)
    assert "1 more series grouped here" in slack.messages("alerts")[0]["blocks"][1]["fields"][5]["text"]


def test_p0_pages_and_opens_war_room(world, slack):
    store, monitors, source, poller = world
    rng = np.random.default_rng(4)
    timestamps = np.arange(T_END - 3 * 86400, T_END + 3600, MINUTE)
    values = 55 + rng.normal(0, 3, timestamps.size)
    values[timestamps >= T_END] = 97
    source.add("cpu", timestamps, values, labels={"host": "db-1"})

    (report,) = _poll(poller, monitors["cpu"], T_END + 3 * MINUTE, T_END + 3 * MINUTE)

    incident = store.get_incident(report.opened[0])
    assert incident.severity == "P0"
    assert incident.severity_reasons[0] == "static: cpu 97.0% above 90%"
    thread = [reply["text"] for reply in slack.replies("alerts", incident.card_ts)]
    oncall = slack.workspace.usergroups if hasattr(slack.workspace, "usergroups") else None
    assert any(text.startswith("P0: paging <!subteam^") for text in thread), thread
    assert incident.war_room is not None
    assert any(f"Opened the war room <#{incident.war_room}> (P0 incident)" in text for text in thread)
    assert oncall is not None


def test_p1_notifies_owning_team(world, slack):
    store, monitors, source, poller = world
    rng = np.random.default_rng(5)
    timestamps = np.arange(T_END - 3 * 86400, T_END + 3600, MINUTE)
    values = 200 + rng.normal(0, 5, timestamps.size)
    values[timestamps >= T_END] = 250  # +25%: an anomaly, below the 1.5× latency limit
    source.add("api_latency", timestamps, values, labels={"instance": "a"})

    (report,) = _poll(poller, monitors["api-latency"], T_END + 3 * MINUTE, T_END + 3 * MINUTE)

    incident = store.get_incident(report.opened[0])
    assert incident.severity == "P1"
    thread = [reply["text"] for reply in slack.replies("alerts", incident.card_ts)]
    assert any(text.startswith("P1: <!subteam^") and "please take a look" in text for text in thread), thread
    assert incident.war_room is None


def test_for_holds_burst_opens_lasting(world, slack):
    store, monitors, source, poller = world
    rng = np.random.default_rng(7)
    source.add("cpu", *_series(rng, spikes=[(T_END, T_END + 2 * MINUTE)]), labels={"instance": "burst"})
    source.add("cpu", *_series(rng, spikes=[(T_END, T_END + 20 * MINUTE)]), labels={"instance": "lasting"})
    base = monitors["cpu"]
    monitor = base.model_copy(update={"detector": base.detector.model_copy(update={"for_": 300.0})})

    reports = _poll(poller, monitor, T_END - 2 * MINUTE, T_END + 12 * MINUTE)

    opened = [(report.now, incident_id) for report in reports for incident_id in report.opened]
    pending = {fingerprint for report in reports for fingerprint in report.pending}
    # The lasting shift alerts from the first spiked minute on, so it opens 5 minutes later.
    # The 2-minute burst leaves the 3-minute window before its 5 minutes are up.
    assert [now for now, _ in opened] == [T_END + 5 * MINUTE]
    (incident_id,) = [incident_id for _, incident_id in opened]
    assert store.get_incident(incident_id).labels["instance"] == "lasting"
    assert len(pending) == 2
    assert all(store.redis.get(store.key("pending", fingerprint)) is None
               for fingerprint in pending if fingerprint != store.get_incident(incident_id).fingerprint)


def test_for_parsed_from_the_monitors_file():
    plain = "detector: {window: 3m, baseline: 2d}\n"
    text = MONITORS.replace(plain, plain.replace("2d}", "2d, for: 5m}"), 1)

    with_for, without_for, _ = parse_monitors(text).monitors

    assert with_for.detector.for_ == 300.0
    assert without_for.detector.for_ == 0.0


def test_strong_spike_kept_out_of_later_baselines(world):
    store, monitors, source, poller = world
    rng = np.random.default_rng(9)
    spike = (T_END, T_END + 10 * MINUTE)
    source.add("cpu", *_series(rng, spikes=[spike]), labels={"instance": "a"})
    monitor = monitors["cpu"]

    reports = _poll(poller, monitor, T_END - 2 * MINUTE, T_END + 16 * MINUTE)

    (incident_id,) = [incident_id for report in reports for incident_id in report.opened]
    fingerprint = store.get_incident(incident_id).fingerprint
    stored = Exclusions.from_json(store.redis.get(store.key("excluded", "cpu", fingerprint)))
    # Every spiked minute, and none before it; the run ended when the window was clean again.
    assert stored.run == []
    assert stored.times[0] == T_END
    assert set(np.arange(T_END, T_END + 10 * MINUTE, MINUTE)) <= set(stored.times)
    assert stored.times[-1] < T_END + 13 * MINUTE

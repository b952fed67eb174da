"""Escalation timers with a controllable clock: each confidence level through the matrix."""

from __future__ import annotations

import logging
import threading

import pytest
from slack_sdk import WebClient

from bot.analysis import STEP_FIELDS
from bot.escalation import load_matrix
from bot.escalation_clock import EscalationClock
from bot.incident import Incident
from bot.lifecycle import acknowledge, resolve, snooze
from bot.notifier import Notifier
from bot.playbooks import load_playbooks
from bot.responder import Responder
from bot.settings import PLAYBOOKS_DIR
from bot.severity import load_policy
from bot.slack.gateway import WebGateway
from bot.store import Store

CHANNEL = "alerts-api"
T0 = 1_800_000_000.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def setup(redis_client, slack):
    slack.add_channel(CHANNEL)
    alice = slack.add_user("alice")
    groups = {handle: slack.add_usergroup(handle, [alice]) for handle in ("oncall-senior", "oncall-em",
                                                                          "incident-commander")}
    clock = Clock(T0)
    store = Store(redis_client)
    gateway = WebGateway(WebClient(token=slack.token, base_url=slack.base_url), sleep=lambda _: None)
    notifier = Notifier(store=store, gateway=gateway, playbooks=load_playbooks(PLAYBOOKS_DIR, fields=STEP_FIELDS),
                        clock=clock)
    responder = Responder(store=store, notifier=notifier, gateway=gateway,
                          policy=load_policy(PLAYBOOKS_DIR / "severity.yml"), monitors={})
    matrix = load_matrix(PLAYBOOKS_DIR / "escalation.yml")
    escalations = EscalationClock(store, matrix, escalate=responder.escalate)
    return store, notifier, escalations, clock, groups, responder


def _open(store, notifier, *, p_value: float, fingerprint: str = "fp") -> Incident:
    incident, _ = store.create_incident(lambda new_id: Incident(
        id=new_id, fingerprint=fingerprint, monitor="api-latency", query="q", labels={"service": "api"},
        channel=f"#{CHANNEL}", playbook="metric_anomaly", opened_at=T0, updated_at=T0, anomaly_start=T0 - 60,
        last_anomalous_at=T0, detector="sigma", kind="spike", direction="above", tier="high", p_value=p_value,
        deviation=4.0, peak_deviation=4.0, current=300.0, expected=200.0, baseline_mean=200.0, baseline_std=25.0,
    ))
    notifier.publish(incident, now=T0)
    return store.get_incident(incident.id)


def _escalation_lines(slack, store, incident_id):
    incident = store.get_incident(incident_id)
    return [reply["text"] for reply in slack.replies(CHANNEL, incident.card_ts)[1:] if "escalating" in reply["text"]]


def test_matrix_loaded_as_documented():
    matrix = load_matrix(PLAYBOOKS_DIR / "escalation.yml")
    rows = [(rule.min_confidence, rule.after, rule.target, rule.handle, rule.war_room) for rule in matrix]
    assert rows == [
        (0.99, 900.0, "senior engineer", "@oncall-senior", False),
        (0.95, 1800.0, "engineering manager", "@oncall-em", False),
        (0.90, 2700.0, "war room", "@incident-commander", True),
        (0.0, 3600.0, "data science team", "@anomaly-experts", False),
    ]


@pytest.mark.parametrize(
    ("p_value", "minutes", "target", "handle"),
    [
        (0.001, 15, "senior engineer", "oncall-senior"),
        (0.02, 30, "engineering manager", "oncall-em"),
        (0.07, 45, "war room", "incident-commander"),
        (0.2, 60, "data science team", None),
    ],
    ids=["over-99", "95-99", "90-95", "under-90"],
)
def test_each_confidence_level_escalates_on_time(setup, slack, caplog, p_value, minutes, target, handle):
    store, notifier, escalations, clock, groups, _ = setup
    incident = _open(store, notifier, p_value=p_value)
    assert escalations.schedule(incident) == T0 + minutes * 60

    assert escalations.fire_due(T0 + minutes * 60 - 1) == []
    assert _escalation_lines(slack, store, incident.id) == []

    clock.now = T0 + minutes * 60
    with caplog.at_level(logging.ERROR):
        assert escalations.fire_due(clock.now) == [incident.id]
    assert escalations.fire_due(clock.now + 600) == []

    (line,) = _escalation_lines(slack, store, incident.id)
    assert f"Unresolved for {'1h' if minutes == 60 else f'{minutes}m'}" in line
    assert f"escalating to the {target}" in line
    if handle:
        assert f"<!subteam^{groups[handle]}>" in line
    else:
        assert "@anomaly-experts" in line
        assert "configuration error: @anomaly-experts is not a Slack user group" in caplog.text
    escalated = store.get_incident(incident.id)
    assert escalated.escalation_level == 1
    assert escalated.escalated_at == clock.now
    assert (escalated.war_room is not None) == (target == "war room")


def test_resolve_stops_the_clock(setup, slack):
    store, notifier, escalations, clock, *_ = setup
    incident = _open(store, notifier, p_value=0.001)
    escalations.schedule(incident)

    resolve(store, incident.id, user="U1", now=T0 + 60)

    assert escalations.due_time(incident.id) is None
    assert escalations.fire_due(T0 + 3600) == []
    assert _escalation_lines(slack, store, incident.id) == []


def test_acknowledge_does_not_pause_by_default(setup, slack):
    store, notifier, escalations, clock, *_ = setup
    incident = _open(store, notifier, p_value=0.001)
    escalations.schedule(incident)
    acknowledge(store, incident.id, user="U1", now=T0 + 60)

    clock.now = T0 + 900
    assert escalations.fire_due(clock.now) == [incident.id]


def test_snooze_moves_the_escalation(setup, slack):
    store, notifier, escalations, clock, *_ = setup
    incident = _open(store, notifier, p_value=0.001)
    escalations.schedule(incident)
    snooze(store, incident.id, user="U1", now=T0 + 60, seconds=3600)

    assert escalations.fire_due(T0 + 900) == []
    assert escalations.due_time(incident.id) == T0 + 60 + 3600
    clock.now = T0 + 60 + 3600
    assert escalations.fire_due(clock.now) == [incident.id]


def test_rising_confidence_escalates_sooner(setup):
    store, notifier, escalations, *_ = setup
    incident = _open(store, notifier, p_value=0.02)
    assert escalations.schedule(incident) == T0 + 1800
    stronger = store.update_incident(incident.id, lambda current: current.model_copy(update={"p_value": 0.001}))
    assert escalations.schedule(stronger) == T0 + 900
    weaker = store.update_incident(incident.id, lambda current: current.model_copy(update={"p_value": 0.2}))
    assert escalations.schedule(weaker) == T0 + 900


def test_two_workers_escalate_once(setup, slack, redis_client):
    store, notifier, escalations, clock, _, responder = setup
    incident = _open(store, notifier, p_value=0.07)
    escalations.schedule(incident)
    clock.now = T0 + 2700
    second_worker = EscalationClock(Store(redis_client), escalations.matrix, escalate=responder.escalate)

    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda worker=worker: results.append(worker.fire_due(clock.now)))
               for worker in (escalations, second_worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(len(result) for result in results) == [0, 0, 0, 0, 0, 1]
    assert len(_escalation_lines(slack, store, incident.id)) == 1
    assert len([call for call in slack.calls_to("conversations.create") if call.ok]) == 1


def test_timer_due_while_down_fires_once_at_restart(setup, slack, redis_client):
    store, notifier, escalations, clock, _, responder = setup
    incident = _open(store, notifier, p_value=0.001)
    escalations.schedule(incident)

    # Every worker was down from T0 + 5 min to T0 + 2 h; a new one starts on the same Redis.
    restarted = EscalationClock(Store(redis_client), escalations.matrix, escalate=responder.escalate)
    clock.now = T0 + 7200
    assert restarted.fire_due(clock.now) == [incident.id]
    assert restarted.fire_due(clock.now + 5) == []
    assert len(_escalation_lines(slack, store, incident.id)) == 1

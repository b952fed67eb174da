"""`make demo`: the bot's main job on a generated metric, with cards in the terminal.

The demo generates eight days of a realistic API latency metric at 1-minute
resolution (daily seasonality, business-hours load, noise, a few harmless
bursts) with one injected incident, and a quiet error-rate metric beside it.
It then polls both every five simulated minutes across the last twelve hours,
through the same poller, incident store, playbook and card code as the
service. State lives in an embedded in-process Redis, so nothing persists.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import fakeredis
import numpy as np

from bot.analysis import STEP_FIELDS, format_number, format_time
from bot.escalation import load_matrix
from bot.escalation_clock import EscalationClock
from bot.monitors import parse_monitors
from bot.notifier import Notifier
from bot.playbooks import load_playbooks
from bot.poller import Poller
from bot.responder import Responder
from bot.rootcause import analyze
from bot.settings import PLAYBOOKS_DIR
from bot.severity import load_policy
from bot.slack.terminal import TerminalGateway
from bot.sources.replay import ReplaySource
from bot.store import Store

log = logging.getLogger(__name__)

DAY = 86400.0
MINUTE = 60.0

DEMO_MONITORS = """
monitors:
  - name: checkout-latency-p99
    source: replay
    query: checkout_latency_p99_ms
    interval: 5m
    step: 1m
    channel: "#alerts-checkout"
    labels: {service: checkout, team: payments}
    metric_type: latency
    team: "@payments-oncall"
    detector: {name: seasonal, window: 5m, baseline: 7d, threshold: 3}
  - name: checkout-error-rate
    source: replay
    query: checkout_error_rate
    interval: 5m
    step: 1m
    channel: "#alerts-checkout"
    labels: {service: checkout, team: payments}
    metric_type: error_rate
    team: "@payments-oncall"
    detector: {name: seasonal, window: 5m, baseline: 7d, threshold: 3}
"""


@dataclass(frozen=True)
class InjectedIncident:
    start: float
    end: float
    extra_ms: float


def generate_latency(timestamps: np.ndarray, incident: InjectedIncident, rng: np.random.Generator) -> np.ndarray:
    """p99 latency in ms: a daily cycle peaking mid-afternoon UTC, noise and short bursts."""
    hour = (timestamps % DAY) / 3600.0
    daily = 35.0 * np.exp(-((hour - 15.0) ** 2) / (2 * 3.0**2))
    values = 180.0 + daily + rng.normal(0.0, 6.0, timestamps.size)

    bursts = rng.choice(timestamps.size, size=40, replace=False)
    values[bursts] += rng.uniform(15.0, 30.0, bursts.size)

    inside = (timestamps >= incident.start) & (timestamps < incident.end)
    ramp = np.clip((timestamps[inside] - incident.start) / (4 * MINUTE), 0.0, 1.0)
    values[inside] += incident.extra_ms * ramp
    return values


def generate_error_rate(timestamps: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Error ratio in percent: low, noisy, with no incident."""
    return np.clip(0.4 + rng.normal(0.0, 0.05, timestamps.size), 0.0, None)


def run_demo(*, speed: float = 0.05, out=None) -> int:
    """Run the demo; return 0 when the injected incident was found and nothing else was."""
    out = out or sys.stdout
    logging.getLogger().setLevel(logging.WARNING)
    print("anomaly bot demo: embedded in-process Redis, nothing persists after the demo.", file=out)

    rng = np.random.default_rng(20261204)
    end = float(int(time.time() // MINUTE) * MINUTE)
    start = end - 8 * DAY
    timestamps = np.arange(start, end + MINUTE, MINUTE)
    incident = InjectedIncident(start=end - 5 * 3600, end=end - 5 * 3600 + 40 * MINUTE, extra_ms=90.0)

    source = ReplaySource()
    source.add("checkout_latency_p99_ms", timestamps, generate_latency(timestamps, incident, rng),
               {"service": "checkout", "region": "eu-west-1"})
    source.add("checkout_error_rate", timestamps, generate_error_rate(timestamps, rng),
               {"service": "checkout", "region": "eu-west-1"})

    clock = {"now": end - 12 * 3600}
    gateway = TerminalGateway(stream=out, clock_label=lambda: format_time(clock["now"]),
                              files_dir=Path(tempfile.gettempdir()) / "anomaly-bot-demo")
    store = Store(fakeredis.FakeRedis())
    playbooks = load_playbooks(PLAYBOOKS_DIR, fields=STEP_FIELDS)
    monitors = parse_monitors(DEMO_MONITORS, origin="demo monitors").monitors
    notifier = Notifier(store=store, gateway=gateway, playbooks=playbooks,
                        monitors={monitor.name: monitor for monitor in monitors},
                        clock=lambda: clock["now"])
    monitor_map = {monitor.name: monitor for monitor in monitors}
    sources = {"replay": source}
    matrix = load_matrix(PLAYBOOKS_DIR / "escalation.yml")
    policy = load_policy(PLAYBOOKS_DIR / "severity.yml")
    responder = Responder(store=store, notifier=notifier, gateway=gateway, policy=policy, monitors=monitor_map)
    escalations = EscalationClock(store, matrix, escalate=responder.escalate)
    poller = Poller(
        store=store, sources=sources, notifier=notifier, matrix=matrix, policy=policy, responder=responder,
        clock=escalations,
        rootcause=lambda incident, now: analyze(store=store, sources=sources, monitors=monitor_map,
                                                incident=incident, now=now),
    )

    print(f"replaying {len(monitors)} monitors every 5 simulated minutes from "
          f"{format_time(clock['now'])} to {format_time(end)}; injected incident "
          f"{format_time(incident.start)} to {format_time(incident.end)} (+{incident.extra_ms:.0f} ms)\n",
          file=out)

    opened: dict[str, float] = {}
    while clock["now"] <= end:
        for monitor in monitors:
            report = poller.poll(monitor, now=clock["now"])
            for incident_id in report.opened:
                opened[incident_id] = clock["now"]
        escalations.fire_due(clock["now"])
        clock["now"] += 5 * MINUTE
        time.sleep(speed)

    clock["now"] = end
    for incident_id in opened:
        current = store.get_incident(incident_id)
        if current is not None:
            notifier.refresh_card(current)
    return _summarise(store, opened, incident, gateway, out)


def _summarise(store: Store, opened: dict[str, float], injected: InjectedIncident,
               gateway: TerminalGateway, out) -> int:
    print(f"\nSlack calls: {gateway.posts} posts, {gateway.updates} card updates", file=out)
    found_injected = False
    for incident_id, at in opened.items():
        incident = store.get_incident(incident_id)
        if incident is None:
            continue
        if incident.card_channel and incident.card_ts:
            gateway.show(incident.card_channel, incident.card_ts, title="final state of the card")
        overlaps = injected.start <= incident.anomaly_start <= injected.end
        found_injected = found_injected or overlaps
        delay = (at - injected.start) / MINUTE
        print(
            f"detected incident {incident.id}: {incident.tier} confidence {incident.kind} on "
            f"{incident.title}, peak {incident.peak_deviation:+.1f}σ, p={incident.p_value:.2g}, "
            f"now {format_number(incident.current)} vs expected {format_number(incident.expected)}; "
            + (f"card posted {delay:.0f} min after the injected incident began" if overlaps
               else "outside the injected incident (a false alarm)"),
            file=out,
        )

    false_alarms = len(opened) - (1 if found_injected else 0)
    print(f"demo result: {len(opened)} incident(s), injected incident "
          f"{'found' if found_injected else 'MISSED'}, {false_alarms} false alarm(s)", file=out)
    return 0 if found_injected and false_alarms == 0 else 1

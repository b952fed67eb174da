"""The bot's own Prometheus metrics, served on /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

POLLS = Counter("anomalybot_polls_total", "Monitor polls by outcome", ["monitor", "outcome"])
EVALUATIONS = Counter(
    "anomalybot_evaluations_total", "Series evaluations by status", ["monitor", "status"]
)
INCIDENTS_OPENED = Counter("anomalybot_incidents_opened_total", "Incidents opened", ["monitor", "tier"])
SLACK_POSTS = Counter("anomalybot_slack_posts_total", "Messages posted or updated", ["kind"])
POLL_SECONDS = Histogram("anomalybot_poll_seconds", "Time for one monitor poll", ["monitor"])

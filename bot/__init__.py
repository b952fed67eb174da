"""The anomaly bot service: sources, scheduler, incidents, Slack and state."""

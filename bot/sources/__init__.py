"""Metric sources: each turns a backend's HTTP API into `Series`."""

from bot.sources.base import Series, Source, fingerprint, label_key
from bot.sources.prometheus import PrometheusSource
from bot.sources.replay import ReplaySource

__all__ = ["PrometheusSource", "ReplaySource", "Series", "Source", "fingerprint", "label_key"]

"""Metric sources: each turns a backend's HTTP API into `Series`.

`build_sources` and `unconfigured_sources` live in `bot.sources.registry`,
which imports the monitors file model; import them from there.
"""

from bot.sources.atlas import AtlasSource
from bot.sources.base import DataQuality, Series, Source, assess_quality, fingerprint, label_key
from bot.sources.datadog import DatadogSource
from bot.sources.errors import QueryRejected, SourceRateLimited
from bot.sources.prometheus import PrometheusSource
from bot.sources.replay import ReplaySource

__all__ = [
    "AtlasSource",
    "DataQuality",
    "DatadogSource",
    "PrometheusSource",
    "QueryRejected",
    "ReplaySource",
    "Series",
    "Source",
    "SourceRateLimited",
    "assess_quality",
    "fingerprint",
    "label_key",
]

"""Root-cause analysis of an incident: related anomalies, dimension breakdown and hypotheses.

One call does it all::

    from bot.rootcause import analyze, attach_hypotheses

    result = analyze(store=store, sources=sources, monitors=monitors, incident=incident, now=now)
    incident = attach_hypotheses(store, incident.id, result.hypotheses)
    # result.related_text is step 4, result.dimensions_text the dimension table,
    # result.heatmap_png the image (or None), result.missing what could not be computed.

Change events come in through `POST /events` (`bot.events_api.register_events`).
"""

from bot.rootcause.analysis import RootCause, analyze, attach_hypotheses
from bot.rootcause.correlation import RelatedAnomaly
from bot.rootcause.dimensions import DimensionRow
from bot.rootcause.events import ChangeEvent, events_between, record_event
from bot.rootcause.hypotheses import merge_hypotheses

__all__ = [
    "ChangeEvent",
    "DimensionRow",
    "RelatedAnomaly",
    "RootCause",
    "analyze",
    "attach_hypotheses",
    "events_between",
    "merge_hypotheses",
    "record_event",
]

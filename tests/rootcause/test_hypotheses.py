"""Ranking rules for change events and related anomalies, ids, and merging with decisions."""

from __future__ import annotations

from bot.incident import Hypothesis, Incident
from bot.rootcause.correlation import RelatedAnomaly
from bot.rootcause.dimensions import Breakdown, DimensionAnalysis, DimensionRow
from bot.rootcause.events import ChangeEvent
from bot.rootcause.hypotheses import MIN_HYPOTHESES, merge_hypotheses, rank_hypotheses

START = 1_717_243_200.0
STEP = 60.0


def _incident(**changes) -> Incident:
    fields = dict(
        id="7", fingerprint="f" * 16, monitor="api-latency", query="avg(api_latency_seconds)", labels={},
        channel="alerts", playbook="metric_anomaly", opened_at=START + 120, updated_at=START + 120,
        anomaly_start=START, last_anomalous_at=START + 120, detector="sigma", kind="spike", direction="above",
        tier="high", p_value=0.001, deviation=9.0, peak_deviation=9.0, current=0.3, expected=0.1,
        baseline_mean=0.1, baseline_std=0.01,
    )
    fields.update(changes)
    return Incident(**fields)


def _services(**shares: float) -> DimensionAnalysis:
    rows = [
        DimensionRow(label="service", value=name, current=0.1 + share, baseline=0.1, deviation=share * 50,
                     share=share, mark="red" if share > 0.05 else "green")
        for name, share in sorted(shares.items(), key=lambda item: -item[1])
    ]
    return DimensionAnalysis(breakdowns=[Breakdown(label="service", query="avg by (service) (x)", rows=rows)])


def _deployment(service: str, minutes_before: float, version: str = "v2") -> ChangeEvent:
    return ChangeEvent(type="deployment", service=service, version=version, time=START - minutes_before * 60)


def _rank(*, events=(), related=(), dimensions=None, incident=None):
    return rank_hypotheses(incident=incident or _incident(), monitor=None, related=list(related),
                           dimensions=dimensions or DimensionAnalysis(), events=list(events), direction=1.0,
                           step=STEP)


def _score(hypotheses: list[Hypothesis], prefix: str) -> float:
    return next(hypothesis.score for hypothesis in hypotheses if hypothesis.id.startswith(prefix))


def test_deployment_before_start_outranks_after():
    dimensions = _services(search=0.9, api=0.1)
    before = _rank(events=[_deployment("search", 5)], dimensions=dimensions)
    after = _rank(events=[_deployment("search", -5)], dimensions=dimensions)

    assert before[0].id == "deployment-search-v2"
    assert before[0].title == "Deployment of search v2, 5 minutes before the anomaly started"
    assert _score(before, "deployment-") > 0.9
    assert next(h.title for h in after if h.id == "deployment-search-v2") == \
        "Deployment of search v2, 5 minutes after the anomaly started"
    assert after[0].id == "capacity-search"
    assert _score(after, "deployment-") < 0.4


def test_deployment_of_other_service_ranks_lower():
    dimensions = _services(search=0.9, api=0.1, auth=0.0)

    hypotheses = _rank(events=[_deployment("auth", 4, "v9"), _deployment("search", 20, "v3")],
                       dimensions=dimensions)

    assert _score(hypotheses, "deployment-search") > _score(hypotheses, "deployment-auth")
    assert "service=auth (🟢" in next(h.evidence for h in hypotheses if h.id == "deployment-auth-v9")
    assert "stays within its baseline" in next(h.evidence for h in hypotheses if h.id == "deployment-auth-v9")


def test_deployment_named_by_incident_labels():
    hypotheses = _rank(events=[_deployment("checkout", 2)], incident=_incident(labels={"service": "checkout"}))

    assert hypotheses[0].id == "deployment-checkout-v2"
    assert "the incident's series belongs to checkout" in hypotheses[0].evidence


def test_events_beyond_window_ignored():
    hypotheses = _rank(events=[_deployment("search", 31), _deployment("search", -31, "v4")])

    assert not any(hypothesis.id.startswith("deployment-") for hypothesis in hypotheses)


def test_config_change_and_autoscaling_rank():
    events = [
        ChangeEvent(type="config_change", service="search", time=START - 120, description="pool size 50 to 10"),
        ChangeEvent(type="autoscaling", service="search", time=START - 120),
    ]

    hypotheses = _rank(events=events, dimensions=_services(search=0.9, api=0.1))

    assert [hypothesis.id for hypothesis in hypotheses[:2]] == [
        f"config_change-search-{int(START - 120)}", f"autoscaling-search-{int(START - 120)}"]
    assert "pool size 50 to 10" in hypotheses[0].evidence


def _related(lag: float, correlation: float = 0.9, p_value: float = 0.001) -> RelatedAnomaly:
    return RelatedAnomaly(monitor="db-latency", fingerprint="abcdef123456", labels={"cluster": "main"},
                          query="db_latency_seconds", correlation=correlation, lag=lag, p_value=p_value,
                          deviation=12.0, anomalous=True, incident_id="3")


def test_leading_dependency_outranks_following():
    leading = _rank(related=[_related(180.0)])
    following = _rank(related=[_related(-180.0)])

    assert leading[0].id == "dependency-db-latency-abcdef"
    assert leading[0].title.startswith("Dependency db-latency {cluster=main} rose 3 minutes before api-latency")
    assert "followed api-latency" in next(h.title for h in following if h.id.startswith("dependency-"))
    assert _score(following, "dependency-") < _score(leading, "dependency-") / 2


def test_weak_correlation_is_no_hypothesis():
    hypotheses = _rank(related=[_related(0.0, correlation=0.3), _related(60.0, correlation=0.8, p_value=0.2)])

    assert not any(hypothesis.id.startswith("dependency-") for hypothesis in hypotheses)


def test_generic_hypotheses_fill_ranking():
    hypotheses = _rank()

    assert len(hypotheses) >= MIN_HYPOTHESES
    assert hypotheses[0].id == "generic-load"
    assert len({hypothesis.id for hypothesis in hypotheses}) == len(hypotheses)
    drop = _rank(incident=_incident(kind="drop", direction="below", deviation=-9.0))
    assert drop[0].id == "generic-availability"


def test_ids_are_slack_safe_and_unique():
    events = [_deployment("Search API", 3, "v2.4.0+build/7"), _deployment("search api", 3, "V2.4.0+build/7")]

    hypotheses = _rank(events=events)

    ids = [hypothesis.id for hypothesis in hypotheses if hypothesis.id.startswith("deployment-")]
    assert ids == ["deployment-search-api-v2.4.0-build-7", "deployment-search-api-v2.4.0-build-7-2"]


def test_merge_keeps_decisions():
    current = [
        Hypothesis(id="a", title="A", evidence="", status="rejected", decided_by="U1"),
        Hypothesis(id="b", title="B", evidence=""),
    ]
    fresh = [Hypothesis(id="c", title="C", evidence="", score=0.9), Hypothesis(id="a", title="A2", evidence=""),
             Hypothesis(id="b", title="B2", evidence="", score=0.5)]

    merged = merge_hypotheses(current, fresh)

    assert [(hypothesis.id, hypothesis.status) for hypothesis in merged] == [
        ("a", "rejected"), ("c", "proposed"), ("b", "proposed")]
    assert merged[0].decided_by == "U1"
    assert merged[2].title == "B2"

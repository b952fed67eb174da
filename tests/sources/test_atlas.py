"""The Atlas source against a loopback server that responds as Atlas's graph API documents (format=json)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot.errors import ConfigError, SourceError
from bot.monitors import parse_monitors
from bot.sources import AtlasSource, DataQuality, QueryRejected
from bot.sources.atlas import MAX_DATAPOINTS
from bot.sources.client import RetryPolicy
from bot.sources.registry import build_sources
from bot.sources.settings import SourceSettings
from tests.fakes.atlas import FakeAtlas
from tests.fakes.server import Reply
from tests.sources.conftest import FakeClock

QUERY = "name,sps,:eq,nf.app,api,:eq,:and,(,nf.cluster,),:by"
START = 1_700_000_040.0
STEP = 60.0


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def atlas():
    with FakeAtlas() as fake:
        yield fake


def _source(fake, clock):
    return AtlasSource(fake.url, retry=RetryPolicy(retries=2), sleep=clock.sleep)


def _add_clusters(fake):
    times = [START + STEP * index for index in range(6)]
    fake.add(QUERY, tags={"name": "sps", "nf.cluster": "api-main"}, timestamps=times,
             values=[100.0, 101.0, math.nan, 103.0, math.inf, 105.0])
    fake.add(QUERY, tags={"name": "sps", "nf.cluster": "api-canary"}, timestamps=times[:3],
             values=[10.0, 11.0, 12.0])


def test_lines_become_series(atlas, clock):
    _add_clusters(atlas)
    series = _source(atlas, clock).fetch(QUERY, start=START, end=START + 5 * STEP, step=STEP)

    by_cluster = {entry.labels["nf.cluster"]: entry for entry in series}
    main, canary = by_cluster["api-main"], by_cluster["api-canary"]
    assert dict(main.labels) == {"atlas.offset": "0w", "name": "sps", "nf.cluster": "api-main"}
    assert main.timestamps.tolist() == [START, START + 60, START + 180, START + 240, START + 300]
    assert main.values[:3].tolist() == [100.0, 101.0, 103.0]
    assert main.values[3] == math.inf
    assert main.quality == DataQuality(expected=6, received=5, non_finite=1)
    assert canary.values.tolist() == [10.0, 11.0, 12.0]
    assert canary.quality is not None and canary.quality.missing == 3


def test_stack_query_sent_untouched(atlas, clock):
    _add_clusters(atlas)
    _source(atlas, clock).fetch(QUERY, start=START, end=START + 5 * STEP, step=STEP)

    (request,) = atlas.requests
    assert request.path == "/api/v1/graph"
    assert request.params == {"q": QUERY, "format": "json", "s": str(int(START)), "e": str(int(START + 300)),
                              "step": "60s", "tz": "UTC"}


def test_bare_nan_in_body_parsed(atlas, clock):
    body = (b'{"start": 1700000040000, "step": 60000, "legend": ["sps"], "metrics": [{"name": "sps"}], '
            b'"values": [[1.5], [NaN], [-Infinity]], "notices": []}')
    atlas.server.queue(Reply(200, body, {"Content-Type": "application/json"}))

    (series,) = _source(atlas, clock).fetch("name,sps,:eq", start=START, end=START + 120, step=STEP)

    assert series.timestamps.tolist() == [START, START + 120]
    assert series.values[0] == 1.5
    assert series.values[1] == -math.inf


def test_quoted_non_finite_values_parsed(atlas, clock):
    atlas.server.queue(Reply.json(200, {"start": 1700000040000, "step": 60000, "legend": ["sps"],
                                        "metrics": [{"name": "sps"}], "values": [["NaN"], ["Infinity"], [2]]}))
    (series,) = _source(atlas, clock).fetch("name,sps,:eq", start=START, end=START + 120, step=STEP)
    assert series.timestamps.tolist() == [START + 60, START + 120]
    assert series.values[0] == math.inf
    assert series.values[1] == 2.0


def test_long_range_fetched_in_chunks(atlas, clock):
    times = [START + STEP * index for index in range(3000)]
    atlas.add("name,queue,:eq", tags={"name": "queue"}, timestamps=times, values=[float(i) for i in range(3000)])

    (series,) = _source(atlas, clock).fetch("name,queue,:eq", start=times[0], end=times[-1], step=STEP)

    assert len(atlas.requests) == math.ceil(3000 / MAX_DATAPOINTS)
    assert series.timestamps.size == 3000
    assert np.all(np.diff(series.timestamps) == STEP)
    assert series.values[-1] == 2999.0


def test_bad_expression_rejected(atlas, clock):
    with pytest.raises(QueryRejected) as caught:
        _source(atlas, clock).fetch("name,sps,:eq,:bogus", start=START, end=START + 60, step=STEP)
    assert "rejected the query (HTTP 400): IllegalStateException: unknown word ':bogus'" in str(caught.value)
    assert len(atlas.requests) == 1


def test_server_error_retried_then_reported(atlas, clock):
    atlas.server.queue(Reply.json(500, {"type": "error", "message": "RuntimeException: store unavailable"}),
                       count=3)
    with pytest.raises(SourceError) as caught:
        _source(atlas, clock).fetch(QUERY, start=START, end=START + 60, step=STEP)
    assert str(caught.value) == f"Atlas at {atlas.url} failed (HTTP 500): RuntimeException: store unavailable"
    assert len(atlas.requests) == 3


def test_malformed_json_reported(atlas, clock):
    atlas.server.queue(Reply(200, b'{"start": 1700000040000, "values": [[1.0', {"Content-Type": "application/json"}))
    with pytest.raises(SourceError) as caught:
        _source(atlas, clock).fetch(QUERY, start=START, end=START + 60, step=STEP)
    assert "responded with HTTP 200 and a body that is not JSON" in str(caught.value)


def test_ragged_values_row_reported(atlas, clock):
    atlas.server.queue(Reply.json(200, {"start": 1700000040000, "step": 60000, "legend": ["a", "b"],
                                        "metrics": [{"name": "a"}, {"name": "b"}], "values": [[1.0]]}))
    with pytest.raises(SourceError) as caught:
        _source(atlas, clock).fetch(QUERY, start=START, end=START + 60, step=STEP)
    assert "returned a values row with 1 columns for 2 lines" in str(caught.value)


def test_unauthorized_reported(atlas, clock):
    atlas.server.queue(Reply.text(401, "Unauthorized"))
    with pytest.raises(SourceError) as caught:
        _source(atlas, clock).fetch(QUERY, start=START, end=START + 60, step=STEP)
    assert "rejected the credentials (HTTP 401)" in str(caught.value)


def test_environment_and_declared_atlas(atlas, monkeypatch):
    _add_clusters(atlas)
    monkeypatch.setenv("ATLAS_URL", atlas.url)
    monkeypatch.setenv("ATLAS_TEAM", "observability")
    parsed = parse_monitors(
        "sources:\n"
        f"  atlas-eu: {{type: atlas, url: '{atlas.url}', headers_env: {{X-Team: ATLAS_TEAM}}}}\n"
        "monitors:\n  - {name: sps, source: atlas-eu, query: 'name,sps,:eq', channel: '#ops'}\n"
    )
    sources = build_sources(SourceSettings(), parsed.sources)

    assert sorted(sources) == ["atlas", "atlas-eu"]
    assert len(sources["atlas"].fetch(QUERY, start=START, end=START + 300, step=STEP)) == 2
    sources["atlas-eu"].fetch(QUERY, start=START, end=START + 300, step=STEP)
    assert atlas.requests[-1].headers["x-team"] == "observability"


def test_atlas_url_without_scheme_rejected(monkeypatch):
    monkeypatch.setenv("ATLAS_URL", "atlas.internal:7101")
    with pytest.raises(ConfigError) as caught:
        build_sources(SourceSettings())
    assert caught.value.problems == [
        "ATLAS_URL='atlas.internal:7101' is not an http(s) URL; set it like http://atlas:7101"
    ]

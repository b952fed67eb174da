"""The Prometheus source against a real server: parsing, chunking and every failure."""

from __future__ import annotations

import http.server
import math
import threading
import time

import numpy as np
import pytest

from bot.errors import SourceError, SourceUnreachable
from bot.sources.prometheus import MAX_POINTS_PER_SERIES, PrometheusSource
from tests.harness.processes import LOOPBACK, free_port
from tests.harness.prometheus_server import BackfillSeries, backfill, start_prometheus

MINUTE = 60.0


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    end = math.floor(time.time() / MINUTE) * MINUTE - 3600
    timestamps = np.arange(end - 8 * 86400, end + MINUTE, MINUTE)
    rng = np.random.default_rng(7)
    weird = np.full(timestamps.size, 5.0)
    weird[-30] = np.nan
    weird[-20] = np.inf
    weird[-10] = -np.inf

    data_dir = tmp_path_factory.mktemp("prometheus-source") / "data"
    backfill(data_dir, [
        BackfillSeries("test_gauge", {"instance": "a"}, timestamps, rng.normal(10, 1, timestamps.size)),
        BackfillSeries("test_gauge", {"instance": "b"}, timestamps, rng.normal(20, 1, timestamps.size)),
        BackfillSeries("weird_values", {}, timestamps, weird),
    ])
    server = start_prometheus(data_dir)
    yield server, timestamps
    server.stop()


def test_matrix_becomes_one_series_per_label_set(prometheus):
    server, timestamps = prometheus
    source = PrometheusSource(server.url)
    series = source.fetch("test_gauge", start=timestamps[-60], end=timestamps[-1], step=MINUTE)

    by_instance = {entry.labels["instance"]: entry for entry in series}
    assert sorted(by_instance) == ["a", "b"]
    assert by_instance["a"].labels["__name__"] == "test_gauge"
    assert by_instance["a"].timestamps.size == 60
    assert by_instance["a"].timestamps[0] == timestamps[-60]
    assert 5 < by_instance["a"].values.mean() < 15
    assert 15 < by_instance["b"].values.mean() < 25


def test_nan_and_infinities_parsed_explicitly(prometheus):
    server, timestamps = prometheus
    source = PrometheusSource(server.url)
    (series,) = source.fetch("weird_values", start=timestamps[-40], end=timestamps[-1], step=MINUTE)

    values = dict(zip(series.timestamps, series.values, strict=True))
    assert math.isnan(values[timestamps[-30]])
    assert values[timestamps[-20]] == math.inf
    assert values[timestamps[-10]] == -math.inf
    assert values[timestamps[-1]] == 5.0


def test_long_range_fetched_in_chunks_and_merged(prometheus):
    server, timestamps = prometheus
    source = PrometheusSource(server.url)
    start, end = timestamps[0], timestamps[-1]
    expected_points = int((end - start) / MINUTE) + 1
    assert expected_points > MAX_POINTS_PER_SERIES

    series = source.fetch('test_gauge{instance="a"}', start=start, end=end, step=MINUTE)

    assert len(series) == 1
    assert series[0].timestamps.size == expected_points
    assert np.all(np.diff(series[0].timestamps) == MINUTE)


def test_bad_query_names_query_and_error(prometheus):
    server, timestamps = prometheus
    source = PrometheusSource(server.url)
    with pytest.raises(SourceError) as caught:
        source.fetch("rate(test_gauge[5m]", start=timestamps[-10], end=timestamps[-1], step=MINUTE)

    message = str(caught.value)
    assert "rejected the query" in message
    assert "bad_data" in message
    assert caught.value.query == "rate(test_gauge[5m]"
    assert caught.value.url == server.url


def test_unreachable_url_named():
    url = f"http://{LOOPBACK}:{free_port()}"
    source = PrometheusSource(url, timeout=2)
    with pytest.raises(SourceUnreachable) as caught:
        source.fetch("up", start=0, end=60, step=60)
    assert f"Prometheus at {url} is unreachable" in str(caught.value)


class _HtmlErrorHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the stdlib's handler naming
        body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_html_error_page_from_proxy_reported():
    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), _HtmlErrorHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://{LOOPBACK}:{server.server_address[1]}"
        with pytest.raises(SourceError) as caught:
            PrometheusSource(url).fetch("up", start=0, end=60, step=60)
    finally:
        server.shutdown()
        server.server_close()
    message = str(caught.value)
    assert "HTTP 502" in message
    assert "not JSON" in message
    assert "502 Bad Gateway" in message

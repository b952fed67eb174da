"""The monitors file: valid files load, every bad value is named with its fix."""

import pytest

from bot.errors import ConfigError
from bot.monitors import load_monitors, parse_monitors

VALID = """
sources:
  prometheus-eu:
    type: prometheus
    url: http://prometheus-eu:9090/
monitors:
  - name: api-cpu
    source: prometheus
    query: avg(rate(node_cpu_seconds_total[5m]))
    interval: 1m
    channel: "#alerts"
    labels: {team: infra}
    detector: {name: sigma, window: 5m, baseline: 7d, threshold: 3.5, direction: above}
  - name: api-latency
    source: prometheus-eu
    query: histogram_quantile(0.99, rate(http_request_duration_seconds_bucket[5m]))
    channel: "#alerts"
    detector: {name: mad}
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_monitors(text, origin="monitors.yml")
    assert str(caught.value).startswith("monitors.yml:")
    return caught.value.problems


def test_valid_file_loads_with_seconds():
    parsed = parse_monitors(VALID)
    cpu, latency = parsed.monitors

    assert cpu.interval == 60
    assert cpu.detector.window == 300
    assert cpu.detector.baseline == 7 * 86400
    assert cpu.history_span() == 7 * 86400 + 300
    assert cpu.detector.to_settings().threshold == 3.5
    assert cpu.detector.to_settings().direction == "above"
    assert latency.source == "prometheus-eu"
    assert parsed.sources["prometheus-eu"].url == "http://prometheus-eu:9090"


def test_unset_threshold_takes_detector_default():
    latency = parse_monitors(VALID).monitors[1]
    assert latency.detector.threshold is None
    assert latency.detector.to_settings().threshold == 2.5


def test_missing_field_named():
    problems = _problems("monitors:\n  - name: api-cpu\n    source: prometheus\n    channel: '#a'\n")
    assert problems == ["monitor 'api-cpu' (entry 1): field 'query' is missing; add it"]


def test_unknown_source_lists_choices():
    problems = _problems(
        "monitors:\n  - {name: api-cpu, source: promethues, query: up, channel: '#a'}\n"
    )
    assert len(problems) == 1
    assert "field 'source': 'promethues' is not a known source" in problems[0]
    assert "use one of prometheus, datadog, atlas, replay" in problems[0]


def test_malformed_duration_named_with_example():
    problems = _problems(
        "monitors:\n  - {name: api-cpu, source: prometheus, query: up, channel: '#a', interval: 5 minutes}\n"
    )
    assert problems == [
        "monitor 'api-cpu' (entry 1): field 'interval': '5 minutes' is not a duration; "
        "use a number with a unit s, m, h, d or w, such as 30s, 5m, 1h30m or 7d"
    ]


def test_every_problem_reported_at_once():
    problems = _problems("""
monitors:
  - {name: Bad Name, source: nowhere, query: up, channel: '#a'}
  - name: b
    source: prometheus
    query: up
    channel: '#a'
    detector: {name: sigmaa, threshold: -1, window: 5x, colour: red}
""")
    text = "\n".join(problems)
    assert "'Bad Name' is not a valid monitor name" in text
    assert "'nowhere' is not a known source" in text
    assert "'sigmaa' is not a known detector" in text
    assert "field 'detector.threshold': -1 is out of range; use a number above 0" in text
    assert "field 'detector.window': '5x' is not a duration" in text
    assert "field 'detector.colour' is not a known field; remove it" in text
    assert len(problems) == 6


def test_malformed_source_url_named():
    problems = _problems(
        "sources:\n  eu: {type: prometheus, url: 'prometheus:9090'}\n"
        "monitors:\n  - {name: a, source: eu, query: up, channel: '#a'}\n"
    )
    assert problems == [
        "source 'eu': field 'url': 'prometheus:9090' is not an http(s) URL; "
        "write it as http://host:port, such as http://prometheus:9090"
    ]


def test_duplicate_monitor_names():
    problems = _problems(
        "monitors:\n  - {name: a, source: prometheus, query: up, channel: '#a'}\n"
        "  - {name: a, source: prometheus, query: up, channel: '#b'}\n"
    )
    assert problems == ["monitor 'a' is defined more than once; give each monitor a unique name"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("monitors: [", "is not valid YAML"),
        ("- a\n- b\n", "has no top-level 'monitors:' list"),
        ("monitors: []\n", "field 'monitors'"),
    ],
)
def test_malformed_documents(text, expected):
    problems = _problems(text)
    assert expected in problems[0]


def test_yaml_error_names_line_and_fix():
    problems = _problems("monitors:\n  - name: a\n    source: prometheus\n   query: up\n")
    assert problems[0].startswith("the file is not valid YAML at line 4, column 4:")
    assert "indented alike" in problems[0]


def test_unknown_timezone_named():
    problems = _problems(
        "monitors:\n  - {name: a, source: prometheus, query: up, channel: '#a', "
        "detector: {timezone: Mars/Olympus}}\n"
    )
    assert "'Mars/Olympus' is not a known time zone" in problems[0]


def test_missing_file_names_setting(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_monitors(tmp_path / "nope.yml")
    assert "file not found; check the path (the service reads it from MONITORS_FILE)" in caught.value.problems[0]


@pytest.mark.parametrize(
    ("detector", "expected"),
    [
        ("{for: soon}", "field 'detector.for': 'soon' is not a duration; use a number with a unit"),
        ("{tail: heavy}", "field 'detector.tail': 'heavy' is not allowed; use one of 'point' or 'conservative'"),
        ("{window: 0s}", "field 'detector.window': 0s is not a window; use a duration above 0, such as 5m"),
        ("{min_history: soon}", "field 'detector.min_history': 'soon' is not a duration; use a number with a unit"),
        ("{window: 8d, baseline: 7d}", "field 'detector': window 8d is not shorter than baseline 7d; the baseline"),
        ("{threshold: 0.01}", "field 'detector': threshold 0.01 is a bound in baseline sigma (k for mad and iqr), "
         "not a p-value"),
        ("{name: seasonal, seasonality: weekly, baseline: 7d}", "field 'detector': seasonality 'weekly' needs a "
         "baseline of two weeks or more, not 7d; use baseline: 14d or more"),
        ("{name: sigma, seasonality: weekly}", "field 'detector': seasonality 'weekly' has no effect on the sigma "
         "detector; remove it, or use a detector with a seasonal profile: seasonal, ensemble, trend, agile, robust"),
    ],
)
def test_bad_detector_values_named(detector, expected):
    problems = _problems(
        f"monitors:\n  - {{name: api-cpu, source: prometheus, query: up, channel: '#a', detector: {detector}}}\n"
    )
    assert len(problems) == 1
    assert expected in problems[0]


def test_interval_longer_than_window_named():
    problems = _problems(
        "monitors:\n  - {name: api-cpu, source: prometheus, query: up, channel: '#a', interval: 10m,"
        " detector: {window: 5m}}\n"
    )
    assert problems == [
        "monitor 'api-cpu' (entry 1): field 'detector': interval 10m is longer than window 5m: points "
        "between polls would never be in an alert window; poll at least once per window, or widen the window"
    ]

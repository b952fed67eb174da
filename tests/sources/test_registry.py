"""Source configuration: the `sources:` section of the monitors file, the environment, and the registry."""

from __future__ import annotations

import pytest

from bot.errors import ConfigError
from bot.monitors import parse_monitors
from bot.settings import Settings
from bot.sources import AtlasSource, DatadogSource, PrometheusSource
from bot.sources.registry import build_sources, unconfigured_sources
from bot.sources.settings import SourceSettings

MONITOR = "monitors:\n  - {name: cpu, source: eu, query: up, channel: '#ops'}\n"


def _problems(sources_yaml: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_monitors(f"sources:\n{sources_yaml}\n{MONITOR}")
    return caught.value.problems


def test_every_option_accepted():
    parsed = parse_monitors(
        "sources:\n"
        "  eu:\n"
        "    type: prometheus\n"
        "    url: https://prometheus-eu.internal:9090/\n"
        "    bearer_token_env: PROM_EU_TOKEN\n"
        "    headers: {X-Scope-OrgID: team-a}\n"
        "    headers_env: {X-Extra-Key: PROM_EU_EXTRA}\n"
        "    ca_file: /etc/ssl/internal-ca.pem\n"
        "    timeout: 15s\n"
        "    retries: 3\n"
        "    backoff: 2s\n"
        "    raw_counters: keep\n"
        + MONITOR
    )
    config = parsed.sources["eu"]
    assert config.url == "https://prometheus-eu.internal:9090"
    assert (config.timeout, config.retries, config.backoff) == (15.0, 3, 2.0)
    assert config.raw_counters == "keep"


def test_url_required_for_prometheus():
    assert _problems("  eu: {type: prometheus}") == [
        "source 'eu': field 'url': a prometheus source needs the server's base URL; "
        "add one such as http://prometheus:9090"
    ]


def test_datadog_needs_no_url():
    parsed = parse_monitors(f"sources:\n  eu: {{type: datadog, site: datadoghq.eu}}\n{MONITOR}")
    assert parsed.sources["eu"].site == "datadoghq.eu"


def test_field_of_other_type_rejected():
    assert _problems("  eu: {type: prometheus, url: 'http://p:9090', site: datadoghq.eu}") == [
        "source 'eu': field 'site': applies only to datadog sources; remove it from this prometheus source"
    ]
    assert _problems("  eu: {type: datadog, raw_counters: keep}") == [
        "source 'eu': field 'raw_counters': applies only to prometheus sources; remove it from this datadog source"
    ]


def test_pasted_token_not_repeated():
    problems = _problems("  eu: {type: prometheus, url: 'http://p:9090', bearer_token_env: 'eyJhbGciOi.secret'}")
    assert problems == [
        "source 'eu': field 'bearer_token_env': is not an environment variable name; give the name of the "
        "variable that holds the secret, such as PROMETHEUS_EU_TOKEN, and export the secret in it"
    ]
    assert "secret'" not in problems[0]


def test_credentials_in_headers_rejected():
    (problem,) = _problems("  eu: {type: prometheus, url: 'http://p:9090', headers: {Authorization: 'Bearer x'}}")
    assert problem.startswith("source 'eu': field 'headers': header 'Authorization' carries credentials")
    assert "use bearer_token_env, or headers_env" in problem
    assert "Bearer x" not in problem


def test_credentials_in_url_rejected():
    (problem,) = _problems("  eu: {type: prometheus, url: 'http://user:pw@p:9090'}")
    assert problem == ("source 'eu': field 'url': contains a user name or password; keep credentials out of "
                       "the file: use username and password_env, or bearer_token_env")


def test_username_needs_password_variable():
    assert _problems("  eu: {type: prometheus, url: 'http://p:9090', username: reader}") == [
        "source 'eu': field 'password_env': basic auth for user 'reader' needs password_env too: "
        "the variable that holds the password"
    ]


def test_bad_timeout_and_retries():
    problems = _problems("  eu: {type: prometheus, url: 'http://p:9090', timeout: 0s, retries: 20}")
    assert problems == [
        "source 'eu': field 'timeout': 0s is not a usable timeout; use a positive duration such as 10s",
        "source 'eu': field 'retries': 20 is out of range; use a number at most 10",
    ]


def test_unknown_type_lists_choices():
    (problem,) = _problems("  eu: {type: graphite, url: 'http://g:8080'}")
    assert problem == ("source 'eu': field 'type': 'graphite' is not allowed; "
                       "use one of 'prometheus', 'datadog' or 'atlas'")


def test_environment_sources_built(monkeypatch):
    monkeypatch.setenv("PROMETHEUS_URL", "http://prometheus:9090")
    monkeypatch.setenv("DATADOG_API_KEY", "api")
    monkeypatch.setenv("DATADOG_APP_KEY", "app")
    monkeypatch.setenv("DATADOG_SITE", "datadoghq.eu")
    monkeypatch.setenv("ATLAS_URL", "http://atlas:7101")

    sources = build_sources(SourceSettings())

    assert isinstance(sources["prometheus"], PrometheusSource)
    assert isinstance(sources["datadog"], DatadogSource)
    assert isinstance(sources["atlas"], AtlasSource)
    assert sources["datadog"].base_url == "https://api.datadoghq.eu"


def test_process_settings_accepted(monkeypatch):
    monkeypatch.setenv("HTTP_RETRIES", "4")
    sources = build_sources(Settings(prometheus_url="http://prometheus:9090", http_timeout=3))
    source = sources["prometheus"]
    assert source._http.timeout == 3
    assert source._http.retry.retries == 4


def test_declared_source_replaces_environment_one(monkeypatch, caplog):
    monkeypatch.setenv("PROMETHEUS_URL", "http://prometheus-env:9090")
    parsed = parse_monitors(
        "sources:\n  prometheus: {type: prometheus, url: 'http://prometheus-file:9090'}\n"
        "monitors:\n  - {name: cpu, source: prometheus, query: up, channel: '#ops'}\n"
    )
    sources = build_sources(SourceSettings(), parsed.sources)
    assert sources["prometheus"].base_url == "http://prometheus-file:9090"
    assert "source prometheus is declared in the monitors file" in caplog.text


def test_invalid_headers_variable_not_echoed(monkeypatch):
    monkeypatch.setenv("PROMETHEUS_URL", "http://prometheus:9090")
    monkeypatch.setenv("PROMETHEUS_HEADERS", "X-Api-Key: hunter2")
    with pytest.raises(ConfigError) as caught:
        build_sources(SourceSettings())
    assert caught.value.problems == [
        'PROMETHEUS_HEADERS is not valid JSON; set it to a JSON object such as {"X-Scope-OrgID": "team-a"}'
    ]
    assert "hunter2" not in str(caught.value)


def test_half_basic_auth_reported(monkeypatch):
    monkeypatch.setenv("PROMETHEUS_URL", "http://prometheus:9090")
    monkeypatch.setenv("PROMETHEUS_USERNAME", "reader")
    with pytest.raises(ConfigError) as caught:
        build_sources(SourceSettings())
    assert caught.value.problems == [
        "PROMETHEUS_USERNAME and PROMETHEUS_PASSWORD go together; set both for basic auth"
    ]


def test_file_and_environment_problems_reported_together(monkeypatch):
    monkeypatch.setenv("DATADOG_API_KEY", "api")
    parsed = parse_monitors(
        "sources:\n  eu: {type: prometheus, url: 'http://p:9090', bearer_token_env: UNSET_TOKEN}\n" + MONITOR
    )
    with pytest.raises(ConfigError) as caught:
        build_sources(SourceSettings(), parsed.sources, origin="monitors.yml")
    assert caught.value.path == "monitors.yml"
    assert caught.value.problems == [
        "source 'eu': field 'bearer_token_env': the variable UNSET_TOKEN is not set; export it with the bearer token",
        "environment: DATADOG_APP_KEY is missing; Datadog's query API needs both DATADOG_API_KEY and "
        "DATADOG_APP_KEY",
    ]


def test_secrets_hidden_in_settings_repr(monkeypatch):
    monkeypatch.setenv("PROMETHEUS_BEARER_TOKEN", "prom-secret")
    monkeypatch.setenv("DATADOG_API_KEY", "dd-secret")
    text = repr(SourceSettings())
    assert "prom-secret" not in text
    assert "dd-secret" not in text


def test_unconfigured_sources_name_variables():
    parsed = parse_monitors(
        "monitors:\n"
        "  - {name: cpu, source: prometheus, query: up, channel: '#ops'}\n"
        "  - {name: orders, source: datadog, query: 'avg:orders{*}', channel: '#ops'}\n"
        "  - {name: sps, source: atlas, query: 'name,sps,:eq', channel: '#ops'}\n"
    )
    assert unconfigured_sources(parsed.monitors, {}) == [
        "monitor 'cpu': source 'prometheus' is not configured; set PROMETHEUS_URL (or its credentials) "
        "in the environment, or declare it under 'sources:' in the monitors file",
        "monitor 'orders': source 'datadog' is not configured; set DATADOG_API_KEY and DATADOG_APP_KEY "
        "in the environment, or declare it under 'sources:' in the monitors file",
        "monitor 'sps': source 'atlas' is not configured; set ATLAS_URL (or its credentials) "
        "in the environment, or declare it under 'sources:' in the monitors file",
    ]

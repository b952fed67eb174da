"""Authentication, extra headers and a private CA, through a reverse proxy in front of the real Prometheus.

The sources are built by the registry, from environment variables or from a
monitors file, as the service builds them.
"""

from __future__ import annotations

import pytest

from bot.errors import ConfigError, SourceError, SourceUnreachable
from bot.monitors import parse_monitors
from bot.sources.registry import build_sources
from bot.sources.settings import SourceSettings
from tests.fakes.prometheus_proxy import PrometheusProxy
from tests.fakes.tls import make_certificates
from tests.sources.conftest import MINUTE

TOKEN = "prom-token-for-tests"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("tls"))


def _fetch(source, history):
    return source.fetch("steady_gauge", start=history.end - 9 * MINUTE, end=history.end, step=MINUTE)


def _declared(yaml_sources: str):
    parsed = parse_monitors(
        f"sources:\n{yaml_sources}\n"
        "monitors:\n  - {name: cpu, source: eu, query: steady_gauge, channel: '#ops'}\n"
    )
    return parsed.sources


def test_bearer_token_from_environment(history, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_BEARER_TOKEN", TOKEN)
    with PrometheusProxy(history.url, bearer_token=TOKEN) as proxy:
        monkeypatch.setenv("PROMETHEUS_URL", proxy.url)
        sources = build_sources(SourceSettings())
        series = _fetch(sources["prometheus"], history)

    assert len(series) == 2
    assert proxy.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_wrong_token_names_the_variables(history, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_BEARER_TOKEN", "stale-token")
    with PrometheusProxy(history.url, bearer_token=TOKEN) as proxy:
        monkeypatch.setenv("PROMETHEUS_URL", proxy.url)
        source = build_sources(SourceSettings())["prometheus"]
        with pytest.raises(SourceError) as caught:
            _fetch(source, history)

    message = str(caught.value)
    assert "rejected the credentials (HTTP 401); check PROMETHEUS_BEARER_TOKEN" in message
    assert "stale-token" not in message
    assert len(proxy.requests) == 1


def test_basic_auth_from_environment(history, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_USERNAME", "reader")
    monkeypatch.setenv("PROMETHEUS_PASSWORD", "reader-password")
    with PrometheusProxy(history.url, basic=("reader", "reader-password")) as proxy:
        monkeypatch.setenv("PROMETHEUS_URL", proxy.url)
        series = _fetch(build_sources(SourceSettings())["prometheus"], history)
    assert len(series) == 2


def test_extra_headers_from_environment(history, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_HEADERS", '{"X-Scope-OrgID": "team-a"}')
    with PrometheusProxy(history.url) as proxy:
        monkeypatch.setenv("PROMETHEUS_URL", proxy.url)
        _fetch(build_sources(SourceSettings())["prometheus"], history)
    assert proxy.requests[0].headers["x-scope-orgid"] == "team-a"


def test_declared_source_reads_secrets_from_named_variables(history, monkeypatch):
    monkeypatch.setenv("PROM_EU_TOKEN", TOKEN)
    monkeypatch.setenv("PROM_EU_TENANT", "team-b")
    with PrometheusProxy(history.url, bearer_token=TOKEN) as proxy:
        declared = _declared(
            f"  eu:\n    type: prometheus\n    url: {proxy.url}\n    bearer_token_env: PROM_EU_TOKEN\n"
            "    headers: {X-Source: anomaly-bot}\n    headers_env: {X-Scope-OrgID: PROM_EU_TENANT}\n"
        )
        source = build_sources(SourceSettings(), declared)["eu"]
        series = _fetch(source, history)

    assert source.name == "eu"
    assert len(series) == 2
    headers = proxy.requests[0].headers
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["x-source"] == "anomaly-bot"
    assert headers["x-scope-orgid"] == "team-b"


def test_declared_basic_auth(history, monkeypatch):
    monkeypatch.setenv("PROM_EU_PASSWORD", "eu-password")
    with PrometheusProxy(history.url, basic=("eu-reader", "eu-password")) as proxy:
        declared = _declared(
            f"  eu: {{type: prometheus, url: '{proxy.url}', username: eu-reader, password_env: PROM_EU_PASSWORD}}"
        )
        series = _fetch(build_sources(SourceSettings(), declared)["eu"], history)
    assert len(series) == 2


def test_declared_source_without_credentials_hints_at_fields(history):
    with PrometheusProxy(history.url, bearer_token=TOKEN) as proxy:
        source = build_sources(SourceSettings(), _declared(f"  eu: {{type: prometheus, url: '{proxy.url}'}}"))["eu"]
        with pytest.raises(SourceError) as caught:
            _fetch(source, history)
    assert "add bearer_token_env, or username and password_env, to the source" in str(caught.value)


def test_private_ca_trusted_from_file(history, certificates, monkeypatch):
    with PrometheusProxy(history.url, tls=certificates.server_context()) as proxy:
        assert proxy.url.startswith("https://")
        monkeypatch.setenv("PROMETHEUS_URL", proxy.url)
        monkeypatch.setenv("PROMETHEUS_CA_FILE", str(certificates.ca_file))
        series = _fetch(build_sources(SourceSettings())["prometheus"], history)
    assert len(series) == 2


def test_untrusted_certificate_named_without_retry(history, certificates, monkeypatch):
    with PrometheusProxy(history.url, tls=certificates.server_context()) as proxy:
        monkeypatch.setenv("PROMETHEUS_URL", proxy.url)
        source = build_sources(SourceSettings())["prometheus"]
        with pytest.raises(SourceUnreachable) as caught:
            _fetch(source, history)

    message = str(caught.value)
    assert "presented a TLS certificate that is not trusted" in message
    assert "CERTIFICATE_VERIFY_FAILED" in message
    assert "set the source's CA file" in message
    assert proxy.requests == []


def test_declared_ca_file(history, certificates):
    with PrometheusProxy(history.url, tls=certificates.server_context()) as proxy:
        declared = _declared(f"  eu: {{type: prometheus, url: '{proxy.url}', ca_file: '{certificates.ca_file}'}}")
        series = _fetch(build_sources(SourceSettings(), declared)["eu"], history)
    assert len(series) == 2


def test_missing_ca_file_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_URL", "https://prometheus.internal:9090")
    monkeypatch.setenv("PROMETHEUS_CA_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError) as caught:
        build_sources(SourceSettings())
    assert caught.value.path == "environment"
    assert caught.value.problems == [
        f"PROMETHEUS_CA_FILE: the CA file {str(tmp_path / 'missing.pem')!r} does not exist; give the path of a "
        "PEM file with the CA certificate that signed the server's certificate"
    ]


def test_ca_file_without_certificate_is_a_config_error(tmp_path):
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("this is not a certificate\n", encoding="utf-8")
    declared = _declared(f"  eu: {{type: prometheus, url: 'https://prometheus:9090', ca_file: '{not_pem}'}}")
    with pytest.raises(ConfigError) as caught:
        build_sources(SourceSettings(), declared, origin="monitors.yml")
    (problem,) = caught.value.problems
    assert problem.startswith("source 'eu': field 'ca_file': the CA file of source 'eu' cannot be used")
    assert problem.endswith("give a PEM file that contains at least one CA certificate")

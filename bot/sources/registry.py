"""Build the configured sources: the ones the environment sets, and the ones the monitors file declares.

The environment configures one source per backend type, named after it:
`prometheus` (PROMETHEUS_URL), `datadog` (DATADOG_API_KEY and
DATADOG_APP_KEY) and `atlas` (ATLAS_URL). The monitors file may declare
more under `sources:`; a declared source whose name matches a type replaces
the environment's. Every invalid value is reported in one ConfigError that
names the variable or field and the fix, and never a secret.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx
import redis

from bot.errors import ConfigError
from bot.monitors import Monitor, SourceConfig
from bot.sources.atlas import AtlasSource
from bot.sources.base import Source
from bot.sources.client import RetryPolicy
from bot.sources.datadog import DatadogSource
from bot.sources.prometheus import PrometheusSource
from bot.sources.ratelimit import RateBudget
from bot.sources.settings import SourceSettings, parse_headers
from bot.store import DEFAULT_PREFIX

log = logging.getLogger(__name__)

# The variables to set for each source type the environment configures.
ENVIRONMENT_HINTS = {
    "prometheus": "set PROMETHEUS_URL (or its credentials)",
    "datadog": "set DATADOG_API_KEY and DATADOG_APP_KEY",
    "atlas": "set ATLAS_URL (or its credentials)",
}
REPLAY_HINT = ("a replay source serves recorded series in the demo and in backtests only; "
               "use prometheus, datadog or atlas in the service")


def build_sources(
    settings: SourceSettings | Any | None = None,
    declared: Mapping[str, SourceConfig] | None = None,
    *,
    redis_client: redis.Redis | None = None,
    origin: str | None = None,
) -> dict[str, Source]:
    """Create the environment's sources and the ones the monitors file declares.

    `settings` is a SourceSettings, or the process Settings (its source fields
    are used and the rest is read from the environment), or None for the
    environment alone. `redis_client` stores the rate-limit budgets that
    workers share; without it each process keeps its own. `origin` names the
    monitors file in error messages. Raises ConfigError listing every
    invalid value.
    """
    if isinstance(settings, SourceSettings):
        source_settings = settings
    elif settings is None:
        source_settings = SourceSettings()
    else:
        source_settings = SourceSettings.from_settings(settings)
        if origin is None and getattr(settings, "monitors_file", None):
            origin = str(settings.monitors_file)

    file_problems: list[str] = []
    sources: dict[str, Source] = {}
    for name, config in (declared or {}).items():
        source = _declared_source(name, config, source_settings, redis_client, file_problems)
        if source is not None:
            sources[name] = source

    env_problems: list[str] = []
    for name, source in _environment_sources(source_settings, redis_client, env_problems).items():
        if name in sources:
            log.warning("source %s is declared in the monitors file; the environment's %s settings are not used",
                        name, name.upper())
            _close(source)
            continue
        sources[name] = source

    if file_problems or env_problems:
        for source in sources.values():
            _close(source)
        if not file_problems:
            raise ConfigError("environment", env_problems)
        env_lines = [f"environment: {line}" for line in env_problems]
        raise ConfigError(origin or "monitors file", file_problems + env_lines)
    return sources


def unconfigured_sources(monitors: Iterable[Monitor], sources: Mapping[str, Source]) -> list[str]:
    """Describe each monitor whose source is neither set in the environment nor declared in the file."""
    problems = []
    for monitor in monitors:
        if monitor.source in sources:
            continue
        if monitor.source == "replay":
            problems.append(f"monitor {monitor.name!r}: source 'replay' is not available here; {REPLAY_HINT}")
            continue
        hint = ENVIRONMENT_HINTS.get(monitor.source, f"set {monitor.source.upper()}_URL (or its credentials)")
        problems.append(
            f"monitor {monitor.name!r}: source {monitor.source!r} is not configured; {hint} in the environment, "
            "or declare it under 'sources:' in the monitors file"
        )
    return problems


# --- the environment's sources -------------------------------------------------


def _environment_sources(
    settings: SourceSettings, redis_client: redis.Redis | None, problems: list[str]
) -> dict[str, Source]:
    sources: dict[str, Source] = {}
    retry = settings.retry_policy()

    if settings.prometheus_url:
        headers = _environment_headers(settings.prometheus_headers, "PROMETHEUS_HEADERS", problems)
        auth = None
        if settings.prometheus_bearer_token:
            headers["Authorization"] = f"Bearer {settings.prometheus_bearer_token.get_secret_value()}"
        elif settings.prometheus_username and settings.prometheus_password:
            auth = httpx.BasicAuth(settings.prometheus_username, settings.prometheus_password.get_secret_value())
        elif settings.prometheus_username or settings.prometheus_password:
            problems.append("PROMETHEUS_USERNAME and PROMETHEUS_PASSWORD go together; set both for basic auth")
        ca_file = _ca_file(settings.prometheus_ca_file, "PROMETHEUS_CA_FILE", problems)
        url = _environment_url(settings.prometheus_url, "PROMETHEUS_URL", "http://prometheus:9090", problems)
        if url is not None:
            sources["prometheus"] = _create(
                "prometheus", problems, "PROMETHEUS_CA_FILE", lambda: PrometheusSource(
                    url, name="prometheus", timeout=settings.http_timeout, headers=headers, auth=auth,
                    ca_file=ca_file, retry=retry, raw_counters=settings.prometheus_raw_counters,
                    auth_hint="check PROMETHEUS_BEARER_TOKEN, or PROMETHEUS_USERNAME and PROMETHEUS_PASSWORD",
                ))

    api_key, app_key = settings.datadog_api_key, settings.datadog_app_key
    if api_key and app_key:
        valid = _valid_site(settings.datadog_site, "DATADOG_SITE", problems)
        base_url = None
        if settings.datadog_url:
            base_url = _environment_url(settings.datadog_url, "DATADOG_URL", "https://api.datadoghq.eu", problems)
            valid = valid and base_url is not None
        if valid:
            sources["datadog"] = DatadogSource(
                api_key=api_key.get_secret_value(), app_key=app_key.get_secret_value(),
                site=settings.datadog_site, base_url=base_url, name="datadog", timeout=settings.http_timeout,
                retry=retry, budget=_budget("datadog", redis_client),
            )
    elif api_key or app_key:
        missing = "DATADOG_APP_KEY" if api_key else "DATADOG_API_KEY"
        problems.append(f"{missing} is missing; Datadog's query API needs both DATADOG_API_KEY and DATADOG_APP_KEY")

    if settings.atlas_url:
        headers = _environment_headers(settings.atlas_headers, "ATLAS_HEADERS", problems)
        url = _environment_url(settings.atlas_url, "ATLAS_URL", "http://atlas:7101", problems)
        if url is not None:
            sources["atlas"] = AtlasSource(url, name="atlas", timeout=settings.http_timeout, headers=headers,
                                           retry=retry)
    return sources


def _environment_headers(raw: Any, variable: str, problems: list[str]) -> dict[str, str]:
    if raw is None:
        return {}
    try:
        return parse_headers(raw.get_secret_value(), variable=variable)
    except ValueError as error:
        problems.append(str(error))
        return {}


def _environment_url(url: str, variable: str, example: str, problems: list[str]) -> str | None:
    parsed = httpx.URL(url) if "://" in url else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        problems.append(f"{variable}={url!r} is not an http(s) URL; set it like {example}")
        return None
    return url


def _valid_site(site: str, variable: str, problems: list[str]) -> bool:
    if "://" in site or "/" in site or "." not in site:
        problems.append(f"{variable}={site!r} is not a Datadog site name; set it like datadoghq.eu, "
                        "or set DATADOG_URL to a full API base URL")
        return False
    return True


# --- declared sources ------------------------------------------------------------


def _declared_source(
    name: str, config: SourceConfig, settings: SourceSettings, redis_client: redis.Redis | None,
    problems: list[str],
) -> Source | None:
    where = f"source {name!r}"
    secret = _SecretReader(where, problems)
    headers = dict(config.headers)
    for header, variable in config.headers_env.items():
        value = secret.read(variable, "headers_env", f"the value of header {header}")
        if value is not None:
            headers[header] = value

    timeout = config.timeout or settings.http_timeout
    retry = RetryPolicy(
        retries=settings.http_retries if config.retries is None else config.retries,
        backoff=settings.http_backoff if config.backoff is None else config.backoff,
        max_backoff=settings.http_max_backoff,
    )

    if config.type == "datadog":
        api_key = secret.read(config.api_key_env or "DATADOG_API_KEY", "api_key_env", "the Datadog API key")
        app_key = secret.read(config.app_key_env or "DATADOG_APP_KEY", "app_key_env", "the Datadog application key")
        if api_key is None or app_key is None:
            return None
        return DatadogSource(
            api_key=api_key, app_key=app_key, site=config.site or settings.datadog_site, base_url=config.url,
            name=name, timeout=timeout, retry=retry, budget=_budget(name, redis_client),
            auth_hint=f"check the keys in {config.api_key_env or 'DATADOG_API_KEY'} and "
                      f"{config.app_key_env or 'DATADOG_APP_KEY'}",
        )

    auth = None
    if config.bearer_token_env:
        token = secret.read(config.bearer_token_env, "bearer_token_env", "the bearer token")
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
    if config.username and config.password_env:
        password = secret.read(config.password_env, "password_env", f"the password of user {config.username}")
        if password is not None:
            auth = httpx.BasicAuth(config.username, password)
    ca_where = f"{where}: field 'ca_file'"
    ca_file = _ca_file(Path(config.ca_file) if config.ca_file else None, ca_where, problems)
    url = config.url
    if url is None:  # SourceConfig rejects a prometheus or atlas source without a URL.
        return None
    auth_hint = _auth_hint(config)

    if config.type == "atlas":
        return _create(name, problems, ca_where, lambda: AtlasSource(
            url, name=name, timeout=timeout, headers=headers, auth=auth, ca_file=ca_file, retry=retry,
            auth_hint=auth_hint,
        ))
    return _create(name, problems, ca_where, lambda: PrometheusSource(
        url, name=name, timeout=timeout, headers=headers, auth=auth, ca_file=ca_file, retry=retry,
        raw_counters=config.raw_counters or settings.prometheus_raw_counters, auth_hint=auth_hint,
    ))


class _SecretReader:
    """Reads secrets from the environment variables a declared source names."""

    def __init__(self, where: str, problems: list[str]) -> None:
        self.where = where
        self.problems = problems

    def read(self, variable: str, field: str, what: str) -> str | None:
        value = os.environ.get(variable)
        if not value:
            self.problems.append(f"{self.where}: field {field!r}: the variable {variable} is not set; "
                                 f"export it with {what}")
            return None
        return value


def _auth_hint(config: SourceConfig) -> str:
    if config.bearer_token_env:
        return f"check the token in {config.bearer_token_env}"
    if config.username:
        return f"check user {config.username!r} and the password in {config.password_env}"
    return "the server requires credentials: add bearer_token_env, or username and password_env, to the source"


# --- shared helpers ----------------------------------------------------------------


def _ca_file(path: Path | None, where: str, problems: list[str]) -> Path | None:
    if path is None:
        return None
    if not path.is_file():
        problems.append(f"{where}: the CA file {str(path)!r} does not exist; "
                        "give the path of a PEM file with the CA certificate that signed the server's certificate")
        return None
    return path


def _create(name: str, problems: list[str], ca_where: str, build: Callable[[], Source]) -> Source | None:
    """Run `build`, turning an unreadable CA file into a problem line instead of an exception."""
    try:
        return build()
    except (ssl.SSLError, OSError) as error:
        problems.append(f"{ca_where}: the CA file of source {name!r} cannot be used ({error}); "
                        "give a PEM file that contains at least one CA certificate")
        return None


def _budget(name: str, redis_client: redis.Redis | None) -> RateBudget:
    return RateBudget(key=f"{DEFAULT_PREFIX}ratelimit:{name}", redis_client=redis_client)


def _close(source: Source) -> None:
    close = getattr(source, "close", None)
    if close is not None:
        close()


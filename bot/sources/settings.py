"""Environment variables of the metric sources (pydantic-settings).

Each field maps to the upper-case variable: `prometheus_url` is
PROMETHEUS_URL. Secrets are `SecretStr`, so they never appear in a repr, a
log line or a validation error. Header variables hold a JSON object, such
as `{"X-Scope-OrgID": "team-a"}`; their values count as secrets, because
proxies often take a key in a header.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.sources.client import RetryPolicy
from bot.sources.datadog import DEFAULT_SITE

# Fields that bot.settings.Settings declares too; `from_settings` takes their
# values from a Settings object, so both read the same configuration.
SHARED_FIELDS = (
    "prometheus_url", "prometheus_bearer_token", "prometheus_username", "prometheus_password",
    "datadog_api_key", "datadog_app_key", "datadog_site", "atlas_url", "http_timeout",
)


class SourceSettings(BaseSettings):
    """The backends configured in the environment, and how every source sends requests."""

    model_config = SettingsConfigDict(extra="ignore")

    prometheus_url: str | None = Field(default=None, description="Prometheus base URL")
    prometheus_bearer_token: SecretStr | None = None
    prometheus_username: str | None = Field(default=None, description="basic auth user name")
    prometheus_password: SecretStr | None = None
    prometheus_ca_file: Path | None = Field(default=None, description="PEM file of the CA that signed the server")
    prometheus_headers: SecretStr | None = Field(default=None, description="JSON object of extra headers")
    prometheus_raw_counters: Literal["increase", "keep"] = Field(
        default="increase",
        description="increase: monitor a raw _total counter read without rate() as its increase per step",
    )

    datadog_api_key: SecretStr | None = None
    datadog_app_key: SecretStr | None = None
    datadog_site: str = Field(default=DEFAULT_SITE, description="Datadog site, such as datadoghq.eu")
    datadog_url: str | None = Field(default=None, description="Datadog API base URL; overrides the site")

    atlas_url: str | None = Field(default=None, description="Atlas base URL")
    atlas_headers: SecretStr | None = Field(default=None, description="JSON object of extra headers")

    http_timeout: float = Field(default=10.0, gt=0, description="seconds per backend request")
    http_retries: int = Field(default=2, ge=0, le=10, description="retries of a failed backend request")
    http_backoff: float = Field(default=0.5, ge=0, description="seconds before the first retry; doubles each retry")
    http_max_backoff: float = Field(default=10.0, ge=0, description="maximum wait between retries, in seconds")

    source_notice_interval: float = Field(
        default=1800.0, ge=60, description="seconds between two 'source unhealthy' notices of one source",
    )

    @classmethod
    def from_settings(cls, settings: Any) -> SourceSettings:
        """Build source settings from the environment, taking the shared fields from `settings`."""
        overrides = {name: getattr(settings, name) for name in SHARED_FIELDS if hasattr(settings, name)}
        return cls(**overrides)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(retries=self.http_retries, backoff=self.http_backoff, max_backoff=self.http_max_backoff)


def parse_headers(text: str, *, variable: str) -> dict[str, str]:
    """Parse a JSON object of header names to values; raise ValueError naming `variable`, never the values."""
    example = '{"X-Scope-OrgID": "team-a"}'
    try:
        headers = json.loads(text)
    except ValueError:
        raise ValueError(f"{variable} is not valid JSON; set it to a JSON object such as {example}") from None
    if not isinstance(headers, dict) or not all(isinstance(value, str) for value in headers.values()):
        raise ValueError(f"{variable} is not a JSON object of header names to text values; "
                         f"set it like {example}")
    return headers

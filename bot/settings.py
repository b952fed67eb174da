"""Process settings, read from environment variables (pydantic-settings).

Secrets are `SecretStr`, so they never appear in a repr or a log line.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PLAYBOOKS_DIR = Path(__file__).resolve().parent.parent / "playbooks"


class Settings(BaseSettings):
    """Environment of one bot process; every field maps to the upper-case variable."""

    model_config = SettingsConfigDict(extra="ignore")

    slack_bot_token: SecretStr | None = Field(default=None, description="xoxb- token")
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = Field(
        default=None, description="xapp- token; when set, the bot uses Socket Mode"
    )
    slack_api_url: str = "https://slack.com/api/"

    redis_url: str = "redis://localhost:6379/0"
    monitors_file: Path = Path("monitors.yml")
    playbooks_dir: Path = PLAYBOOKS_DIR

    prometheus_url: str | None = None
    prometheus_bearer_token: SecretStr | None = None
    prometheus_username: str | None = None
    prometheus_password: SecretStr | None = None
    datadog_api_key: SecretStr | None = None
    datadog_app_key: SecretStr | None = None
    datadog_site: str = "datadoghq.com"
    atlas_url: str | None = None

    resolve_groups: str = Field(
        default="", description="comma-separated user group handles that may resolve; empty: everyone"
    )
    escalate_groups: str = Field(default="", description="user group handles that may escalate")
    reject_groups: str = Field(default="", description="user group handles that may reject hypotheses")

    alertmanager_token: SecretStr | None = Field(
        default=None, description="bearer token Alertmanager sends to POST /alertmanager"
    )
    events_secret: SecretStr | None = Field(
        default=None, description="shared secret for POST /events (deployments, autoscaling, config changes)"
    )
    alertmanager_channel: str = Field(default="#alerts", description="channel for alerts without a slack_channel")

    digest_channel: str | None = Field(default=None, description="channel for the daily digest; unset: none")
    digest_time: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM")
    digest_timezone: str = "UTC"

    http_timeout: float = Field(default=10.0, gt=0, description="seconds per backend request")
    host: str = "0.0.0.0"
    port: int = Field(default=3000, ge=1, le=65535)
    log_level: str = "INFO"

    def permission_groups(self) -> dict[str, list[str]]:
        """Map each restricted action to the user group handles allowed to do it."""
        def handles(text: str) -> list[str]:
            return [part.strip().lstrip("@") for part in text.split(",") if part.strip()]

        return {
            "resolve": handles(self.resolve_groups),
            "escalate": handles(self.escalate_groups),
            "reject": handles(self.reject_groups),
        }

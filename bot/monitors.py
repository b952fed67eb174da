"""The monitors file: what to poll, how often, how to judge it and where to post.

A monitors file is YAML with a `monitors` list and, optionally, named
`sources` beyond the ones the environment configures::

    sources:
      prometheus-eu:
        type: prometheus
        url: http://prometheus-eu.internal:9090
        bearer_token_env: PROMETHEUS_EU_TOKEN   # the secret stays in the environment
    monitors:
      - name: api-cpu
        source: prometheus
        query: avg by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))
        interval: 1m
        channel: "#alerts-infra"
        labels: {team: infrastructure, service: api}
        detector: {name: sigma, threshold: 3, window: 5m, baseline: 7d}

`load_monitors` validates the whole file and raises one ConfigError listing
every problem, each naming the monitor, the field, the bad value and the fix.
"""

from __future__ import annotations

import re
import zoneinfo
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.durations import format_duration, parse_duration
from bot.errors import ConfigError
from detectors import DETECTOR_NAMES, DetectorSettings

SOURCE_TYPES = ("prometheus", "datadog", "atlas", "replay")

Duration = Annotated[float, BeforeValidator(parse_duration)]

# A smaller `threshold` is almost certainly a p-value typed where a bound in sigma belongs.
MIN_THRESHOLD = 0.5

# Detectors that fit a daily or weekly profile, and so read `seasonality`.
SEASONAL_DETECTORS = ("seasonal", "ensemble", "trend", "agile", "robust")

_MONITOR_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


class DetectorConfig(BaseModel):
    """Detector settings of one monitor; durations in the file, seconds here."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = "sigma"
    window: Duration = 300.0
    baseline: Duration = 7 * 86400.0
    baseline_offset: Duration = 0.0
    threshold: float | None = Field(default=None, gt=0)
    lower_threshold: float | None = Field(default=None, gt=0)
    direction: Literal["above", "below", "both"] = "both"
    min_fraction: float = Field(default=0.0, ge=0, le=1)
    min_samples: int = Field(default=100, ge=2)
    # History a new series needs before it is evaluated; unset: a quarter of the baseline, at most 1d.
    min_history: Duration | None = None
    seasonality: Literal["auto", "daily", "weekly", "none"] = "auto"
    timezone: str = "UTC"
    capacity: float | None = None
    min_tier: Literal["high", "medium"] = "medium"
    # A query with many series tiers on p-values adjusted across them (false discovery rate).
    p_adjustment: Literal["benjamini-hochberg", "none"] = "benjamini-hochberg"
    # "conservative" keeps p-values near 1e-5 calibrated, for queries with hundreds of series.
    tail: Literal["point", "conservative"] = "point"
    # As Prometheus's `for`: a series must stay anomalous this long before an incident opens.
    for_: Duration = Field(default=0.0, alias="for")

    @field_validator("name")
    @classmethod
    def _known_detector(cls, name: str) -> str:
        if name not in DETECTOR_NAMES:
            raise ValueError(
                f"{name!r} is not a known detector; use one of {', '.join(DETECTOR_NAMES)}"
            )
        return name

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{name!r} is not a known time zone; use an IANA name such as UTC or Europe/Berlin"
            ) from None
        return name

    @field_validator("window")
    @classmethod
    def _positive_window(cls, seconds: float) -> float:
        if seconds <= 0:
            raise ValueError(f"{seconds:g}s is not a window; use a duration above 0, such as 5m")
        return seconds

    @model_validator(mode="after")
    def _window_within_baseline(self) -> DetectorConfig:
        if self.window >= self.baseline:
            raise ValueError(
                f"window {format_duration(self.window)} is not shorter than baseline "
                f"{format_duration(self.baseline)}; the baseline should hold many windows, such as window: 5m "
                "with baseline: 7d"
            )
        if self.threshold is not None and self.threshold < MIN_THRESHOLD:
            raise ValueError(
                f"threshold {self.threshold:g} is a bound in baseline sigma (k for mad and iqr), not a p-value; "
                "use a value such as 3, or min_tier to choose the confidence that opens incidents"
            )
        if self.seasonality != "auto" and self.name not in SEASONAL_DETECTORS:
            raise ValueError(
                f"seasonality {self.seasonality!r} has no effect on the {self.name} detector; remove it, "
                f"or use a detector with a seasonal profile: {', '.join(SEASONAL_DETECTORS)}"
            )
        if self.seasonality == "weekly" and self.baseline < 14 * 86400.0:
            raise ValueError(
                f"seasonality 'weekly' needs a baseline of two weeks or more, not {format_duration(self.baseline)}; "
                "use baseline: 14d or more (28d is better), or seasonality: daily"
            )
        # The detector library's own checks; their messages name the value and the fix.
        self.to_settings()
        return self

    def to_settings(self) -> DetectorSettings:
        """Return the detector library's settings; unset bounds take the detector's defaults."""
        overrides: dict[str, object] = {
            "window": self.window,
            "baseline": self.baseline,
            "baseline_offset": self.baseline_offset,
            "direction": self.direction,
            "min_fraction": self.min_fraction,
            "min_samples": self.min_samples,
            "min_history": self.min_history,
            "seasonality": self.seasonality,
            "timezone": self.timezone,
            "capacity": self.capacity,
            "tail": self.tail,
        }
        if self.threshold is not None:
            overrides["threshold"] = self.threshold
        if self.lower_threshold is not None:
            overrides["lower_threshold"] = self.lower_threshold
        return DetectorSettings.for_detector(self.name, **overrides)


class SuppressionConfig(BaseModel):
    """Suppression settings of a monitor: repeats, hourly cap, flapping and grouping."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    repeat_window: Duration = 300.0
    max_alerts_per_hour: int = Field(default=5, ge=1)
    flapping_opens: int = Field(default=3, ge=2)
    group_window: Duration = 300.0
    group_by: str | None = "service"


class Monitor(BaseModel):
    """One monitored query: a source, its schedule, its detector and its channel."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    source: str
    query: str = Field(min_length=1)
    interval: Duration = 60.0
    step: Duration | None = None
    channel: str = Field(min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)
    detector: DetectorConfig = Field(default_factory=DetectorConfig, validate_default=True)
    playbook: str = "metric_anomaly"
    metric_type: Literal["cpu", "memory", "disk", "latency", "error_rate", "request_rate", "business", "other"] = (
        "other"
    )
    team: str | None = None
    dimensions: list[str] | None = Field(
        default=None, description="labels to break an anomaly down by; default service, region and segment"
    )
    suppression: SuppressionConfig = Field(default_factory=SuppressionConfig)

    @field_validator("team")
    @classmethod
    def _team_handle(cls, team: str | None) -> str | None:
        if team is not None and not re.match(r"^@[a-z0-9][a-z0-9._-]*$", team):
            raise ValueError(f"{team!r} is not a user group handle; write it as @payments-oncall")
        return team

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if not _MONITOR_NAME.match(name):
            raise ValueError(
                f"{name!r} is not a valid monitor name; use lowercase letters, digits, "
                "'-', '_' or '.', at most 63 characters, such as api-latency-p99"
            )
        return name

    @field_validator("interval")
    @classmethod
    def _positive_interval(cls, seconds: float) -> float:
        if seconds < 1:
            raise ValueError(f"{seconds:g}s is too short; use an interval of at least 1s, such as 1m")
        return seconds

    @field_validator("detector")
    @classmethod
    def _poll_within_window(cls, detector: DetectorConfig, info: ValidationInfo) -> DetectorConfig:
        interval = info.data.get("interval")
        if interval is not None and interval > detector.window:
            raise ValueError(
                f"interval {format_duration(interval)} is longer than window {format_duration(detector.window)}: "
                "points between polls would never be in an alert window; poll at least once per window, "
                "or widen the window"
            )
        return detector

    @property
    def resolution(self) -> float:
        """Seconds between points fetched from the source: `step`, else `interval`."""
        return self.step if self.step else self.interval

    def history_span(self) -> float:
        """Seconds of history one evaluation needs: baseline, offset and alert window."""
        detector = self.detector
        return detector.baseline + detector.baseline_offset + detector.window


class SourceConfig(BaseModel):
    """A named backend declared in the monitors file; secrets come from environment variables.

    The file names the variable that holds each secret (`bearer_token_env`,
    `password_env`, `api_key_env`, `app_key_env`, `headers_env`) and never
    the secret itself::

        prometheus-eu:
          type: prometheus
          url: https://prometheus-eu.internal:9090
          bearer_token_env: PROMETHEUS_EU_TOKEN
          ca_file: /etc/ssl/internal-ca.pem
          headers: {X-Scope-OrgID: team-a}
          timeout: 15s
          retries: 3
        datadog-eu: {type: datadog, site: datadoghq.eu, api_key_env: DD_EU_API_KEY, app_key_env: DD_EU_APP_KEY}
        atlas: {type: atlas, url: http://atlas.internal:7101}
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["prometheus", "datadog", "atlas"]
    url: str | None = Field(default=None, validate_default=True)
    site: str | None = None
    bearer_token_env: str | None = None
    username: str | None = None
    password_env: str | None = Field(default=None, validate_default=True)
    api_key_env: str | None = None
    app_key_env: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    headers_env: dict[str, str] = Field(default_factory=dict)
    ca_file: str | None = None
    timeout: Duration | None = None
    retries: int | None = Field(default=None, ge=0, le=10)
    backoff: Duration | None = None
    raw_counters: Literal["increase", "keep"] | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str | None, info: ValidationInfo) -> str | None:
        if url is None:
            kind = info.data.get("type")
            if kind in ("prometheus", "atlas"):
                example = "http://prometheus:9090" if kind == "prometheus" else "http://atlas:7101"
                raise ValueError(f"a {kind} source needs the server's base URL; add one such as {example}")
            return None
        parsed = urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(
                f"{url!r} is not an http(s) URL; write it as http://host:port, "
                "such as http://prometheus:9090"
            )
        try:
            parsed.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError:
            raise ValueError(f"{url!r} has an invalid port; use a number from 1 to 65535") from None
        if parsed.username or parsed.password:
            raise ValueError(
                "contains a user name or password; keep credentials out of the file: "
                "use username and password_env, or bearer_token_env"
            )
        return url.rstrip("/")

    @field_validator("site")
    @classmethod
    def _site_name(cls, site: str | None, info: ValidationInfo) -> str | None:
        _only_for(info, site, "datadog")
        if site is not None and not _SITE_NAME.match(site):
            raise ValueError(
                f"{site!r} is not a Datadog site name; use one such as datadoghq.com or datadoghq.eu, "
                "or set url to the full API base URL"
            )
        return site

    @field_validator("bearer_token_env", "password_env", "api_key_env", "app_key_env")
    @classmethod
    def _variable_name(cls, name: str | None, info: ValidationInfo) -> str | None:
        field = info.field_name
        if field in ("api_key_env", "app_key_env"):
            _only_for(info, name, "datadog")
        else:
            _only_for(info, name, "prometheus", "atlas")
        if name is not None and not _VARIABLE_NAME.match(name):
            # The value may be a pasted secret, so the message does not repeat it.
            raise ValueError(
                "is not an environment variable name; give the name of the variable that holds the "
                "secret, such as PROMETHEUS_EU_TOKEN, and export the secret in it"
            )
        if field == "password_env":
            username = info.data.get("username")
            if username and not name:
                raise ValueError(f"basic auth for user {username!r} needs password_env too: "
                                 "the variable that holds the password")
            if name and not username:
                raise ValueError("basic auth needs username too; add the user name")
        return name

    @field_validator("username", "ca_file")
    @classmethod
    def _not_for_datadog(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _only_for(info, value, "prometheus", "atlas")

    @field_validator("raw_counters")
    @classmethod
    def _prometheus_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _only_for(info, value, "prometheus")

    @field_validator("headers")
    @classmethod
    def _plain_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name in headers:
            _check_header_name(name)
            if name.lower() in _CREDENTIAL_HEADERS:
                raise ValueError(
                    f"header {name!r} carries credentials; keep them out of the file: use bearer_token_env, "
                    "or headers_env to read the header from an environment variable"
                )
        return headers

    @field_validator("headers_env")
    @classmethod
    def _secret_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, variable in headers.items():
            _check_header_name(name)
            if not _VARIABLE_NAME.match(variable):
                raise ValueError(
                    f"header {name!r}: the value is not an environment variable name; give the name of "
                    "the variable that holds the header value, such as PROMETHEUS_EU_ORG"
                )
        return headers

    @field_validator("timeout")
    @classmethod
    def _positive_timeout(cls, seconds: float | None) -> float | None:
        if seconds is not None and seconds <= 0:
            raise ValueError(f"{seconds:g}s is not a usable timeout; use a positive duration such as 10s")
        return seconds


_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SITE_NAME = re.compile(r"^[a-z0-9.-]+\.[a-z]{2,}$")
# RFC 9110 token characters.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "dd-api-key", "dd-application-key")


def _only_for(info: ValidationInfo, value: Any, *types: str) -> Any:
    """Reject a source field that has no meaning for the source's type."""
    kind = info.data.get("type")
    if value is not None and kind is not None and kind not in types:
        raise ValueError(f"applies only to {' and '.join(types)} sources; remove it from this {kind} source")
    return value


def _check_header_name(name: str) -> None:
    if not _HEADER_NAME.match(name):
        raise ValueError(f"{name!r} is not a valid HTTP header name; use letters, digits and '-'")


class MonitorsFile(BaseModel):
    """The whole monitors file."""

    model_config = ConfigDict(extra="forbid")

    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    monitors: list[Monitor] = Field(min_length=1)


_FIXES = {
    "missing": "add it",
    "extra_forbidden": "remove it or check its spelling",
    "literal_error": None,
    "float_parsing": "use a number",
    "float_type": "use a number",
    "int_parsing": "use a whole number",
    "int_type": "use a whole number",
    "string_type": "use a quoted string",
    "dict_type": "use a mapping of names to values",
    "list_type": "use a list",
    "too_short": None,
}


def load_monitors(path: str | Path) -> MonitorsFile:
    """Read and validate a monitors file; raise ConfigError listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            str(path), ["file not found; check the path (the service reads it from MONITORS_FILE)"]
        ) from None
    except OSError as error:
        raise ConfigError(str(path), [f"cannot be read: {error.strerror}"]) from None

    return parse_monitors(text, origin=str(path))


def parse_monitors(text: str, *, origin: str = "<monitors>") -> MonitorsFile:
    """Validate monitors YAML text; `origin` names it in error messages."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(origin, [_yaml_problem(error)]) from None

    if not isinstance(document, dict) or "monitors" not in document:
        raise ConfigError(
            origin, ["has no top-level 'monitors:' list; start the file with 'monitors:'"]
        )

    unknown = _unknown_sources(document)
    try:
        parsed = MonitorsFile.model_validate(document)
    except ValidationError as error:
        raise ConfigError(origin, _describe(error, document) + unknown) from None
    if unknown:
        raise ConfigError(origin, unknown)

    duplicates = _duplicate_names(parsed.monitors)
    if duplicates:
        raise ConfigError(
            origin,
            [f"monitor {name!r} is defined more than once; give each monitor a unique name"
             for name in duplicates],
        )
    return parsed


def _yaml_problem(error: yaml.YAMLError) -> str:
    """Describe a YAML syntax error by line and column, with the usual fix."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"
    return (f"the file is not valid YAML at {where}: {problem}; check that the keys of one monitor "
            "are indented alike and that lists start with '- '")


def _unknown_sources(document: dict[str, Any]) -> list[str]:
    """Name each monitor whose `source` is neither a source type nor a declared source."""
    declared = document.get("sources")
    names = tuple(declared) if isinstance(declared, dict) else ()
    entries = document.get("monitors")
    if not isinstance(entries, list):
        return []

    problems = []
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or "source" not in entry:
            continue
        source = entry["source"]
        if source in SOURCE_TYPES or source in names:
            continue
        where = f"monitor {entry['name']!r} (entry {index})" if entry.get("name") else f"monitor entry {index}"
        problems.append(
            f"{where}: field 'source': {source!r} is not a known source; "
            f"use one of {', '.join(SOURCE_TYPES + names)}"
        )
    return problems


def _duplicate_names(monitors: list[Monitor]) -> list[str]:
    seen: set[str] = set()
    duplicates: list[str] = []
    for monitor in monitors:
        if monitor.name in seen and monitor.name not in duplicates:
            duplicates.append(monitor.name)
        seen.add(monitor.name)
    return duplicates


def _describe(error: ValidationError, document: dict[str, Any]) -> list[str]:
    """Turn pydantic's errors into lines naming the monitor, field, value and fix."""
    problems = []
    for item in error.errors(include_url=False):
        location = list(item["loc"])
        where = _where(location, document)
        field = ".".join(str(part) for part in location[2:]) or ".".join(map(str, location))
        if location and location[0] == "sources" and len(location) == 2:
            field = "type"
        message = _message(item)
        if item["type"] == "missing":
            problems.append(f"{where}: field {field!r} is missing; add it")
        elif item["type"] == "extra_forbidden":
            problems.append(
                f"{where}: field {field!r} is not a known field; remove it or check its spelling"
            )
        else:
            problems.append(f"{where}: field {field!r}: {message}")
    return problems


def _where(location: list[Any], document: dict[str, Any]) -> str:
    if len(location) >= 2 and location[0] == "sources":
        return f"source {location[1]!r}"
    if len(location) >= 2 and location[0] == "monitors" and isinstance(location[1], int):
        index = location[1]
        entries = document.get("monitors") or []
        name = None
        if index < len(entries) and isinstance(entries[index], dict):
            name = entries[index].get("name")
        return f"monitor {name!r} (entry {index + 1})" if name else f"monitor entry {index + 1}"
    return "file"


def _message(item: dict[str, Any]) -> str:
    value = item.get("input")
    if item["type"] == "value_error":
        return str(item["ctx"]["error"])
    if item["type"] in ("greater_than", "greater_than_equal", "less_than_equal"):
        bound = next(iter(item["ctx"].values()))
        relation = {"greater_than": "above", "greater_than_equal": "at least",
                    "less_than_equal": "at most"}[item["type"]]
        return f"{value!r} is out of range; use a number {relation} {bound}"
    if item["type"] == "literal_error":
        return f"{value!r} is not allowed; use one of {item['ctx']['expected']}"
    fix = _FIXES.get(item["type"])
    detail = item["msg"][0].lower() + item["msg"][1:]
    text = f"{value!r} is invalid ({detail})"
    return f"{text}; {fix}" if fix else text

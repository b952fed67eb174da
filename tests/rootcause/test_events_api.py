"""`POST /events`: authentication, validation and storage in a real Redis."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
import redis
from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry

from bot.events_api import register_events
from bot.rootcause.events import EVENT_RETENTION, events_between
from bot.store import Store
from tests.harness.processes import LOOPBACK, free_port

SECRET = "events-test-secret"
NOW = 1_717_243_800.0
DEPLOYMENT = {"type": "deployment", "service": "checkout", "version": "v2.3.1", "time": NOW - 240,
              "link": "https://ci.example.com/runs/42"}


def _client(store: Store, secret: str | None = SECRET):
    web = Flask("events-test")
    register_events(web, store=store, secret=secret, clock=lambda: NOW)
    return web.test_client()


@pytest.fixture
def store(redis_client) -> Store:
    return Store(redis_client)


@pytest.fixture
def client(store):
    return _client(store)


def _bearer(token: str = SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def test_bearer_token_stores_event(client, store):
    response = client.post("/events", json=DEPLOYMENT, headers=_bearer())

    assert response.status_code == 201
    assert response.json["ok"] is True
    assert response.json["duplicate"] is False
    stored = events_between(store, NOW - 600, NOW)
    assert len(stored) == 1
    assert stored[0].service == "checkout"
    assert stored[0].version == "v2.3.1"
    assert stored[0].time == NOW - 240
    assert stored[0].id == response.json["id"]
    assert store.redis.zscore(store.key("events"), store.redis.zrange(store.key("events"), 0, 0)[0]) == NOW - 240


def test_signature_stores_event(client, store):
    body = json.dumps({"type": "autoscaling", "service": "search", "time": "2024-06-01T12:00:00Z"}).encode()

    response = client.post("/events", data=body, headers=_signed(body))

    assert response.status_code == 201
    stored = events_between(store, 0, NOW)
    assert [(event.type, event.time) for event in stored] == [("autoscaling", 1_717_243_200.0)]


def test_same_event_stored_once(client, store):
    first = client.post("/events", json=DEPLOYMENT, headers=_bearer())
    second = client.post("/events", json=DEPLOYMENT, headers=_bearer())

    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json["duplicate"] is True
    assert second.json["id"] == first.json["id"]
    assert store.redis.zcard(store.key("events")) == 1


def test_missing_time_is_receipt_time(client, store):
    body = {key: value for key, value in DEPLOYMENT.items() if key != "time"}

    response = client.post("/events", json=body, headers=_bearer())

    assert response.status_code == 201
    assert response.json["time"] == NOW


def test_old_events_are_dropped(client, store):
    old = dict(DEPLOYMENT, time=NOW - EVENT_RETENTION - 60, version="v1.0.0")
    client.post("/events", json=old, headers=_bearer())

    client.post("/events", json=DEPLOYMENT, headers=_bearer())

    assert [event.version for event in events_between(store, 0, NOW)] == ["v2.3.1"]


@pytest.mark.parametrize(("headers", "reason"), [
    ({}, "missing credentials"),
    ({"Authorization": "Bearer wrong-secret"}, "invalid bearer token"),
    ({"Authorization": f"Basic {SECRET}"}, "invalid Authorization header"),
    ({"Authorization": "Bearer"}, "invalid Authorization header"),
    ({"X-Signature-256": "sha256=" + "0" * 64}, "invalid X-Signature-256 signature"),
])
def test_bad_credentials_rejected(client, store, headers, reason):
    response = client.post("/events", json=DEPLOYMENT, headers=headers)

    assert response.status_code == 401
    assert reason in response.json["error"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert SECRET not in response.get_data(as_text=True)
    assert store.redis.zcard(store.key("events")) == 0


def test_signature_of_other_body_rejected(client, store):
    body = json.dumps(DEPLOYMENT).encode()
    headers = _signed(json.dumps(dict(DEPLOYMENT, version="v9")).encode())

    response = client.post("/events", data=body, headers=headers)

    assert response.status_code == 401
    assert store.redis.zcard(store.key("events")) == 0


def test_no_secret_configured(store):
    response = _client(store, secret=None).post("/events", json=DEPLOYMENT, headers=_bearer())

    assert response.status_code == 503
    assert "EVENTS_SECRET" in response.json["error"]


@pytest.mark.parametrize(("body", "expected"), [
    (b"not json", "body is not a JSON object"),
    (b"[1, 2]", "body is not a JSON object"),
    ({"type": "deployment", "version": "v1"}, "field 'service' is missing; add it, such as \"checkout\""),
    (dict(DEPLOYMENT, type="deploy"), "field 'type': 'deploy' is not allowed; use one of deployment"),
    ({k: v for k, v in DEPLOYMENT.items() if k != "version"}, "a deployment needs field 'version'"),
    (dict(DEPLOYMENT, time="2024-06-01T12:00:00"), "field 'time': '2024-06-01T12:00:00' has no time zone"),
    (dict(DEPLOYMENT, time=NOW * 1000), "looks like milliseconds; send unix seconds"),
    (dict(DEPLOYMENT, time="yesterday"), "field 'time': 'yesterday' is not an ISO 8601 time"),
    (dict(DEPLOYMENT, time=True), "field 'time': True is not a time"),
    (dict(DEPLOYMENT, link="ftp://ci/42"), "field 'link': 'ftp://ci/42' is not an http(s) URL"),
    (dict(DEPLOYMENT, verison="v2"), "field 'verison' is not a known field"),
    (dict(DEPLOYMENT, service=""), "field 'service' is empty"),
    (dict(DEPLOYMENT, service=42), "field 'service' must be a string"),
    (dict(DEPLOYMENT, service="a\nb"), "field 'service': contains control characters"),
])
def test_bad_body_rejected(client, store, body, expected):
    if isinstance(body, bytes):
        response = client.post("/events", data=body, headers=dict(_bearer(), **{"Content-Type": "application/json"}))
    else:
        response = client.post("/events", json=body, headers=_bearer())

    assert response.status_code == 400
    assert expected in response.json["error"]
    assert store.redis.zcard(store.key("events")) == 0


def test_large_body_rejected(client, store):
    body = json.dumps(dict(DEPLOYMENT, description="x" * 20_000)).encode()

    response = client.post("/events", data=body, headers=dict(_bearer(), **{"Content-Type": "application/json"}))

    assert response.status_code == 413
    assert store.redis.zcard(store.key("events")) == 0


def test_redis_down_is_503():
    unreachable = Store(redis.Redis(host=LOOPBACK, port=free_port(), socket_connect_timeout=0.5,
                                    retry=Retry(NoBackoff(), 0)))

    response = _client(unreachable).post("/events", json=DEPLOYMENT, headers=_bearer())

    assert response.status_code == 503
    assert "retry later" in response.json["error"]
    unreachable.redis.close()

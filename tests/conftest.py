"""Shared fixtures: a real redis-server, the Slack emulator and the bot's parts.

Servers start once per session on free loopback ports; each test gets an
empty Redis database. Without a server binary, tests that need it are
skipped, except under CI=true, where they fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.harness.redis_server import RedisServer, start_redis

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
NAB = SHARED / "data" / "nab"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis_server.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def slack():
    from tests.slack_emulator import SlackEmulator

    emulator = SlackEmulator()
    emulator.start()
    yield emulator
    emulator.stop()

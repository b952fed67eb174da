"""A real redis-server on a free loopback port, without persistence."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.harness.processes import LOOPBACK, free_port, require_binary, stop, wait_until


@dataclass
class RedisServer:
    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def stop(self) -> None:
        stop(self.process)


def start_redis(workdir: Path) -> RedisServer:
    binary = require_binary("redis-server")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    server = RedisServer(process=process, port=port)
    client = server.client()
    try:
        wait_until(lambda: bool(client.ping()), timeout=15, what="redis-server", process=process,
                   errors=(OSError, redis.ConnectionError))
    except (TimeoutError, RuntimeError):
        server.stop()
        raise
    finally:
        client.close()
    return server

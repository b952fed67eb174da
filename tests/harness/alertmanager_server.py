"""A real prometheus-alertmanager on a free loopback port, clustering off."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.harness.processes import LOOPBACK, free_port, require_binary, stop, wait_until


@dataclass
class AlertmanagerServer:
    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def stop(self) -> None:
        stop(self.process)


def webhook_config(*, url: str, token: str) -> str:
    """Route every alert to `url` with a bearer token, grouping by alertname, sending resolutions."""
    return f"""
route:
  receiver: bot
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1m
receivers:
  - name: bot
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""


def start_alertmanager(workdir: Path, config_text: str) -> AlertmanagerServer:
    binary = require_binary("prometheus-alertmanager")
    port = free_port()
    config = workdir / "alertmanager.yml"
    config.write_text(config_text, encoding="utf-8")
    log_file = (workdir / "alertmanager.log").open("w")
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.path={workdir / 'data'}",
         f"--web.listen-address={LOOPBACK}:{port}", "--cluster.listen-address=", "--log.level=warn"],
        stdout=log_file, stderr=subprocess.STDOUT,
    )
    log_file.close()
    server = AlertmanagerServer(process=process, port=port)
    try:
        wait_until(lambda: httpx.get(f"{server.url}/-/ready", timeout=1).status_code == 200, timeout=30,
                   what="alertmanager", process=process, errors=(OSError, httpx.TransportError))
    except (TimeoutError, RuntimeError):
        server.stop()
        raise
    return server

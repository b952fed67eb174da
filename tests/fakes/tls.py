"""A test certificate authority and a server certificate for 127.0.0.1, made with the openssl command."""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.harness.processes import require_binary


@dataclass(frozen=True)
class TestCertificates:
    """PEM files: the CA certificate clients trust, and the server's certificate and key."""

    __test__ = False  # not a test class, despite the name

    ca_file: Path
    server_cert: Path
    server_key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context


def make_certificates(folder: Path) -> TestCertificates:
    """Create a CA and a certificate for IP 127.0.0.1 signed by it; skip without openssl (fail under CI=true)."""
    openssl = require_binary("openssl")
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca_file = folder / "ca.key", folder / "ca.pem"
    server_key, server_csr, server_cert = folder / "server.key", folder / "server.csr", folder / "server.pem"
    extensions = folder / "server.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n", encoding="utf-8")

    _run(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_file,
         "-days", "2", "-subj", "/CN=anomaly-bot test CA")
    _run(openssl, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", server_key, "-out", server_csr,
         "-subj", "/CN=127.0.0.1")
    _run(openssl, "x509", "-req", "-in", server_csr, "-CA", ca_file, "-CAkey", ca_key, "-CAcreateserial",
         "-out", server_cert, "-days", "2", "-extfile", extensions)
    return TestCertificates(ca_file=ca_file, server_cert=server_cert, server_key=server_key)


def _run(*args: object) -> None:
    result = subprocess.run([str(arg) for arg in args], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"openssl failed: {result.stderr.strip()[-500:]}")

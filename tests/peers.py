"""Helpers to run DCMTK peers in tests: free ports, waiting for a listener, certificates, clean-up."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .conftest import require_tool

DCMTK_ENV = {**os.environ, "TCP_NODELAY": "1"}  # DCMTK waits 40 ms per message without it


_GIVEN: set[int] = set()


def free_port() -> int:
    """A port free now and not handed out before in this process: the kernel may give a port it just freed
    again, so two calls in a row (a DICOM and an HTTP port) could otherwise return the same one."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


def wait_listening(port: int, timeout: float = 10.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"peer exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''!r}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


@contextmanager
def running(args: list[str], port: int, *, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process, wait until it listens on ``port``, stop it afterwards."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env or DCMTK_ENV)
    try:
        wait_listening(port, proc=proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def dcmtk(tool: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool(tool), *args], capture_output=True, text=True, timeout=timeout,
                          env=DCMTK_ENV)


def make_certificates(folder: Path) -> dict[str, Path]:
    """A test CA, a server and a client certificate (RSA, signed by the CA), made with openssl."""
    openssl = require_tool("openssl")
    folder.mkdir(parents=True, exist_ok=True)

    def sh(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=folder, timeout=60)

    sh("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
       "-subj", "/CN=dicomkit test CA")
    for name in ("server", "client"):
        sh("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
           "-subj", f"/CN=dicomkit test {name}")
        (folder / f"{name}.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        sh("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
           "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")
    return {n: folder / n for n in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")}


def dcmtk_has_tls() -> bool:
    out = subprocess.run([require_tool("storescu"), "--help"], capture_output=True, text=True).stdout
    return "+tls" in out


def require_dcmtk_tls() -> None:
    if not dcmtk_has_tls():
        pytest.skip("this DCMTK build has no TLS support (storescu --help lists no +tls)")


class Orthanc:
    """A running Orthanc: its DICOM port and AE title, and its REST API on loopback (``rest("GET", "/studies")``)."""

    def __init__(self, dicom_port: int, http_port: int, ae_title: str) -> None:
        self.port = dicom_port
        self.http_port = http_port
        self.ae_title = ae_title

    def rest(self, method: str, path: str, body: object = None, *, raw: bytes | None = None) -> object:
        import json
        import urllib.request

        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", data=data, method=method)
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read()
        return json.loads(text) if text else None


@contextmanager
def orthanc(folder: Path, modalities: dict[str, tuple[str, int]] | None = None, *, ae_title: str = "ORTHANC",
            **options: object) -> Iterator[Orthanc]:
    """Orthanc (Debian package ``orthanc``) on loopback ports with a configuration of its own in ``folder``;
    ``modalities`` (name -> (AE title, port) on 127.0.0.1) are the peers it knows (DicomModalities)."""
    import json

    binary = require_tool("Orthanc")
    folder.mkdir(parents=True, exist_ok=True)
    dicom_port, http_port = int(options.pop("DicomPort", 0)) or free_port(), free_port()  # type: ignore[call-overload]
    config = {
        "Name": "dicomkit-test", "StorageDirectory": str(folder / "db"), "IndexDirectory": str(folder / "db"),
        "DicomAet": ae_title, "DicomPort": dicom_port, "HttpPort": http_port, "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False, "Plugins": [], "DicomCheckCalledAet": False, "HttpsVerifyPeers": False,
        "DicomModalities": {name: [aet, "127.0.0.1", port] for name, (aet, port) in (modalities or {}).items()},
        **options,
    }
    path = folder / "orthanc.json"
    path.write_text(json.dumps(config))
    proc = subprocess.Popen([binary, str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_listening(dicom_port, timeout=30, proc=proc)
        wait_listening(http_port, timeout=30, proc=proc)
        yield Orthanc(dicom_port, http_port, ae_title)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

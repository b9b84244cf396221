"""The Python examples of docs/security.md run against a real archive, a TLS listener and a syslog collector."""

from __future__ import annotations

import re
import shutil
import ssl
from pathlib import Path

import pytest

from dicomkit.server import Server
from dicomkit.server.audit.read import entries

from .helpers import wait_until
from .peers import make_certificates
from .server.data import image, write
from .server.syslog_listener import Collector

DOC = Path(__file__).resolve().parent.parent / "docs" / "security.md"


def test_the_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("cryptography", reason="the security extra (cryptography) is not installed")
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 4
    certs = make_certificates(tmp_path / "certs")
    for name in ("ca.pem", "client.pem", "client.key"):
        shutil.copy(certs[name], tmp_path / name)
    monkeypatch.chdir(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs["server.pem"], certs["server.key"])
    collector = Collector("tls", context)
    options = {"tls.port": 0, "tls.certificate": str(certs["server.pem"]), "tls.key": str(certs["server.key"]),
               "tls.ca": str(certs["ca.pem"]), "tls.verify_clients": True}
    try:
        with Server(data_dir=tmp_path / "data", ae_title="PACS", dicom_port=0, http=False, overrides=options) as pacs:
            sop = "1.2.826.0.1.3680043.10.77.1"
            from dicomkit.server.operator import import_files

            import_files(pacs.archive, [write(image(study="1.2.3", sop=sop), tmp_path / "in")], workers=1)
            tls_port = pacs.pacs.policy.tls_port  # type: ignore[union-attr]
            namespace = {"archive": pacs.archive, "sop_instance_uid": sop}
            exec(blocks[0].replace('"pacs.local", 2762', f'"127.0.0.1", {tls_port}'), namespace)
            exec(blocks[1], namespace)
            assert namespace["where"].startswith("EXISTS") and namespace["params"] == ["cardio"]
            assert namespace["visible"] is True
            exec(blocks[2].replace("localhost:6514", f"localhost:{collector.port}"), namespace)
            assert [e["event"] for e in entries(tmp_path / "audit.log")] == ["query", "instances-transferred"]
            wait_until(lambda: len(collector.messages) == 2, what="both messages at the collector")
            assert "110112" in collector.messages[0].msg
            exec(blocks[3], namespace)
            assert b"".join(namespace["sent"]) == pacs.archive.store.open(
                pacs.index.instance(sop).blob_key).read()  # type: ignore[union-attr]
    finally:
        collector.close()

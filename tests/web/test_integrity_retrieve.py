"""Integrity on whole-object retrieves (``storage.verify_on_retrieve``): a stored object whose blob no longer
matches the SHA-256 recorded at ingest is never delivered complete — over C-GET (the sub-operation fails)
nor over WADO-RS / WADO-URI (the answer ends before its last part) — and each mismatch is an audit event
(DICOM Instances Transferred, outcome 8) that validates against the schema; intact objects go out whole."""

from __future__ import annotations

import http.client
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dicomkit.net.sync import connect
from dicomkit.server import Server
from dicomkit.server.audit.read import entries
from dicomkit.services.query_retrieve import Operation
from dicomkit.services.query_retrieve.find import query_contexts
from dicomkit.services.query_retrieve.get import get_on, storage_roles

from ..conftest import require_tool
from ..helpers import wait_until
from ..server.data import image, write

MR = "1.2.840.10008.5.1.4.1.1.4"
GOOD = "1.2.826.0.1.3680043.10.6.1"
BAD = "1.2.826.0.1.3680043.10.6.2"
SCHEMA_RNG = Path(__file__).parents[2] / "dicomkit" / "server" / "audit" / "schema" / "audit_message.rng"


@pytest.fixture
def pacs(tmp_path: Path) -> Iterator[Server]:
    with Server(data_dir=tmp_path / "data", dicom_port=0, http_port=0, durability="os",
                overrides={"storage.verify_on_retrieve": True}) as server:
        for study in (GOOD, BAD):  # 256 x 256 x 2 bytes: several chunks, so "the last part" is a real part
            server.archive.ingest_file(write(image(study=study, series=f"{study}.1", sop=f"{study}.1.1", rows=256,
                                                   cols=256), tmp_path / "in"))
        row = server.index.instance(f"{BAD}.1.1")
        assert row is not None
        path = server.archive.store.path_of(row.blob_key)
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF  # one bit flip in the pixel data: same size, another hash
        path.write_bytes(bytes(data))
        yield server


def _transferred_failures(server: Server) -> list[dict[str, Any]]:
    path = server.config.audit.file_path(server.config.storage.data_dir)
    assert path is not None
    return [e for e in (entries(path) if path.exists() else []) if e["event"] == "instances-transferred"
            and e["outcome"] == 8]


def _raw_get(port: int, path: str) -> tuple[int, bytes, bool]:
    """Status, the body as far as it came, and whether it came complete."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        try:
            return resp.status, resp.read(), True
        except http.client.IncompleteRead as exc:
            return resp.status, bytes(exc.partial), False
    finally:
        conn.close()


def test_c_get_refuses_to_send_a_corrupt_object(pacs: Server, tmp_path: Path) -> None:
    contexts = [*query_contexts("study", operations=[Operation.GET]), *storage_roles([MR])]
    with connect("127.0.0.1", pacs.port, ae_title="WS1", called_ae_title=pacs.ae_title, contexts=contexts) as assoc:
        good = assoc.call(get_on, ["QueryRetrieveLevel=STUDY", f"StudyInstanceUID={GOOD}"],
                          output=str(tmp_path / "good"))
        bad = assoc.call(get_on, ["QueryRetrieveLevel=STUDY", f"StudyInstanceUID={BAD}"],
                         output=str(tmp_path / "bad"))
    assert good.progress.completed == 1 and good.progress.failed == 0
    assert bad.progress.completed == 0 and bad.progress.failed == 1
    assert bad.failed_sop_instance_uids == [f"{BAD}.1.1"]
    assert not list((tmp_path / "bad").glob("*.dcm")) and not list((tmp_path / "bad").glob("1.*"))
    wait_until(lambda: any(e["studies"] == [BAD] for e in _transferred_failures(pacs)), what="the mismatch audited")


def test_wado_never_delivers_a_corrupt_object_whole(pacs: Server, tmp_path: Path) -> None:
    port = pacs.http_port
    assert port is not None
    good = pacs.index.instance(f"{GOOD}.1.1")
    bad = pacs.index.instance(f"{BAD}.1.1")
    assert good is not None and bad is not None
    stored = pacs.archive.store.path_of(bad.blob_key).read_bytes()
    status, body, complete = _raw_get(port, f"/dicom-web/studies/{GOOD}/series/{GOOD}.1/instances/{GOOD}.1.1")
    assert status == 200 and complete and body == pacs.archive.store.path_of(good.blob_key).read_bytes()
    for path in (f"/dicom-web/studies/{BAD}/series/{BAD}.1/instances/{BAD}.1.1",
                 f"/wado?requestType=WADO&studyUID={BAD}&seriesUID={BAD}.1&objectUID={BAD}.1.1"
                 "&contentType=application/dicom"):
        status, body, complete = _raw_get(port, path)
        assert not complete, path  # the answer ends short: the client knows it did not get the object
        assert len(body) < len(stored) and stored[len(body):] and body == stored[:len(body)]
    failures = []

    def audited() -> bool:
        failures[:] = [e for e in _transferred_failures(pacs) if e["studies"] == [BAD]]
        return len(failures) >= 2

    wait_until(audited, what="both mismatches audited")
    xmllint = require_tool("xmllint")
    message = tmp_path / "m.xml"
    message.write_text(failures[0]["message"])
    assert "SHA-256 does not match" in failures[0]["message"]
    result = subprocess.run([xmllint, "--noout", "--relaxng", str(SCHEMA_RNG), str(message)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr

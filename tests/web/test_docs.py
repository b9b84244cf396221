"""The curl examples of docs/web.md run against a running archive and get the answers the page shows."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import dicomkit
from dicomkit.server import Server

from ..server.data import image

DOC = Path(__file__).resolve().parent.parent.parent / "docs" / "web.md"


def commands() -> list[str]:
    """Each ``$ curl ...`` line of the console blocks, continuation lines joined, comments dropped."""
    out = []
    for block in re.findall(r"```console\n(.*?)```", DOC.read_text(), re.S):
        text = block.replace("\\\n", " ")
        for line in text.splitlines():
            if line.startswith("$ curl"):
                out.append(re.sub(r"\s{2,}#.*$", "", line[2:]).strip())  # comments stand after 2+ spaces
    return out


def test_every_endpoint_has_an_example() -> None:
    text = " ".join(commands())
    for piece in ("/studies?", "/series?", "/instances?", "/metadata", "/frames/", "/bulk/", "/rendered",
                  "/thumbnail", "-X POST", "/wado?", "Accept: application/zip", "-X OPTIONS", "-X DELETE",
                  "Range:", "If-None-Match"):
        assert piece in text, piece


def test_the_examples_run(tmp_path: Path) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    with Server(data_dir=tmp_path / "pacs", dicom_port=0, http_port=0, durability="os") as pacs:
        ds = image(study="1.2.826.0.1.3680043.10.88", series="1.2.826.0.1.3680043.10.88.1",
                   sop="1.2.826.0.1.3680043.10.88.1.1", patient_name="Doe^Jane", frames=5, rows=64, cols=64)
        path = tmp_path / "one.dcm"
        dicomkit.write(ds, path)
        assert pacs.archive.ingest_file(path).status == 0
        boundary = "XX"
        (tmp_path / "body.multipart").write_bytes(
            f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + path.read_bytes()
            + f"\r\n--{boundary}--\r\n".encode())
        env = {**os.environ, "B": f"http://127.0.0.1:{pacs.http_port}/dicom-web", "ST": str(ds.StudyInstanceUID),
               "SE": str(ds.SeriesInstanceUID), "IN": str(ds.SOPInstanceUID)}
        for command in commands():
            command = command.replace("127.0.0.1:8042", f"127.0.0.1:{pacs.http_port}")
            done = subprocess.run(["bash", "-c", command + " -w '\\n%{http_code}' -o /dev/null -s"
                                   if " -o " not in command else command + " -w '%{http_code}'"],
                                  cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, (command, done.stderr)
            code = int(done.stdout.strip().splitlines()[-1][-3:])
            wanted = {405} if "-X DELETE" in command else {200, 204, 206}
            assert code in wanted, (command, code, done.stdout[-300:])

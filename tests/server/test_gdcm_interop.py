"""GDCM's ``gdcmscu`` (a second SCU toolkit besides DCMTK) against ``dicomkit serve``: C-STORE, C-FIND, C-MOVE.

Two things GDCM 3.0 needs that DCMTK does not: each PDU holds one PDV (it takes the PDU after a command for its
data set, so a C-FIND match sent as one P-DATA-TF of two PDVs left it waiting for ever for the final response),
and a Pending C-MOVE response after the last sub-operation (it reads its C-MOVE association after each C-STORE
it takes, and answers the A-RELEASE-RQ of the sub-association only then). Debian's gdcmscu 3.0.21 ends every
run with an abort of its own after the association is released (``ProtocolStream as nullptr is invalid``, also
against DCMTK's storescp), so these tests judge it by what it did and by its debug output, not by its exit code.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dicomkit.server import Server

from ..conftest import CORPUS, require_tool
from ..helpers import wait_until
from ..peers import free_port

FILES = ("MR2_UNCR.dcm", "US1_UNCR.dcm", "693_UNCR.dcm", "emri_small.dcm")
TIMEOUT = 60  # seconds a gdcmscu run may take before it counts as hung


def _gdcmscu(*args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([require_tool("gdcmscu"), *args], capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"gdcmscu {' '.join(args)} hung for {TIMEOUT} s")


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[tuple[Server, int]]:
    require_tool("gdcmscu")
    for name in FILES:
        if not (CORPUS / name).exists():
            pytest.skip(f"corpus not found at {CORPUS}")
    move_port = free_port()
    config = tmp_path / "dicomkit.toml"
    config.write_text(f'[remotes.GDCMR]\nhost = "127.0.0.1"\nport = {move_port}\n')
    with Server(config, data_dir=tmp_path / "data", dicom_port=0, http=False) as server:
        yield server, move_port


def test_gdcmscu_stores_finds_and_moves(archive: tuple[Server, int], tmp_path: Path) -> None:
    server, move_port = archive
    port = str(server.port)
    _gdcmscu("--store", "--call", "DICOMKIT", "--aetitle", "GDCM", "127.0.0.1", port,
             *(str(CORPUS / name) for name in FILES))
    wait_until(lambda: server.index.count("instance") == len(FILES), what="the files gdcmscu sent, indexed")

    found = _gdcmscu("-D", "--find", "--patientroot", "--patient", "--call", "DICOMKIT", "--aetitle", "GDCM",
                     "127.0.0.1", port, "--key", "10,10", "--key", "10,20")
    text = found.stdout + found.stderr
    assert "C-Find was successful." in text, text[-2000:]
    patients = server.index.count("patient")
    # gdcmscu's debug output prints each Pending response's command twice
    assert text.count("(0000,0900) ?? (US) 65280") == 2 * patients

    study = server.index.instances()[0].study_instance_uid
    out = tmp_path / "moved"
    out.mkdir()
    _gdcmscu("--move", "--studyroot", "--study", "--call", "DICOMKIT", "--aetitle", "GDCMR", "--port-scp",
             str(move_port), "-o", str(out), "127.0.0.1", port, "--key", f"20,d={study}")
    moved = sorted(p.name for p in out.iterdir())
    expected = sorted(f"{row.sop_instance_uid}.dcm" for row in server.index.instances(study_instance_uid=study))
    assert moved == expected

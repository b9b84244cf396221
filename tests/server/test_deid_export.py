"""De-identified export (``[deid]``): what leaves through C-GET to a designated AE, C-MOVE to one (DCMTK
movescu and storescp) and C-GET by a designated user is checked attribute by attribute against PS3.15
Table E.1-1 (every attribute of the table, top level and nested); other AEs get the object as stored; the
UID mapping is kept; ``dicomkit archive deidentify --study`` stores a de-identified copy as a new study."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import dicomkit
from dicomkit.cli.main import main
from dicomkit.core.errors import DicomError
from dicomkit.deid import MappingTable
from dicomkit.net.pdu import UserIdentityRQ
from dicomkit.net.sync import connect
from dicomkit.server import Server
from dicomkit.server.audit.read import entries
from dicomkit.server.auth.passwords import hash_password
from dicomkit.services.query_retrieve import Operation
from dicomkit.services.query_retrieve.find import find_all, query_contexts
from dicomkit.services.query_retrieve.get import get_on, storage_roles

from ..conftest import require_tool
from ..deid.conftest import CT_IMAGE, TABLE_PATH
from ..helpers import wait_until
from ..peers import dcmtk, free_port, running
from .data import write
from .deidcheck import STUDY, check_file, original

pytestmark = pytest.mark.skipif(not TABLE_PATH.exists(), reason=f"{TABLE_PATH} not found")



def _original() -> dicomkit.Dataset:
    return original()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path, int]]:
    folder = tmp_path_factory.mktemp("deid")
    scp_port = free_port()
    config = folder / "pacs.toml"
    config.write_text(f"""
[storage]
data_dir = "{folder / 'data'}"
durability = "os"

[dicom]
ae_title = "PACS"

[http]
enabled = false

[remotes.RESEARCH]
host = "127.0.0.1"
port = {scp_port}

[remotes.CLINIC]
host = "127.0.0.1"
port = {free_port()}

[users.student]
password = "{hash_password('student-pw', n=2**10)}"

[deid]
remotes = ["RESEARCH"]
users = ["student"]
key = "a secret"
mapping = "deid/mapping.json"
""")
    with Server(config, dicom_port=0, host="127.0.0.1") as server:
        server.archive.ingest_file(write(_original(), folder / "in"))
        yield server, folder, scp_port


def _get(server: Server, calling: str, output: Path, identity: UserIdentityRQ | None = None) -> Path:
    contexts = [*query_contexts("study", operations=[Operation.GET]), *storage_roles([CT_IMAGE])]
    with connect("127.0.0.1", server.port, ae_title=calling, called_ae_title="PACS", contexts=contexts,
                 user_identity=identity) as assoc:
        result = assoc.call(get_on, ["QueryRetrieveLevel=STUDY", f"StudyInstanceUID={STUDY}"], output=str(output))
    assert result.progress.completed == 1, result
    (path,) = output.glob("*.dcm")
    return path


def _check_against_table(received: Path) -> None:
    check_file(str(received))


def test_c_get_to_a_designated_ae_is_de_identified(setup: tuple[Server, Path, int], tmp_path: Path) -> None:
    server, folder, _ = setup
    _check_against_table(_get(server, "RESEARCH", tmp_path / "research"))
    clinic = dicomkit.read(_get(server, "CLINIC", tmp_path / "clinic"))  # not designated: as stored
    assert str(clinic.PatientName) == "Doe^John" and str(clinic.SOPInstanceUID) == f"{STUDY}.1.1"
    table = MappingTable.load(folder / "data" / "deid" / "mapping.json")
    received = dicomkit.read(next((tmp_path / "research").glob("*.dcm")))
    assert table.original_uid(str(received.StudyInstanceUID)) == STUDY  # the mapping is kept
    assert (folder / "data" / "deid" / "mapping.json").stat().st_mode & 0o077 == 0


def test_c_get_by_a_designated_user_is_de_identified(setup: tuple[Server, Path, int], tmp_path: Path) -> None:
    server, _, _ = setup
    _check_against_table(_get(server, "CLINIC", tmp_path / "student",
                              UserIdentityRQ(2, b"student", b"student-pw")))


def test_c_move_to_a_designated_ae_with_dcmtk(setup: tuple[Server, Path, int], tmp_path: Path) -> None:
    server, _, scp_port = setup
    require_tool("storescp")
    out_dir = tmp_path / "storescp"
    out_dir.mkdir()
    storescp = [require_tool("storescp"), "-aet", "RESEARCH", "-od", str(out_dir), "-fe", ".dcm", str(scp_port)]
    with running(storescp, scp_port):
        out = dcmtk("movescu", "-S", "-aet", "ASKER", "-aec", "PACS", "-aem", "RESEARCH", "127.0.0.1",
                    str(server.port), "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={STUDY}")
        assert out.returncode == 0, out.stderr
        wait_until(lambda: len(list(out_dir.glob("*.dcm"))) == 1, what="the de-identified object at storescp")
    _check_against_table(next(out_dir.glob("*.dcm")))
    path = server.config.audit.file_path(server.config.storage.data_dir)
    assert path is not None
    wait_until(lambda: any("de-identified" in e["message"] for e in entries(path)
                           if e["event"] == "instances-transferred"), what="the export audited")


def test_operator_deidentifies_a_study_into_a_new_one(setup: tuple[Server, Path, int],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    server, folder, _ = setup
    data = str(folder / "data")
    assert main(["archive", "deidentify", "--data-dir", data, "--study", STUDY, "--key", "a secret"]) == 0
    new_uid = capsys.readouterr().out.split(":", 1)[0]
    assert new_uid != STUDY
    rows = server.index.instances(study_instance_uid=new_uid)
    assert len(rows) == 1 and server.index.instances(study_instance_uid=STUDY)  # the original stays
    stored = server.archive.store.path_of(rows[0].blob_key)
    _check_against_table(stored)
    assert main(["archive", "deidentify", "--data-dir", data, "--study", "1.2.3.4.5"]) == 1
    assert "no study 1.2.3.4.5" in capsys.readouterr().err
    audit = server.config.audit.file_path(server.config.storage.data_dir)
    assert audit is not None
    events = [e for e in entries(audit) if e["event"] in ("export", "import")]
    assert {e["event"] for e in events} == {"export", "import"}
    assert json.dumps(events).count(new_uid) >= 1


def _find(server: Server, calling: str, keys: list[str], identity: UserIdentityRQ | None = None) -> list[Any]:
    with connect("127.0.0.1", server.port, ae_title=calling, called_ae_title="PACS",
                 contexts=query_contexts("study"), user_identity=identity) as assoc:
        found: list[Any] = assoc.call(find_all, keys)
    return found


def test_c_find_by_a_designated_ae_or_user_is_de_identified(setup: tuple[Server, Path, int], tmp_path: Path) -> None:
    server, _, _ = setup
    export = server.pacs.deid
    assert export is not None
    keys = ["QueryRetrieveLevel=STUDY", "StudyInstanceUID", "PatientName", "PatientID", "PatientBirthDate",
            "AccessionNumber", "NumberOfStudyRelatedInstances"]
    for calling, identity in (("RESEARCH", None), ("CLINIC", UserIdentityRQ(2, b"student", b"student-pw"))):
        found = _find(server, calling, keys, identity)  # the study (and the copy that archive deidentify made)
        (match,) = [m for m in found if str(m.StudyInstanceUID) == export.uid(STUDY)]
        assert not {STUDY, export.uid(STUDY)} & {str(m.StudyInstanceUID) for m in found if m is not match}
        assert str(match.get("PatientName") or "") != "Doe^John" and str(match.PatientID) != "PID-12345"
        assert "IDENT" not in str(match.get("AccessionNumber") or "") and not match.get("PatientBirthDate")
        # the replacement UID finds the study again, and a C-GET by it gets the de-identified object
        (again,) = _find(server, calling, ["QueryRetrieveLevel=STUDY", f"StudyInstanceUID={export.uid(STUDY)}"],
                         identity)
        assert str(again.StudyInstanceUID) == export.uid(STUDY)
        with pytest.raises(DicomError, match="PatientName: matching on an attribute"):  # Error Comment: 64 chars
            _find(server, calling, ["QueryRetrieveLevel=STUDY", "PatientName=Doe*"], identity)
    contexts = [*query_contexts("study", operations=[Operation.GET]), *storage_roles([CT_IMAGE])]
    with connect("127.0.0.1", server.port, ae_title="RESEARCH", called_ae_title="PACS", contexts=contexts) as assoc:
        result = assoc.call(get_on, ["QueryRetrieveLevel=STUDY", f"StudyInstanceUID={export.uid(STUDY)}"],
                            output=str(tmp_path))
    assert result.progress.completed == 1, result
    check_file(str(next(tmp_path.glob("*.dcm"))))
    (clinic,) = [m for m in _find(server, "CLINIC", keys) if str(m.StudyInstanceUID) == STUDY]  # as stored
    assert str(clinic.PatientName) == "Doe^John" and str(clinic.StudyInstanceUID) == STUDY

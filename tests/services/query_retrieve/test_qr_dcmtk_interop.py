"""Query/Retrieve and worklists with DCMTK in both directions.

- DCMTK ``findscu`` (Study and Patient Root, ``-W`` worklist, ``--cancel``), ``movescu`` (its own storage SCP as
  destination) and ``getscu`` against our SCPs on a FolderSource / MemoryWorklistSource;
- our ``find`` / ``move`` / ``get`` against ``dcmqrscp`` (configured here on a temporary folder, indexed with
  ``dcmqridx``) and our worklist C-FIND against ``wlmscpfs`` (worklist files written here).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

import dicomkit
from dicomkit import Dataset
from dicomkit.io.writer import write
from dicomkit.net import ApplicationEntity
from dicomkit.net.sync import ServerThread
from dicomkit.services.aetable import AETable, RemoteAE
from dicomkit.services.memory_source import FolderSource, MemoryWorklistSource
from dicomkit.services.query_retrieve.find import FindSCP, find_all, query_contexts
from dicomkit.services.query_retrieve.get import GetSCP, get
from dicomkit.services.query_retrieve.levels import Operation
from dicomkit.services.query_retrieve.move import MoveSCP, move
from dicomkit.services.storage import DirectoryReceiver, StorageSCP
from dicomkit.services.verification import VerificationSCP
from dicomkit.services.worklist import WorklistSCP, worklist

from ...conftest import require_tool
from ...peers import dcmtk, free_port, running
from ..live import instance, study_uid

pytestmark = pytest.mark.interop

ELE = "1.2.840.10008.1.2.1"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("qr-files")
    for study in range(5):
        for series in range(2):
            for number in range(2):
                ds = instance(study, series, number, pixels=True, name=f"DOE^{'JOHN' if study % 2 else 'JANE'}",
                              modality="CT" if series == 0 else "MR",
                              sop_class="1.2.840.10008.5.1.4.1.1.2" if series == 0 else "1.2.840.10008.5.1.4.1.1.4")
                ds.save(folder / f"{study}-{series}-{number}.dcm", transfer_syntax=ELE)
    return folder


def received(folder: Path) -> list[str]:
    return sorted(str(dicomkit.read(p, stop_before_pixels=True).SOPInstanceUID) for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith("."))


# -- DCMTK SCUs against our SCPs ------------------------------------------------------------------------------
@pytest.fixture
def our_scp(files: Path, tmp_path: Path) -> Iterator[tuple[int, int]]:
    """Our C-FIND / C-MOVE / C-GET / worklist SCP; C-MOVE destination MOVESCU is movescu's own listener."""
    require_tool("findscu")
    source = FolderSource(files)
    movescu_port = free_port()
    item = Dataset()
    item.PatientName = "WL^ONE"
    item.PatientID = "W1"
    step = Dataset()
    step.ScheduledStationAETitle = "CT1"
    step.Modality = "CT"
    step.ScheduledProcedureStepStartDate = "20240115"
    step.ScheduledPerformingPhysicianName = "SMITH^ANNA"
    item.ScheduledProcedureStepSequence = [step]
    ae = ApplicationEntity("DKQR")
    table = AETable.of(f"MOVESCU=127.0.0.1:{movescu_port}")
    for service in (VerificationSCP(), FindSCP(source), MoveSCP(source, table), GetSCP(source),
                    WorklistSCP(MemoryWorklistSource([item]))):
        ae.add_service(service)
    with ServerThread(ae, "127.0.0.1", 0) as server:
        yield server.port, movescu_port


def test_findscu_study_and_patient_root(our_scp, tmp_path):
    port, _ = our_scp
    out = tmp_path / "rsp"
    out.mkdir()
    result = dcmtk("findscu", "-S", "-aec", "DKQR", "127.0.0.1", str(port), "-X", "-od", str(out),
                   "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientName=DOE^JOHN", "-k", "StudyInstanceUID",
                   "-k", "ModalitiesInStudy", "-k", "NumberOfStudyRelatedInstances")
    assert result.returncode == 0, result.stderr
    answers = [dicomkit.read(p) for p in sorted(out.glob("rsp*.dcm"))]
    assert sorted(str(a.StudyInstanceUID) for a in answers) == [study_uid(1), study_uid(3)]
    assert all(a.ModalitiesInStudy == ("CT", "MR") and a.NumberOfStudyRelatedInstances == 4 for a in answers)
    patient = dcmtk("findscu", "-P", "-aec", "DKQR", "127.0.0.1", str(port), "-k", "QueryRetrieveLevel=PATIENT",
                    "-k", "PatientID=P2", "-k", "PatientName", "-k", "NumberOfPatientRelatedStudies")
    assert patient.returncode == 0 and "DOE^JANE" in patient.stderr + patient.stdout


def test_findscu_gets_the_failure_status(our_scp):
    port, _ = our_scp
    result = dcmtk("findscu", "-d", "-S", "-aec", "DKQR", "127.0.0.1", str(port), "-k", "QueryRetrieveLevel=SERIES",
                   "-k", "SeriesInstanceUID", "-k", "PatientName=DOE*")
    text = result.stdout + result.stderr
    assert "0xa900" in text.lower()  # DataSetDoesNotMatchSOPClass, in the response findscu dumps
    assert "PatientName is a STUDY key" in text  # and its Error Comment


def test_findscu_cancel(our_scp, tmp_path):
    port, _ = our_scp
    result = dcmtk("findscu", "-S", "-aec", "DKQR", "127.0.0.1", str(port), "--cancel", "1", "-X", "-od",
                   str(tmp_path), "-k", "QueryRetrieveLevel=IMAGE", "-k", f"StudyInstanceUID={study_uid(0)}",
                   "-k", f"SeriesInstanceUID={study_uid(0)}.0", "-k", "SOPInstanceUID")
    assert result.returncode == 0, result.stderr
    assert 1 <= len(list(tmp_path.glob("rsp*.dcm"))) <= 2


def test_findscu_worklist(our_scp):
    port, _ = our_scp
    result = dcmtk("findscu", "-W", "-aec", "DKQR", "127.0.0.1", str(port), "-k", "PatientName",
                   "-k", "ScheduledProcedureStepSequence[0].Modality=CT",
                   "-k", "ScheduledProcedureStepSequence[0].ScheduledStationAETitle=CT1",
                   "-k", "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20240101-20240131")
    assert result.returncode == 0, result.stderr
    assert "WL^ONE" in result.stdout + result.stderr
    none = dcmtk("findscu", "-W", "-aec", "DKQR", "127.0.0.1", str(port), "-k", "PatientName",
                 "-k", "ScheduledProcedureStepSequence[0].Modality=MR")
    assert none.returncode == 0 and "WL^ONE" not in none.stdout + none.stderr


def test_movescu_to_its_own_listener(our_scp, tmp_path):
    port, movescu_port = our_scp
    result = dcmtk("movescu", "-S", "-aet", "MOVESCU", "-aec", "DKQR", "-aem", "MOVESCU", "+P", str(movescu_port),
                   "-od", str(tmp_path), "127.0.0.1", str(port), "-k", "QueryRetrieveLevel=STUDY",
                   "-k", f"StudyInstanceUID={study_uid(2)}")
    assert result.returncode == 0, result.stderr
    assert received(tmp_path) == sorted(f"{study_uid(2)}.{s}.{n}" for s in range(2) for n in range(2))
    unknown = dcmtk("movescu", "-d", "-S", "-aec", "DKQR", "-aem", "NOWHERE", "127.0.0.1", str(port),
                    "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study_uid(2)}")
    text = unknown.stdout + unknown.stderr
    assert "unknown move destination NOWHERE" in text and "0xa801" in text.lower()


def test_getscu(our_scp, tmp_path):
    port, _ = our_scp
    result = dcmtk("getscu", "-S", "-aec", "DKQR", "-od", str(tmp_path), "127.0.0.1", str(port),
                   "-k", "QueryRetrieveLevel=SERIES", "-k", f"StudyInstanceUID={study_uid(4)}",
                   "-k", f"SeriesInstanceUID={study_uid(4)}.1")
    assert result.returncode == 0, result.stderr
    assert received(tmp_path) == [f"{study_uid(4)}.1.0", f"{study_uid(4)}.1.1"]


# -- our SCUs against DCMTK's dcmqrscp and wlmscpfs ----------------------------------------------------------
@pytest.fixture
def dcmqrscp(files: Path, tmp_path: Path) -> Iterator[tuple[int, int, Path]]:
    """dcmqrscp (AE ARCHIVE) over the files; C-MOVE destination DKDEST is our storage SCP."""
    require_tool("dcmqrscp")
    db = tmp_path / "db"
    db.mkdir()
    indexed = dcmtk("dcmqridx", str(db), *sorted(str(p) for p in files.iterdir()))
    assert indexed.returncode == 0, indexed.stderr
    dest_port, port = free_port(), free_port()
    config = tmp_path / "dcmqrscp.cfg"
    config.write_text(f"""NetworkTCPPort = {port}
MaxPDUSize = 16384
MaxAssociations = 8
HostTable BEGIN
dkdest = (DKDEST, 127.0.0.1, {dest_port})
HostTable END
VendorTable BEGIN
VendorTable END
AETable BEGIN
ARCHIVE {db} RW (200, 1024mb) ANY
AETable END
""")
    with running([require_tool("dcmqrscp"), "-c", str(config)], port):  # its --single-process crashes (3.6.7)
        yield port, dest_port, tmp_path


def test_our_find_move_and_get_against_dcmqrscp(dcmqrscp):
    port, dest_port, tmp = dcmqrscp

    async def go():
        ae = ApplicationEntity("DKSCU")
        contexts = query_contexts("study", operations=[Operation.FIND, Operation.MOVE])
        async with await ae.associate("127.0.0.1", port, contexts, called_ae_title="ARCHIVE") as assoc:
            studies = await find_all(assoc, ["QueryRetrieveLevel=STUDY", "PatientName=DOE^JANE", "StudyInstanceUID"])
            assert sorted(str(s.StudyInstanceUID) for s in studies) == [study_uid(0), study_uid(2), study_uid(4)]
            dest = ApplicationEntity("DKDEST")
            receiver = DirectoryReceiver(tmp / "moved")
            dest.add_service(StorageSCP(receiver))
            server = await dest.start_server("127.0.0.1", dest_port)
            try:
                progress = []
                moved = await move(assoc, ["QueryRetrieveLevel=STUDY", f"StudyInstanceUID={study_uid(1)}"], "DKDEST",
                                   on_progress=progress.append)
                assert moved.status == 0 and moved.completed == 4, moved.describe()
                assert progress and progress[0].remaining is not None
            finally:
                await server.close()
                receiver.close()
        result = await get(RemoteAE("ARCHIVE", "127.0.0.1", port), ["QueryRetrieveLevel=STUDY",
                           f"StudyInstanceUID={study_uid(3)}"], output=tmp / "got", ae_title="DKSCU")
        assert result.status == 0 and result.completed == 4, (result.describe(), result.notes)
        # dcmqrscp returns no SOP Class UID at IMAGE level: the common storage classes were offered
        assert any("most common" in n for n in result.notes)

    asyncio.run(asyncio.wait_for(go(), 120))
    assert received(tmp / "moved") == sorted(f"{study_uid(1)}.{s}.{n}" for s in range(2) for n in range(2))
    assert received(tmp / "got") == sorted(f"{study_uid(3)}.{s}.{n}" for s in range(2) for n in range(2))


def test_our_worklist_find_against_wlmscpfs(tmp_path):
    require_tool("wlmscpfs")
    folder = tmp_path / "worklists" / "WLM"  # one folder per called AE title
    folder.mkdir(parents=True)
    (folder / "lockfile").touch()  # wlmscpfs locks it while it reads the folder (0xA700 without it)
    for i, (modality, date) in enumerate([("CT", "20240115"), ("MR", "20240115"), ("CT", "20240301")]):
        item = Dataset()
        item.SpecificCharacterSet = "ISO_IR 100"
        item.AccessionNumber = f"ACC{i}"
        item.PatientName = f"WL^PATIENT{i}"
        item.PatientID = f"W{i}"
        item.PatientBirthDate = "19700101"
        item.PatientSex = "O"
        item.StudyInstanceUID = f"1.2.826.0.1.3680043.10.1099.8{i}"
        item.RequestedProcedureDescription = "scan"
        item.RequestedProcedureID = f"RP{i}"
        step = Dataset()
        step.Modality = modality
        step.ScheduledStationAETitle = "CT1"
        step.ScheduledProcedureStepStartDate = date
        step.ScheduledProcedureStepStartTime = "0900"
        step.ScheduledPerformingPhysicianName = "SMITH^ANNA"
        step.ScheduledProcedureStepDescription = "scan"
        step.ScheduledProcedureStepID = f"SPS{i}"
        item.ScheduledProcedureStepSequence = [step]
        write(item, folder / f"item{i}.wl", transfer_syntax=ELE, file_meta=False)
    port = free_port()
    with running([require_tool("wlmscpfs"), "-dfp", str(tmp_path / "worklists"), str(port)], port):
        async def go():
            ae = ApplicationEntity("DKSCU")
            async with await ae.associate("127.0.0.1", port, query_contexts("worklist"), called_ae_title="WLM") as a:
                async with worklist(a, modality="CT", date="20240101-20240131") as query:
                    items = [m async for m in query]
                assert [str(m.PatientID) for m in items] == ["W0"]
                assert items[0].ScheduledProcedureStepSequence[0].ScheduledProcedureStepID == "SPS0"
                async with worklist(a, station_ae="CT1") as query:
                    assert sorted([str(m.PatientID) async for m in query]) == ["W0", "W1", "W2"]

        asyncio.run(asyncio.wait_for(go(), 60))

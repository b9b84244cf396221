"""Query/Retrieve, worklists and Storage Commitment with Orthanc (Debian package ``orthanc``, started here on
loopback ports with a configuration of its own), both ways:

- Orthanc as the SCP: our C-FIND, C-MOVE (to our storage SCP) and C-GET, and our Storage Commitment request with
  the report arriving on our listener;
- Orthanc as the SCU (REST API): its C-FIND (query) and worklist C-FIND against our SCPs, its C-MOVE from our
  SCP into itself, and its Storage Commitment request to our SCP, reported back to it.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

import dicomkit
from dicomkit import Dataset
from dicomkit.net import ApplicationEntity
from dicomkit.net.sync import ServerThread
from dicomkit.services.aetable import AETable, RemoteAE
from dicomkit.services.commitment import SOP_CLASS as COMMITMENT
from dicomkit.services.commitment import CommitmentListener, CommitmentSCP, references_of, request_commitment
from dicomkit.services.memory_source import FolderSource, MemoryWorklistSource
from dicomkit.services.query_retrieve.find import FindSCP, find_all, query_contexts
from dicomkit.services.query_retrieve.get import get
from dicomkit.services.query_retrieve.levels import Operation
from dicomkit.services.query_retrieve.move import MoveSCP, move
from dicomkit.services.storage import DirectoryReceiver, StorageSCP, find_files, peek, storage_contexts, store_files
from dicomkit.services.verification import VerificationSCP
from dicomkit.services.worklist import WorklistSCP

from ..peers import free_port, orthanc
from .live import instance, study_uid

pytestmark = pytest.mark.interop

ELE = "1.2.840.10008.1.2.1"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("orthanc-files")
    for study in range(3):
        for series in range(2):
            for number in range(2):
                mr = series == 1
                instance(study, series, number, pixels=True, modality="MR" if mr else "CT",
                         sop_class="1.2.840.10008.5.1.4.1.1.4" if mr else "1.2.840.10008.5.1.4.1.1.2",
                         name=f"DOE^{'JOHN' if study % 2 else 'JANE'}").save(
                    folder / f"{study}-{series}-{number}.dcm", transfer_syntax=ELE)
    return folder


def received(folder: Path) -> list[str]:
    return sorted(str(dicomkit.read(p, stop_before_pixels=True).SOPInstanceUID) for p in folder.glob("*.dcm"))


async def upload(port: int, files: Path, called: str = "ORTHANC") -> None:
    infos = [peek(p) for p in find_files([files])]
    ae = ApplicationEntity("DKSCU")
    contexts = storage_contexts(infos)
    summary = await store_files(lambda: ae.associate("127.0.0.1", port, contexts, called_ae_title=called), infos)
    assert len(summary.sent) == len(infos), summary.events


def test_orthanc_as_the_scp(files, tmp_path):
    dest_port, listener_port = free_port(), free_port()
    with orthanc(tmp_path / "orthanc", {"dkdest": ("DKDEST", dest_port), "dkscu": ("DKSCU", listener_port)}) as peer:
        async def go():
            await upload(peer.port, files)
            ae = ApplicationEntity("DKSCU")
            contexts = [*query_contexts("study", "patient", operations=[Operation.FIND, Operation.MOVE]),
                        str(COMMITMENT)]
            async with await ae.associate("127.0.0.1", peer.port, contexts, called_ae_title="ORTHANC") as assoc:
                studies = await find_all(assoc, ["QueryRetrieveLevel=STUDY", "PatientName=DOE^JANE",
                                                 "StudyInstanceUID", "ModalitiesInStudy"])
                assert sorted(str(s.StudyInstanceUID) for s in studies) == [study_uid(0), study_uid(2)]
                series = await find_all(assoc, ["QueryRetrieveLevel=SERIES", f"StudyInstanceUID={study_uid(1)}",
                                                "SeriesInstanceUID", "Modality=MR"])
                assert [str(s.SeriesInstanceUID) for s in series] == [f"{study_uid(1)}.1"]
                dest = ApplicationEntity("DKDEST")
                receiver = DirectoryReceiver(tmp_path / "moved")
                dest.add_service(StorageSCP(receiver))
                server = await dest.start_server("127.0.0.1", dest_port)
                try:
                    moved = await move(assoc, ["QueryRetrieveLevel=STUDY", f"StudyInstanceUID={study_uid(1)}"],
                                       "DKDEST")
                    assert moved.status == 0 and moved.completed == 4, moved.describe()
                finally:
                    await server.close()
                    receiver.close()
                # Storage Commitment, Orthanc as the SCP: the report comes on an association it opens to us
                async with CommitmentListener("DKSCU", port=listener_port) as listener:
                    held = references_of([dicomkit.read(p, stop_before_pixels=True) for p in sorted(files.iterdir())])
                    refs = [*held[:3], ("1.2.840.10008.5.1.4.1.1.2", "1.2.826.0.1.3680043.10.1099.404")]
                    report = await request_commitment(assoc, refs, listener=listener, timeout=30)
                    assert len(report.committed) == 3 and len(report.failed) == 1
                    assert report.failed[0].reference.sop_instance_uid.endswith(".404")
            result = await get(RemoteAE("ORTHANC", "127.0.0.1", peer.port),
                               ["QueryRetrieveLevel=SERIES", f"StudyInstanceUID={study_uid(2)}",
                                f"SeriesInstanceUID={study_uid(2)}.1"], output=tmp_path / "got", ae_title="DKSCU")
            assert result.status == 0 and result.completed == 2, (result.describe(), result.notes)
            assert not result.notes  # Orthanc said which SOP Classes would come

        asyncio.run(asyncio.wait_for(go(), 120))
    assert received(tmp_path / "moved") == sorted(f"{study_uid(1)}.{s}.{n}" for s in range(2) for n in range(2))
    assert received(tmp_path / "got") == [f"{study_uid(2)}.1.0", f"{study_uid(2)}.1.1"]


def test_orthanc_as_the_scu(files, tmp_path):
    source = FolderSource(files)
    item = Dataset()
    item.PatientName = "WL^ONE"
    item.PatientID = "W1"
    step = Dataset()
    step.Modality = "CT"
    step.ScheduledStationAETitle = "CT1"
    step.ScheduledProcedureStepStartDate = "20240115"
    item.ScheduledProcedureStepSequence = [step]
    orthanc_port = free_port()
    table = AETable.of(f"ORTHANC=127.0.0.1:{orthanc_port}")
    ae = ApplicationEntity("DKQR")
    for service in (VerificationSCP(), FindSCP(source), MoveSCP(source, table),
                    WorklistSCP(MemoryWorklistSource([item])), CommitmentSCP(source, ae_table=table, report="new")):
        ae.add_service(service)
    with ServerThread(ae, "127.0.0.1", 0) as ours, orthanc(tmp_path / "orthanc", {"dkqr": ("DKQR", ours.port)},
                                                          DicomPort=orthanc_port) as peer:
        assert peer.port == orthanc_port
        query = peer.rest("POST", "/modalities/dkqr/query", {"Level": "Study", "Query": {"PatientName": "DOE^JOHN"}})
        answers = peer.rest("GET", f"{query['Path']}/answers?expand")
        assert [a["0020,000d"]["Value"] for a in answers] == [study_uid(1)]
        # C-MOVE from our SCP into Orthanc
        peer.rest("POST", "/modalities/dkqr/move", {"Level": "Study", "TargetAet": "ORTHANC",
                                                    "Resources": [{"StudyInstanceUID": study_uid(0)}]})
        assert len(peer.rest("GET", "/instances")) == 4
        # the worklist, as Orthanc's find-worklist asks for it
        wanted = {"PatientName": "", "PatientID": "", "ScheduledProcedureStepSequence": [{"Modality": "CT"}]}
        items = peer.rest("POST", "/modalities/dkqr/find-worklist", wanted)
        assert [i["PatientID"] for i in items] == ["W1"]
        # Storage Commitment, Orthanc as the SCU: our SCP reports on a new association to Orthanc
        refs = [[str(d.SOPClassUID), str(d.SOPInstanceUID)] for d in
                (dicomkit.read(p, stop_before_pixels=True) for p in sorted(files.iterdir())[:2])]
        refs.append(["1.2.840.10008.5.1.4.1.1.2", "1.2.826.0.1.3680043.10.1099.404"])
        job = peer.rest("POST", "/modalities/dkqr/storage-commitment", {"DicomInstances": refs, "Timeout": 30})
        path = job["Path"]
        deadline = time.monotonic() + 30
        report = peer.rest("GET", path)
        while report["Status"] == "Pending" and time.monotonic() < deadline:
            time.sleep(0.1)
            report = peer.rest("GET", path)
        assert report["Status"] == "Failure", report  # one of the three is not held here
        assert len(report["Success"]) == 2 and len(report["Failures"]) == 1
        assert report["Failures"][0]["FailureReason"] == 0x0112

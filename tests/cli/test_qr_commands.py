"""``dicomkit find / move / get / mpps / commit`` as a user runs them (separate processes) against our SCPs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dicomkit import Dataset
from dicomkit.net import ApplicationEntity
from dicomkit.net.sync import ServerThread
from dicomkit.services.aetable import AETable
from dicomkit.services.commitment import CommitmentSCP
from dicomkit.services.memory_source import MemoryMppsSource, MemorySource, MemoryWorklistSource
from dicomkit.services.mpps import MppsSCP
from dicomkit.services.query_retrieve.find import FindSCP
from dicomkit.services.query_retrieve.get import GetSCP
from dicomkit.services.query_retrieve.move import MoveSCP
from dicomkit.services.storage import DirectoryReceiver, StorageSCP
from dicomkit.services.verification import VerificationSCP
from dicomkit.services.worklist import WorklistSCP
from tests.services.live import instance, study_uid

from .runner import dicomkit

INSTANCES = [instance(i, s, n, name=f"DOE^{'JOHN' if i % 2 else 'JANE'}") for i in range(4) for s in range(2)
             for n in range(2)]


def worklist_item() -> Dataset:
    item = Dataset()
    item.PatientName = "WL^ONE"
    item.PatientID = "W1"
    step = Dataset()
    step.ScheduledStationAETitle = "CT1"
    step.Modality = "CT"
    step.ScheduledProcedureStepStartDate = "20240115"
    item.ScheduledProcedureStepSequence = [step]
    return item


@pytest.fixture
def pacs(tmp_path: Path):
    """Our SCPs on one AE; C-MOVE destination DEST is a storage SCP writing to tmp_path/moved."""
    dest_ae = ApplicationEntity("DEST")
    receiver = DirectoryReceiver(tmp_path / "moved")
    dest_ae.add_service(StorageSCP(receiver))
    with ServerThread(dest_ae, "127.0.0.1", 0) as dest:
        source = MemorySource(INSTANCES)
        table = AETable.of(f"DEST=127.0.0.1:{dest.port}")
        ae = ApplicationEntity("PACS")
        for service in (VerificationSCP(), FindSCP(source), MoveSCP(source, table), GetSCP(source),
                        WorklistSCP(MemoryWorklistSource([worklist_item()])), MppsSCP(MemoryMppsSource()),
                        CommitmentSCP(source, report="same")):
            ae.add_service(service)
        with ServerThread(ae, "127.0.0.1", 0) as server:
            yield server.port, tmp_path
    receiver.close()


def test_find_table_json_and_failures(pacs):
    port, _ = pacs
    table = dicomkit("find", "127.0.0.1", port, "--aec", "PACS", "-k", "QueryRetrieveLevel=STUDY",
                     "-k", "PatientName=DOE^JOHN", "-k", "StudyInstanceUID", "-k", "NumberOfStudyRelatedInstances")
    assert table.code == 0, table.err
    lines = table.out.splitlines()
    assert lines[0].split() == ["PatientName", "StudyInstanceUID", "NumberOfStudyRelatedInstances"]
    assert len(lines) == 4 and "2 matches; 0x0000 (Success)" in table.err
    assert all(row.split()[0] == "DOE^JOHN" and row.split()[2] == "4" for row in lines[2:])
    listed = dicomkit("find", "127.0.0.1", port, "--aec", "PACS", "-k", "QueryRetrieveLevel=SERIES",
                      "-k", f"StudyInstanceUID={study_uid(1)}", "-k", "0020,000E", "-k", "Modality", "--json")
    assert listed.code == 0, listed.err
    answers = json.loads(listed.out)
    assert len(answers) == 2 and answers[0]["00080060"]["Value"] == ["CT"]
    bad = dicomkit("find", "127.0.0.1", port, "--aec", "PACS", "-k", "PatientName=DOE*")
    assert bad.code == 1 and "0xA900" in bad.err and "QueryRetrieveLevel missing" in bad.err
    typo = dicomkit("find", "127.0.0.1", port, "--aec", "PACS", "-k", "PatientNme=DOE*")
    assert typo.code == 1 and "neither a DICOM keyword nor a tag" in typo.err and "Traceback" not in typo.err
    limited = dicomkit("find", "127.0.0.1", port, "--aec", "PACS", "-k", "QueryRetrieveLevel=IMAGE", "--root",
                       "study", "-k", f"StudyInstanceUID={study_uid(2)}", "-k", f"SeriesInstanceUID={study_uid(2)}.0",
                       "-k", "SOPInstanceUID", "--limit", "1", "--json")
    # the SCP may have sent both answers before the C-CANCEL reached it: Cancel or Success, never a failure
    assert limited.code == 0 and 1 <= len(json.loads(limited.out)) <= 2
    assert "0xFE00 (Cancel" in limited.err or "0x0000 (Success)" in limited.err


def test_find_worklist(pacs):
    port, _ = pacs
    result = dicomkit("find", "127.0.0.1", port, "--aec", "PACS", "--worklist", "-k", "PatientName",
                      "-k", "ScheduledProcedureStepSequence[0].Modality=CT",
                      "-k", "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20240101-20240131")
    assert result.code == 0, result.err
    header, _, row = result.out.splitlines()
    assert header.split() == ["PatientName", "ScheduledProcedureStepSequence.Modality",
                              "ScheduledProcedureStepSequence.ScheduledProcedureStepStartDate"]
    assert row.split() == ["WL^ONE", "CT", "20240115"]


def test_move_and_get(pacs):
    port, tmp = pacs
    moved = dicomkit("move", "127.0.0.1", port, "--aec", "PACS", "--dest", "DEST", "-k", "QueryRetrieveLevel=STUDY",
                     "-k", f"StudyInstanceUID={study_uid(0)}\\{study_uid(3)}")
    assert moved.code == 0, moved.out + moved.err
    assert "C-MOVE: 0x0000" in moved.out and "8 completed, 0 failed" in moved.out
    assert len(list((tmp / "moved").glob("*.dcm"))) == 8
    unknown = dicomkit("move", "127.0.0.1", port, "--aec", "PACS", "--dest", "NOWHERE",
                       "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study_uid(0)}")
    assert unknown.code == 1 and "unknown move destination NOWHERE" in unknown.out
    got = dicomkit("get", "127.0.0.1", port, "--aec", "PACS", "-k", "QueryRetrieveLevel=SERIES",
                   "-k", f"StudyInstanceUID={study_uid(1)}", "-k", f"SeriesInstanceUID={study_uid(1)}.1",
                   "--output", tmp / "got")
    assert got.code == 0, got.out + got.err
    assert "2 instance(s) written" in got.out and len(list((tmp / "got").glob("*.dcm"))) == 2


def test_mpps_create_set_get(pacs):
    port, _ = pacs
    created = dicomkit("mpps", "create", "127.0.0.1", port, "--aec", "PACS", "--aet", "CT1", "--modality", "CT",
                       "--patient-id", "P1", "-k", "PerformedProcedureStepDescription=head")
    assert created.code == 0, created.err
    uid = created.out.strip()
    early = dicomkit("mpps", "set", "127.0.0.1", port, "--aec", "PACS", uid, "--status", "COMPLETED")
    assert early.code == 1 and "0x0121" in early.err and "PerformedSeriesSequence" in early.err
    done = dicomkit("mpps", "set", "127.0.0.1", port, "--aec", "PACS", uid, "--status", "COMPLETED",
                    "--series", "1.2.826.0.1.3680043.10.1099.3.1", "--protocol", "HEAD")
    assert done.code == 0, done.err
    late = dicomkit("mpps", "set", "127.0.0.1", port, "--aec", "PACS", uid, "-k", "PerformedProcedureStepDescription=x")
    assert late.code == 1 and "may no longer be updated" in late.err and "0xA710" in late.err
    shown = dicomkit("mpps", "get", "127.0.0.1", port, "--aec", "PACS", uid)
    assert shown.code == 0 and "COMPLETED" in shown.out and "head" in shown.out


def test_commit_waits_for_the_report(pacs, tmp_path):
    port, _ = pacs
    held = tmp_path / "held.dcm"
    INSTANCES[0].save(held, transfer_syntax="1.2.840.10008.1.2.1")
    stranger = instance(99, 0, 0)
    other = tmp_path / "other.dcm"
    stranger.save(other, transfer_syntax="1.2.840.10008.1.2.1")
    ok = dicomkit("commit", "127.0.0.1", port, "--aec", "PACS", held)
    assert ok.code == 0 and "1 committed, 0 failed" in ok.out, ok.err
    partly = dicomkit("commit", "127.0.0.1", port, "--aec", "PACS", held, other)
    assert partly.code == 1 and "1 committed, 1 failed" in partly.out and "No such object instance" in partly.out


def test_store_more_classes_than_one_association_holds(tmp_path):
    from dicomkit.core import uid

    folder = tmp_path / "in"
    folder.mkdir()
    for i, sop_class in enumerate([str(u) for u in uid.storage_sop_classes(include_retired=False)][:130]):
        instance(50, 0, i, sop_class=sop_class).save(folder / f"{i}.dcm", transfer_syntax="1.2.840.10008.1.2.1")
    ae = ApplicationEntity("SCP")
    receiver = DirectoryReceiver(tmp_path / "out")
    ae.add_service(StorageSCP(receiver))
    with ServerThread(ae, "127.0.0.1", 0) as server:
        result = dicomkit("store", "127.0.0.1", server.port, "--aec", "SCP", folder)
    receiver.close()
    assert result.code == 0, result.out + result.err
    assert "sent 130 of 130" in result.out and "2 associations were needed" in result.out
    assert len(list((tmp_path / "out").glob("*.dcm"))) == 130

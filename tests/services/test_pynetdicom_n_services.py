"""DIMSE-N services against pynetdicom (the dev oracle, where no DCMTK tool exists): MPPS N-CREATE / N-SET / N-GET
and Storage Commitment N-ACTION / N-EVENT-REPORT, each way."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from dicomkit.net import ApplicationEntity
from dicomkit.net.sync import ServerThread
from dicomkit.services.commitment import SOP_CLASS as COMMITMENT
from dicomkit.services.commitment import WELL_KNOWN_INSTANCE, CommitmentSCP, request_commitment
from dicomkit.services.memory_source import MemoryMppsSource, MemorySource
from dicomkit.services.mpps import (
    RETRIEVE_SOP_CLASS,
    SOP_CLASS,
    MppsSCP,
    completion,
    create_step,
    set_step,
    step_attributes,
)

from .live import instance

pynetdicom = pytest.importorskip("pynetdicom")
pydicom = pytest.importorskip("pydicom")
pytestmark = pytest.mark.interop

HELD = [instance(1, 0, n) for n in range(2)]
UNKNOWN = "1.2.826.0.1.3680043.10.1099.404"


def to_pydicom(ds):
    return ds.to_pydicom()


def test_pynetdicom_mpps_scu_against_our_scp():
    steps = MemoryMppsSource()
    ae = ApplicationEntity("SCP")
    ae.add_service(MppsSCP(steps))
    with ServerThread(ae, "127.0.0.1", 0) as server:
        scu = pynetdicom.AE(ae_title="PYSCU")
        scu.add_requested_context(str(SOP_CLASS))
        scu.add_requested_context(str(RETRIEVE_SOP_CLASS))
        assoc = scu.associate("127.0.0.1", server.port, ae_title="SCP")
        assert assoc.is_established
        try:
            uid = pydicom.uid.generate_uid()
            status, _ = assoc.send_n_create(to_pydicom(step_attributes(patient_id="P1", modality="CT",
                                                                        station_ae="PYSCU")), str(SOP_CLASS), uid)
            assert status.Status == 0 and steps.steps[uid].PerformedProcedureStepStatus == "IN PROGRESS"
            status, _ = assoc.send_n_set(to_pydicom(completion()), str(SOP_CLASS), uid)
            assert status.Status == 0x0121 and "PerformedSeriesSequence" in status.ErrorComment
            status, _ = assoc.send_n_set(to_pydicom(completion(series=[{"SeriesInstanceUID": "1.2.3",
                                                                         "ProtocolName": "P"}])), str(SOP_CLASS), uid)
            assert status.Status == 0
            status, _ = assoc.send_n_set(to_pydicom(completion()), str(SOP_CLASS), uid)
            assert status.Status == 0x0110 and status.ErrorID == 0xA710
            status, attrs = assoc.send_n_get([0x00400252], str(RETRIEVE_SOP_CLASS), uid)
            assert status.Status == 0 and attrs.PerformedProcedureStepStatus == "COMPLETED"
        finally:
            assoc.release()


def test_our_mpps_scu_against_pynetdicom():
    from pynetdicom import evt

    kept: dict[str, object] = {}

    def on_create(event):
        ds = event.attribute_list
        ds.SOPInstanceUID = event.request.AffectedSOPInstanceUID
        kept[str(ds.SOPInstanceUID)] = ds
        return 0x0000, ds

    def on_set(event):
        ds = kept.get(str(event.request.RequestedSOPInstanceUID))
        if ds is None:
            return 0x0112, None
        for elem in event.attribute_list:
            ds[elem.tag] = elem
        return 0x0000, ds

    scp = pynetdicom.AE(ae_title="PYSCP")
    scp.add_supported_context(str(SOP_CLASS))
    server = scp.start_server(("127.0.0.1", 0), block=False,
                              evt_handlers=[(evt.EVT_N_CREATE, on_create), (evt.EVT_N_SET, on_set)])
    try:
        port = server.server_address[1]

        async def go():
            async with await ApplicationEntity("CT1").associate("127.0.0.1", port, [str(SOP_CLASS)],
                                                                called_ae_title="PYSCP") as assoc:
                uid = await create_step(assoc, step_attributes(patient_id="P1", modality="CT", station_ae="CT1"))
                assert kept[uid].Modality == "CT"
                await set_step(assoc, uid, completion(series=[{"SeriesInstanceUID": "1.2.3", "ProtocolName": "P"}]))
                assert kept[uid].PerformedProcedureStepStatus == "COMPLETED"

        asyncio.run(asyncio.wait_for(go(), 30))
    finally:
        server.shutdown()


def test_pynetdicom_commitment_scu_gets_our_report_on_the_same_association():
    from pynetdicom import evt

    reports = []
    got = threading.Event()

    def on_report(event):
        reports.append((event.event_type, event.event_information))
        got.set()
        return 0x0000, None

    ae = ApplicationEntity("SCP")
    ae.add_service(CommitmentSCP(MemorySource(HELD), report="same"))
    with ServerThread(ae, "127.0.0.1", 0) as server:
        scu = pynetdicom.AE(ae_title="PYSCU")
        scu.add_requested_context(str(COMMITMENT))
        assoc = scu.associate("127.0.0.1", server.port, ae_title="SCP",
                              evt_handlers=[(evt.EVT_N_EVENT_REPORT, on_report)])
        assert assoc.is_established
        try:
            request = pydicom.Dataset()
            request.TransactionUID = pydicom.uid.generate_uid()
            items = []
            for uid in (str(HELD[0].SOPInstanceUID), UNKNOWN):
                item = pydicom.Dataset()
                item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
                item.ReferencedSOPInstanceUID = uid
                items.append(item)
            request.ReferencedSOPSequence = items
            status, _ = assoc.send_n_action(request, 1, str(COMMITMENT), str(WELL_KNOWN_INSTANCE))
            assert status.Status == 0
            assert got.wait(20)
        finally:
            assoc.release()
    event_type, info = reports[0]
    assert event_type == 2 and info.TransactionUID == request.TransactionUID
    assert [i.ReferencedSOPInstanceUID for i in info.ReferencedSOPSequence] == [str(HELD[0].SOPInstanceUID)]
    assert info.FailedSOPSequence[0].FailureReason == 0x0112


def test_our_commitment_scu_against_a_pynetdicom_scp():
    from pynetdicom import evt

    def on_action(event):
        info = event.action_information
        assoc = event.assoc

        def report():  # after the N-ACTION-RSP, on the same association
            time.sleep(0.2)
            result = pydicom.Dataset()
            result.TransactionUID = info.TransactionUID
            result.ReferencedSOPSequence = [info.ReferencedSOPSequence[0]]
            failed = pydicom.Dataset()
            failed.ReferencedSOPClassUID = info.ReferencedSOPSequence[1].ReferencedSOPClassUID
            failed.ReferencedSOPInstanceUID = info.ReferencedSOPSequence[1].ReferencedSOPInstanceUID
            failed.FailureReason = 0x0112
            result.FailedSOPSequence = [failed]
            assoc.send_n_event_report(result, 2, str(COMMITMENT), str(WELL_KNOWN_INSTANCE))

        threading.Thread(target=report, daemon=True).start()
        return 0x0000, None

    scp = pynetdicom.AE(ae_title="PYSCP")
    scp.add_supported_context(str(COMMITMENT))
    server = scp.start_server(("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_N_ACTION, on_action)])
    try:
        port = server.server_address[1]

        async def go():
            async with await ApplicationEntity("DKSCU").associate("127.0.0.1", port, [str(COMMITMENT)],
                                                                  called_ae_title="PYSCP") as assoc:
                report = await request_commitment(assoc, [("1.2.840.10008.5.1.4.1.1.2", str(HELD[0].SOPInstanceUID)),
                                                          ("1.2.840.10008.5.1.4.1.1.2", UNKNOWN)], timeout=20)
                assert report.event_type_id == 2
                assert [r.reference.sop_instance_uid for r in report.committed] == [str(HELD[0].SOPInstanceUID)]
                assert report.failed[0].failure_reason == 0x0112

        asyncio.run(asyncio.wait_for(go(), 30))
    finally:
        server.shutdown()

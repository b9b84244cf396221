"""The MPPS state machine on the wire (PS3.4 F.7.2): N-CREATE IN PROGRESS, N-SET to a final state, and every
refusal with its status, Error Comment and Error ID — the association goes on after each."""

from __future__ import annotations

import asyncio

import pytest

from dicomkit import Dataset
from dicomkit.net import ApplicationEntity
from dicomkit.services.dimse_n import NServiceFailed, n_create, n_set
from dicomkit.services.memory_source import MemoryMppsSource
from dicomkit.services.mpps import (
    RETRIEVE_SOP_CLASS,
    SOP_CLASS,
    MppsSCP,
    completion,
    create_step,
    get_step,
    set_step,
    step_attributes,
)

from .live import run, serving

SERIES = [{"SeriesInstanceUID": "1.2.826.0.1.3680043.10.1099.5.1", "ProtocolName": "HEAD"}]


async def mpps_assoc(server):
    return await ApplicationEntity("CT1").associate("127.0.0.1", server.port, [str(SOP_CLASS), str(RETRIEVE_SOP_CLASS)],
                                                    called_ae_title="SCP")


def test_a_step_from_in_progress_to_completed():
    steps = MemoryMppsSource()

    async def go():
        async with serving(MppsSCP(steps)) as server, await mpps_assoc(server) as assoc:
            uid = await create_step(assoc, step_attributes(patient_id="P1", modality="CT", station_ae="CT1"))
            assert steps.steps[uid].PerformedProcedureStepStatus == "IN PROGRESS"
            change = Dataset()
            change.PerformedProcedureStepDescription = "head CT"
            await set_step(assoc, uid, change)  # an N-SET that stays IN PROGRESS
            await set_step(assoc, uid, completion(series=SERIES))
            final = await get_step(assoc, uid)
            assert final.PerformedProcedureStepStatus == "COMPLETED"
            assert final.PerformedProcedureStepDescription == "head CT"
            assert final.PerformedSeriesSequence[0].ProtocolName == "HEAD"
            only = await get_step(assoc, uid, [0x00400252])
            assert list(only.tags()) == [0x00400252]

    run(go())


@pytest.mark.parametrize("edit, status, comment", [
    (lambda ds: ds.add_new(0x00400252, "CS", "COMPLETED"), 0x0106, "needs Performed Procedure Step Status"),
    (lambda ds: ds.add_new(0x00400252, "CS", "PAUSED"), 0x0106, "is not IN PROGRESS"),
    (lambda ds: ds.__delitem__(0x00400253), 0x0120, "PerformedProcedureStepID missing"),
    (lambda ds: ds.add_new(0x00400244, "DA", None), 0x0121, "PerformedProcedureStepStartDate has no value"),
])
def test_n_create_refusals(edit, status, comment):
    async def go():
        async with serving(MppsSCP(MemoryMppsSource())) as server, await mpps_assoc(server) as assoc:
            ds = step_attributes(patient_id="P1", modality="CT", station_ae="CT1")
            edit(ds)
            result = await n_create(assoc, str(SOP_CLASS), ds, sop_instance_uid="1.2.826.0.1.3680043.10.1099.6")
            assert result.status == status and comment in (result.error_comment or "")
            assert assoc.is_established

    run(go())


def test_n_set_refusals_and_the_final_state_rule():
    async def go():
        async with serving(MppsSCP(MemoryMppsSource())) as server, await mpps_assoc(server) as assoc:
            uid = await create_step(assoc, step_attributes(patient_id="P1", modality="CT", station_ae="CT1"))
            duplicate = await n_create(assoc, str(SOP_CLASS), step_attributes(modality="CT", station_ae="CT1"),
                                       sop_instance_uid=uid)
            assert duplicate.status == 0x0111
            unknown = await n_set(assoc, str(SOP_CLASS), "1.2.826.0.1.3680043.10.1099.404", completion(series=SERIES))
            assert unknown.status == 0x0112 and "no Performed Procedure Step" in unknown.error_comment
            no_series = await n_set(assoc, str(SOP_CLASS), uid, completion())
            assert no_series.status == 0x0121 and no_series.response.attribute_identifier_list == (0x00400340,)
            fixed = Dataset()
            fixed.Modality = "MR"  # not settable by N-SET
            assert (await n_set(assoc, str(SOP_CLASS), uid, fixed)).status == 0x0106
            with pytest.raises(NServiceFailed):
                await set_step(assoc, uid, fixed)
            await set_step(assoc, uid, completion("DISCONTINUED", series=SERIES))
            late = await n_set(assoc, str(SOP_CLASS), uid, completion(series=SERIES))
            assert late.status == 0x0110 and late.response.error_id == 0xA710
            assert late.error_comment == "Performed Procedure Step Object may no longer be updated"
            assert (await get_step(assoc, uid)).PerformedProcedureStepStatus == "DISCONTINUED"

    run(go())


def test_concurrent_n_sets_on_one_step_are_serialised():
    steps = MemoryMppsSource()

    async def go():
        async with serving(MppsSCP(steps), max_ops_performed=8) as server:
            ae = ApplicationEntity("CT1", max_ops_invoked=8)
            async with await ae.associate("127.0.0.1", server.port, [str(SOP_CLASS)], called_ae_title="SCP") as assoc:
                uid = await create_step(assoc, step_attributes(patient_id="P1", modality="CT", station_ae="CT1"))
                results = await asyncio.gather(*(n_set(assoc, str(SOP_CLASS), uid, completion(series=SERIES))
                                                 for _ in range(6)))
                statuses = sorted(int(r.status) for r in results)
                assert statuses == [0, 0x0110, 0x0110, 0x0110, 0x0110, 0x0110]  # exactly one completes it

    run(go())

"""Storage Commitment Push Model on the wire (PS3.4 J): the N-ACTION, the report on the same association or on a
new one to a listener, failures with reasons, and the refusals."""

from __future__ import annotations

import pytest

from dicomkit import Dataset
from dicomkit.core.errors import NetworkTimeout
from dicomkit.net import ApplicationEntity
from dicomkit.services.aetable import AETable
from dicomkit.services.commitment import (
    SOP_CLASS,
    WELL_KNOWN_INSTANCE,
    CommitmentListener,
    CommitmentSCP,
    references_of,
    request_commitment,
)
from dicomkit.services.dimse_n import NServiceFailed, n_action
from dicomkit.services.memory_source import MemorySource

from .live import CT, MR, instance, run, serving

HELD = [instance(1, 0, n) for n in range(3)]


async def scu(server, title="SCU"):
    return await ApplicationEntity(title).associate("127.0.0.1", server.port, [str(SOP_CLASS)], called_ae_title="SCP")


def test_report_on_the_same_association_with_reasons():
    scp = CommitmentSCP(MemorySource(HELD, retrieve_ae_title="ARCHIVE"), report="same")

    async def go():
        async with serving(scp) as server, await scu(server) as assoc:
            refs = [*references_of(HELD), (CT, "1.2.826.0.1.3680043.10.1099.404"), (MR, str(HELD[0].SOPInstanceUID))]
            report = await request_commitment(assoc, refs, timeout=10)
            assert report.event_type_id == 2
            assert [r.reference.sop_instance_uid for r in report.committed] == [str(d.SOPInstanceUID) for d in HELD]
            assert all(r.retrieve_ae_title == "ARCHIVE" for r in report.committed)
            assert [r.reason_text for r in report.failed] == ["No such object instance", "Class / Instance conflict"]
            everything = await request_commitment(assoc, references_of(HELD[:1]), timeout=10)
            assert everything.event_type_id == 1 and not everything.failed
        assert scp.reports_sent == 2

    run(go())


@pytest.mark.parametrize("mode", ["new", "auto"])
def test_report_on_a_new_association_to_the_listener(mode):
    async def go():
        async with CommitmentListener("SCU") as listener:
            table = AETable.of(f"SCU=127.0.0.1:{listener.port}")
            scp = CommitmentSCP(MemorySource(HELD), ae_table=table, report=mode)
            async with serving(scp) as server:
                if mode == "new":
                    async with await scu(server) as assoc:
                        report = await request_commitment(assoc, references_of(HELD), listener=listener, timeout=10)
                else:  # auto: the requestor has gone when the report is ready
                    async with await scu(server) as assoc:
                        uid = await request_commitment(assoc, references_of(HELD), listener=listener, wait=False)
                        future = listener.handler.expect(uid)
                    report = await future
                assert report.event_type_id == 1 and len(report.committed) == 3

    run(go())


def test_n_action_refusals():
    async def go():
        async with serving(CommitmentSCP(MemorySource(HELD), report="new")) as server, await scu(server) as assoc:
            # report "new" with no AE table: no address for a report, refused at once
            with pytest.raises(NServiceFailed, match="0x0110"):
                await request_commitment(assoc, references_of(HELD), timeout=5)
            empty = Dataset()
            empty.TransactionUID = "1.2.3"
            bad = await n_action(assoc, str(SOP_CLASS), str(WELL_KNOWN_INSTANCE), 1, empty)
            assert bad.status == 0x0115 and "Referenced SOP Sequence" in bad.error_comment
            wrong_action = await n_action(assoc, str(SOP_CLASS), str(WELL_KNOWN_INSTANCE), 5, empty)
            assert wrong_action.status == 0x0123
            wrong_instance = await n_action(assoc, str(SOP_CLASS), "1.2.3.4", 1, empty)
            assert wrong_instance.status == 0x0112
            assert assoc.is_established

    run(go())


def test_waiting_for_a_report_that_never_comes_times_out():
    async def go():
        # "new" to an address where nobody listens: the report cannot be sent, the SCU gives up
        table = AETable.of("SCU=127.0.0.1:9")
        async with serving(CommitmentSCP(MemorySource(HELD), ae_table=table, report="new")) as server, \
                await scu(server) as assoc:
            with pytest.raises(NetworkTimeout, match="no storage commitment report"):
                await request_commitment(assoc, references_of(HELD), timeout=1.0)

    run(go())

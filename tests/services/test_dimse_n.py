"""DIMSE-N over real sockets: each operation as SCU call and SCP hook (sync and async), the response fields of
PS3.7 10 and Annex C, refusals, and the operations nobody handles."""

from __future__ import annotations

import pytest

from dicomkit import Dataset
from dicomkit.net import ApplicationEntity, BytesPayload, NSetRQ
from dicomkit.net.status import Status
from dicomkit.services.dimse_n import (
    ALLOWED,
    NOutcome,
    NRequest,
    NServiceFailed,
    NServiceSCP,
    n_action,
    n_create,
    n_delete,
    n_event_report,
    n_get,
    n_set,
)

from .live import run, serving

SOP = "1.2.840.10008.3.1.2.3.3"  # MPPS: any SOP Class will do for the generic service
INSTANCE = "1.2.826.0.1.3680043.10.1099.77"


class Store:
    """Instances in a dict, as a test SCP keeps them."""

    def __init__(self) -> None:
        self.items: dict[str, Dataset] = {}
        self.events: list[tuple[int, Dataset | None]] = []

    def n_create(self, req: NRequest) -> NOutcome:  # a plain function: sync hooks are allowed
        uid = req.sop_instance_uid or INSTANCE
        if uid in self.items:
            return NOutcome.failure(0x0111, f"{uid} exists")
        self.items[uid] = req.dataset or Dataset()
        return NOutcome(affected_sop_instance_uid=uid)

    async def n_get(self, req: NRequest) -> NOutcome:
        ds = self.items.get(req.sop_instance_uid or "")
        if ds is None:
            return NOutcome.failure(0x0112, "no such instance")
        out = Dataset()
        missing = []
        for tag in req.attribute_identifiers:
            elem = ds.get(tag)
            if elem is None:
                missing.append(tag)
            else:
                out.add(elem)
        return NOutcome(0x0107 if missing else 0, out, attribute_identifier_list=tuple(missing) or None)

    async def n_set(self, req: NRequest) -> NOutcome:
        ds = self.items.get(req.sop_instance_uid or "")
        if ds is None:
            return NOutcome.failure(0x0112, "no such instance")
        for elem in req.dataset or ():
            ds.add(elem)
        return NOutcome()

    async def n_action(self, req: NRequest) -> NOutcome:
        if req.action_type_id != 7:
            return NOutcome.failure(0x0123, "no such action")
        reply = Dataset()
        reply.TextValue = "done"
        return NOutcome(dataset=reply)

    async def n_delete(self, req: NRequest) -> NOutcome:
        if self.items.pop(req.sop_instance_uid or "", None) is None:
            return NOutcome.failure(0x0112, "no such instance")
        return NOutcome()

    def n_event_report(self, req: NRequest) -> NOutcome:
        if req.event_type_id == 99:
            raise ValueError("a bug in the hook")
        self.events.append((req.event_type_id or 0, req.dataset))
        return NOutcome()


def scp(store: Store) -> NServiceSCP:
    return NServiceSCP([SOP], n_create=store.n_create, n_get=store.n_get, n_set=store.n_set,
                       n_action=store.n_action, n_delete=store.n_delete, n_event_report=store.n_event_report)


def test_every_operation_round_trips():
    store = Store()

    async def go():
        async with serving(scp(store)) as server, ApplicationEntity("SCU").connect(
                "127.0.0.1", server.port, [SOP], called_ae_title="SCP") as assoc:
            attrs = Dataset()
            attrs.PatientName = "DOE^JOHN"
            attrs.PatientID = "P1"
            created = await n_create(assoc, SOP, attrs, sop_instance_uid=INSTANCE)
            assert created.ok and created.affected_sop_instance_uid == INSTANCE
            again = await n_create(assoc, SOP, attrs, sop_instance_uid=INSTANCE)
            assert again.status == 0x0111 and again.affected_sop_instance_uid == INSTANCE
            got = await n_get(assoc, SOP, INSTANCE, [0x00100010, 0x00100020])
            assert got.status == 0 and got.dataset.PatientName == "DOE^JOHN"
            partial = await n_get(assoc, SOP, INSTANCE, [0x00100010, 0x00100030])
            assert partial.status == 0x0107 and partial.ok  # a warning
            assert partial.response.attribute_identifier_list == (0x00100030,)
            change = Dataset()
            change.PatientName = "DOE^JANE"
            assert (await n_set(assoc, SOP, INSTANCE, change)).ok
            assert store.items[INSTANCE].PatientName == "DOE^JANE"
            action = await n_action(assoc, SOP, INSTANCE, 7)
            assert action.ok and action.dataset.TextValue == "done" and action.response.action_type_id == 7
            bad_action = await n_action(assoc, SOP, INSTANCE, 8)
            assert bad_action.status == 0x0123 and bad_action.response.action_type_id == 8
            info = Dataset()
            info.TextValue = "event"
            report = await n_event_report(assoc, SOP, INSTANCE, 3, info)
            assert report.ok and report.response.event_type_id == 3
            assert store.events[0][0] == 3 and store.events[0][1].TextValue == "event"
            assert (await n_delete(assoc, SOP, INSTANCE)).ok
            missing = await n_delete(assoc, SOP, INSTANCE)
            assert missing.status == 0x0112 and not missing.ok
            with pytest.raises(NServiceFailed, match="0x0112"):
                missing.raise_for_status()
            assert "no such instance" in missing.describe()

    run(go())


def test_a_failing_hook_is_answered_and_the_association_goes_on():
    store = Store()

    async def go():
        async with serving(scp(store)) as server, ApplicationEntity("SCU").connect(
                "127.0.0.1", server.port, [SOP], called_ae_title="SCP") as assoc:
            broken = await n_event_report(assoc, SOP, INSTANCE, 99)
            assert broken.status == 0x0110 and "a bug in the hook" in (broken.error_comment or "")
            assert (await n_event_report(assoc, SOP, INSTANCE, 1)).ok  # still usable

    run(go())


def test_unreadable_data_set_and_missing_hooks():
    async def go():
        only_get = NServiceSCP([SOP], n_get=Store().n_get, n_set=Store().n_set)
        async with serving(only_get) as server, ApplicationEntity("SCU").connect(
                "127.0.0.1", server.port, [SOP], called_ae_title="SCP") as assoc:
            # no N-DELETE hook: the association answers Unrecognized Operation
            assert (await n_delete(assoc, SOP, INSTANCE)).status == 0x0211
            # a data set that is not one: refused with Invalid Attribute Value, not an abort
            garbage = BytesPayload(b"\x10\x00\x10\x00\xff\xff\xff\x7f", "1.2.840.10008.1.2")
            rsp = await assoc.send_request(NSetRQ(requested_sop_class_uid=SOP, requested_sop_instance_uid=INSTANCE),
                                           payload=garbage)
            assert rsp.status_value == 0x0106 and assoc.is_established

    run(go())


def test_status_tables_are_those_of_ps3_7():
    assert 0x0111 in ALLOWED["N-CREATE"] and 0x0111 not in ALLOWED["N-SET"]
    assert 0x0123 in ALLOWED["N-ACTION"] and 0x0113 in ALLOWED["N-EVENT-REPORT"]
    assert 0x0107 in ALLOWED["N-GET"] and Status(0x0107).is_warning
    with pytest.raises(TypeError, match="unknown DIMSE-N hook"):
        NServiceSCP([SOP], n_print=lambda r: NOutcome())

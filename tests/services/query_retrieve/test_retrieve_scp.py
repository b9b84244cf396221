"""C-MOVE and C-GET over real sockets: sub-operations and their counts, the Failed SOP Instance UID List, unknown
and refusing destinations, cancel, parallel sub-associations, more than 128 contexts, the C-GET SCU's storage
roles (discovered, split, fallback), and the status paths."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dicomkit.core import uid as uids
from dicomkit.net import ApplicationEntity
from dicomkit.services.aetable import AETable, RemoteAE
from dicomkit.services.memory_source import MemorySource
from dicomkit.services.query_retrieve import STUDY_ROOT
from dicomkit.services.query_retrieve.find import FindSCP, query_contexts
from dicomkit.services.query_retrieve.get import (
    COMMON_STORAGE_CLASSES,
    RECEIVE_SYNTAXES,
    GetSCP,
    get,
    get_on,
    plan_gets,
    storage_roles,
)
from dicomkit.services.query_retrieve.levels import Operation
from dicomkit.services.query_retrieve.move import MoveSCP, move
from dicomkit.services.storage import DirectoryReceiver, StorageSCP, StoreOutcome

from ...helpers import until
from ..live import CT, MR, instance, keys, run, serving, study_uid

ALL = [instance(i, s, n) for i in range(4) for s in range(2) for n in range(3)]  # 4 studies x 6 instances


def stored(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.dcm"))


class Destination:
    """A storage SCP that records each C-STORE's Move Originator and may refuse, slow down or count."""

    def __init__(self, folder: Path, *, refuse=lambda uid: False, delay: float = 0.0) -> None:
        self.receiver = DirectoryReceiver(folder)
        self.refuse = refuse
        self.delay = delay
        self.originators: set[tuple[str | None, int | None]] = set()
        self.active = 0
        self.most_active = 0
        self.calls = 0

    def __call__(self, request, rc):
        self.originators.add((request.move_originator_aet, request.move_originator_message_id))
        target = self.receiver(request, rc)
        return _Slow(target, self, str(request.affected_sop_instance_uid))


class _Slow:
    def __init__(self, target, owner: Destination, uid: str) -> None:
        self.target, self.owner, self.uid = target, owner, uid

    def write(self, data):
        self.target.write(data)

    def finish(self):
        self.target.finish()

    def discard(self):
        self.target.discard()

    async def commit(self):
        owner = self.owner
        owner.calls += 1
        owner.active += 1
        owner.most_active = max(owner.most_active, owner.active)
        try:
            if owner.delay:
                await asyncio.sleep(owner.delay)
            if owner.refuse(self.uid):
                self.target.discard()
                return StoreOutcome(0xA700, "refused by the test")
            return await self.target.commit()
        finally:
            owner.active -= 1


async def move_scu(server, **options):
    return await ApplicationEntity("MOVESCU", **options).associate(
        "127.0.0.1", server.port, query_contexts("study", "patient", operations=[Operation.MOVE]),
        called_ae_title="SCP")


def test_move_sends_counts_and_originator(tmp_path):
    dest = Destination(tmp_path / "dest")

    async def go():
        async with serving(StorageSCP(dest), ae_title="DEST") as dest_server:
            table = AETable.of(f"DEST=127.0.0.1:{dest_server.port}")
            async with serving(MoveSCP(MemorySource(ALL), table)) as server, await move_scu(server) as assoc:
                seen = []
                result = await move(assoc, keys("STUDY", StudyInstanceUID=f"{study_uid(1)}\\{study_uid(2)}"), "DEST",
                                    on_progress=seen.append)
                assert result.status == 0 and result.completed == 12 and result.failed == 0
                assert result.failed_sop_instance_uids == []
                assert seen and all(p.remaining is not None for p in seen)
                assert [p.remaining + p.done for p in seen] == [12] * len(seen)
                series = await move(assoc, keys("SERIES", StudyInstanceUID=study_uid(3),
                                                SeriesInstanceUID=f"{study_uid(3)}.1"), "DEST")
                assert series.completed == 3
                nothing = await move(assoc, keys("STUDY", StudyInstanceUID="1.2.3.404"), "DEST")
                assert nothing.status == 0 and nothing.completed == 0
        dest.receiver.close()
        assert len(stored(tmp_path / "dest")) == 15
        assert dest.originators == {("MOVESCU", 1), ("MOVESCU", 2)}  # the third moved nothing

    run(go())


def test_unknown_destination_and_bad_identifiers(caplog):
    async def go():
        table = AETable.of("DEST=127.0.0.1:1")
        async with serving(MoveSCP(MemorySource(ALL), table)) as server, await move_scu(server) as assoc:
            unknown = await move(assoc, keys("STUDY", StudyInstanceUID=study_uid(1)), "ABC")
            assert unknown.status == 0xA801 and unknown.error_comment == "unknown move destination ABC"
            no_uid = await move(assoc, keys("STUDY", PatientName="DOE*"), "DEST")
            assert no_uid.status == 0xA900 and "StudyInstanceUID missing" in (no_uid.error_comment or "")
            wildcard = await move(assoc, keys("STUDY", StudyInstanceUID="1.2.*"), "DEST")
            assert wildcard.status == 0xC002  # a wild card is no UID (PS3.4 C.2.2.2.2)
            no_level = await move(assoc, [f"StudyInstanceUID={study_uid(1)}"], "DEST")
            assert no_level.status == 0xA900 and "QueryRetrieveLevel" in (no_level.error_comment or "")
            assert assoc.is_established

    run(go())
    assert any("unknown move destination ABC" in r.getMessage() for r in caplog.records)


def test_a_refusing_destination_fails_every_sub_operation_with_the_reason(tmp_path):
    async def go():
        refusing = ApplicationEntity("DEST", calling_ae_titles=["SOMEONE"])
        refusing.add_service(StorageSCP(DirectoryReceiver(tmp_path)))
        server_dest = await refusing.start_server("127.0.0.1", 0)
        try:
            table = AETable.of(f"DEST=127.0.0.1:{server_dest.port}")
            async with serving(MoveSCP(MemorySource(ALL), table)) as server, await move_scu(server) as assoc:
                result = await move(assoc, keys("STUDY", StudyInstanceUID=study_uid(0)), "DEST")
                assert result.status == 0xA702 and result.failed == 6 and result.completed == 0
                assert "rejected" in (result.error_comment or "")
                assert len(result.failed_sop_instance_uids) == 6
        finally:
            await server_dest.close()

    run(go())


def test_some_refused_some_stored_is_a_warning_with_the_failed_list(tmp_path):
    dest = Destination(tmp_path / "dest", refuse=lambda uid: uid.endswith(".1"))

    async def go():
        async with serving(StorageSCP(dest), ae_title="DEST") as dest_server:
            table = AETable.of(f"DEST=127.0.0.1:{dest_server.port}")
            async with serving(MoveSCP(MemorySource(ALL), table)) as server, await move_scu(server) as assoc:
                result = await move(assoc, keys("STUDY", StudyInstanceUID=study_uid(2)), "DEST")
                assert result.status == 0xB000 and result.completed == 4 and result.failed == 2
                assert sorted(result.failed_sop_instance_uids) == [f"{study_uid(2)}.0.1", f"{study_uid(2)}.1.1"]
        dest.receiver.close()

    run(go())


def test_cancel_a_move_mid_way(tmp_path):
    dest = Destination(tmp_path / "dest", delay=0.05)

    async def go():
        async with serving(StorageSCP(dest), ae_title="DEST") as dest_server:
            table = AETable.of(f"DEST=127.0.0.1:{dest_server.port}")
            many = [instance(9, 0, n) for n in range(40)]
            async with serving(MoveSCP(MemorySource(many), table)) as server, await move_scu(server) as assoc:
                cancel = asyncio.Event()

                def progress(p):
                    if p.completed >= 3:
                        cancel.set()

                result = await move(assoc, keys("STUDY", StudyInstanceUID=study_uid(9)), "DEST", on_progress=progress,
                                    cancel=cancel)
                assert result.status == 0xFE00
                assert result.progress.remaining and result.progress.remaining > 0
                assert result.completed + result.progress.remaining == 40
                assert assoc.is_established
        dest.receiver.close()
        assert dest.calls < 40

    run(go())


def test_parallel_sub_associations_share_the_work(tmp_path):
    dest = Destination(tmp_path / "dest", delay=0.02)

    async def go():
        async with serving(StorageSCP(dest), ae_title="DEST") as dest_server:
            table = AETable.from_mapping({"DEST": {"host": "127.0.0.1", "port": dest_server.port, "associations": 3}})
            many = [instance(8, 0, n) for n in range(18)]
            async with serving(MoveSCP(MemorySource(many), table)) as server, await move_scu(server) as assoc:
                result = await move(assoc, keys("STUDY", StudyInstanceUID=study_uid(8)), "DEST")
                assert result.status == 0 and result.completed == 18
        dest.receiver.close()
        assert dest.most_active >= 2  # more than one sub-association stored at the same time

    run(go())


def many_classes(n: int) -> list[str]:
    return [str(u) for u in uids.storage_sop_classes(include_retired=False)][:n]


def test_move_of_more_classes_than_one_association_holds(tmp_path):
    classes = many_classes(130)
    objects = [instance(7, i, 0, sop_class=c) for i, c in enumerate(classes)]

    async def go():
        async with serving(StorageSCP(DirectoryReceiver(tmp_path / "dest")), ae_title="DEST") as dest_server:
            table = AETable.of(f"DEST=127.0.0.1:{dest_server.port}")
            async with serving(MoveSCP(MemorySource(objects), table)) as server, await move_scu(server) as assoc:
                result = await move(assoc, keys("STUDY", StudyInstanceUID=study_uid(7)), "DEST")
                assert result.status == 0 and result.completed == 130

    run(go())
    assert len(stored(tmp_path / "dest")) == 130


def test_the_table_may_refuse_the_requestor():
    async def go():
        table = AETable.from_mapping({"DEST": {"host": "127.0.0.1", "port": 1, "services": ["find"]}})
        scp = MoveSCP(MemorySource(ALL), table, check_requester=True)
        async with serving(scp) as server, await move_scu(server) as assoc:
            result = await move(assoc, keys("STUDY", StudyInstanceUID=study_uid(1)), "DEST")
            assert result.status == 0x0124 and "MOVESCU" in (result.error_comment or "")

    run(go())


# -- C-GET --------------------------------------------------------------------------------------------------
def test_get_discovers_the_classes_and_writes_what_arrives(tmp_path):
    mixed = [*ALL, instance(5, 0, 0, sop_class=MR, modality="MR")]

    async def go():
        async with serving(FindSCP(MemorySource(mixed)), GetSCP(MemorySource(mixed))) as server:
            peer = RemoteAE("SCP", "127.0.0.1", server.port)
            seen = []
            result = await get(peer, keys("STUDY", StudyInstanceUID=f"{study_uid(1)}\\{study_uid(5)}"),
                               output=tmp_path / "got", on_progress=seen.append)
            assert result.status == 0 and result.completed == 7 and not result.notes
            assert len(result.received) == 7 and all(Path(p).exists() for p in result.received)
            assert seen and seen[-1].done < 7  # the pending counts came as the instances did
            image = await get(peer, keys("IMAGE", StudyInstanceUID=study_uid(2), SeriesInstanceUID=f"{study_uid(2)}.0",
                                         SOPInstanceUID=f"{study_uid(2)}.0.1"), output=tmp_path / "one")
            assert image.completed == 1 and stored(tmp_path / "one") == [f"{study_uid(2)}.0.1"]

    run(go())
    assert len(stored(tmp_path / "got")) == 7


def test_get_on_an_association_fails_what_was_not_offered_alone(tmp_path):
    mixed = [instance(6, 0, n) for n in range(3)] + [instance(6, 1, 0, sop_class=MR, modality="MR")]

    async def go():
        async with serving(GetSCP(MemorySource(mixed))) as server:
            contexts = [*query_contexts("study", operations=[Operation.GET]), *storage_roles([CT])]
            async with await ApplicationEntity("GETSCU").associate("127.0.0.1", server.port, contexts,
                                                                   called_ae_title="SCP") as assoc:
                result = await get_on(assoc, keys("STUDY", StudyInstanceUID=study_uid(6)), output=tmp_path)
                assert result.status == 0xB000 and result.completed == 3 and result.failed == 1
                assert result.failed_sop_instance_uids == [f"{study_uid(6)}.1.0"]
                assert "MR Image Storage" in (result.error_comment or "")

    run(go())


def test_cancel_a_get(tmp_path):
    many = [instance(11, 0, n) for n in range(60)]

    class SlowReceiver(Destination):
        pass

    slow = SlowReceiver(tmp_path / "slow", delay=0.03)

    async def go():
        async with serving(GetSCP(MemorySource(many))) as server:
            contexts = [*query_contexts("study", operations=[Operation.GET]), *storage_roles([CT])]
            async with await ApplicationEntity("GETSCU").associate("127.0.0.1", server.port, contexts,
                                                                   called_ae_title="SCP") as assoc:
                cancel = asyncio.Event()
                result = await get_on(assoc, keys("STUDY", StudyInstanceUID=study_uid(11)), output=slow,
                                      on_progress=lambda p: p.completed >= 2 and cancel.set(), cancel=cancel)
                assert result.status == 0xFE00 and 0 < result.completed < 60
                assert result.progress.remaining and result.completed + result.progress.remaining == 60
                assert assoc.is_established

    run(go())
    slow.receiver.close()


def test_get_of_more_classes_than_one_association_holds_is_split(tmp_path):
    classes = many_classes(140)
    objects = [instance(12, i % 3, i, sop_class=c) for i, c in enumerate(classes)]

    async def go():
        source = MemorySource(objects)
        async with serving(FindSCP(source), GetSCP(source)) as server:
            result = await get(RemoteAE("SCP", "127.0.0.1", server.port),
                               keys("STUDY", StudyInstanceUID=study_uid(12)), output=tmp_path)
            assert result.status == 0 and result.completed == 140 and result.failed == 0
            assert result.requests >= 4  # 2 groups of classes x 3 series (one C-GET per series and group)
            assert any("associations" in n for n in result.notes)

    run(go())
    assert len(stored(tmp_path)) == 140


def test_get_without_a_find_peer_offers_the_common_classes(tmp_path):
    rare = next(c for c in many_classes(184) if c not in COMMON_STORAGE_CLASSES)
    objects = [instance(13, 0, 0), instance(13, 0, 1, sop_class=rare)]

    async def go():
        async with serving(GetSCP(MemorySource(objects))) as server:  # no C-FIND here: nothing to ask
            result = await get(RemoteAE("SCP", "127.0.0.1", server.port),
                               keys("STUDY", StudyInstanceUID=study_uid(13)), output=tmp_path)
            assert result.status == 0xB000 and result.completed == 1 and result.failed == 1
            assert any("most common" in n for n in result.notes)
            assert result.failed_sop_instance_uids == [f"{study_uid(13)}.0.1"]

    run(go())


def test_get_plan_and_roles():
    assert len(COMMON_STORAGE_CLASSES) == 126 and str(uids.CTImageStorage) == COMMON_STORAGE_CLASSES[0]
    roles = storage_roles([CT, MR])
    assert all(r.scp_role and r.scu_role is False for r in roles)
    assert len(roles) == 2 * (1 + len(RECEIVE_SYNTAXES))  # room for every compressed syntax
    assert roles[0].transfer_syntaxes == ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"]
    assert len(storage_roles(many_classes(100))) == 126  # as many compressed contexts as fit
    assert len(storage_roles(many_classes(126))) == 126
    with pytest.raises(Exception, match="more than"):
        storage_roles(many_classes(127))
    plan = plan_gets(None, None, STUDY_ROOT)
    assert len(plan.groups) == 1 and plan.notes


def test_get_errors_are_statuses(tmp_path):
    async def go():
        async with serving(FindSCP(MemorySource(ALL)), GetSCP(MemorySource(ALL))) as server:
            contexts = [*query_contexts("study", operations=[Operation.GET]), *storage_roles([CT])]
            async with await ApplicationEntity("GETSCU").associate("127.0.0.1", server.port, contexts,
                                                                   called_ae_title="SCP") as assoc:
                bad = await get_on(assoc, keys("SERIES", SeriesInstanceUID="1.2.3"), output=tmp_path)
                assert bad.status == 0xA900 and "StudyInstanceUID missing" in (bad.error_comment or "")
                empty = await get_on(assoc, keys("STUDY", StudyInstanceUID="1.2.3.404"), output=tmp_path)
                assert empty.status == 0 and empty.completed == 0
                await until(lambda: assoc.is_established)

    run(go())


def test_move_to_a_destination_over_tls(tmp_path):
    from dicomkit.net import tls

    from ...peers import make_certificates

    certs = make_certificates(tmp_path / "certs")

    async def go():
        dest = ApplicationEntity("SECURE")
        receiver = DirectoryReceiver(tmp_path / "dest")
        dest.add_service(StorageSCP(receiver))
        server_tls = tls.server_context(certs["server.pem"], certs["server.key"], ca=certs["ca.pem"])
        dest_server = await dest.start_server("127.0.0.1", 0, tls=server_tls)
        try:
            settings = {"ca": str(certs["ca.pem"]), "cert": str(certs["client.pem"]), "key": str(certs["client.key"])}
            table = AETable.from_mapping({"SECURE": {"host": "127.0.0.1", "port": dest_server.port, "tls": settings}})
            async with serving(MoveSCP(MemorySource(ALL), table)) as server, await move_scu(server) as assoc:
                result = await move(assoc, keys("STUDY", StudyInstanceUID=study_uid(0)), "SECURE")
                assert result.status == 0 and result.completed == 6
        finally:
            await dest_server.close()
            receiver.close()

    run(go())
    assert len(stored(tmp_path / "dest")) == 6

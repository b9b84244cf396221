"""C-FIND SCP and SCU over real sockets: every status path, 0xFF01, cancel (between matches and while the source
waits), leaving early, streaming 10^4 matches in flat memory, concurrency, the operations window, extended
negotiation, worklists, and the sync facade."""

from __future__ import annotations

import asyncio
import threading
import tracemalloc

import pytest

from dicomkit import Dataset
from dicomkit.core.errors import DicomError
from dicomkit.net import ApplicationEntity
from dicomkit.net.dimse import CFindRQ
from dicomkit.net.payload import BytesPayload
from dicomkit.net.sync import ServerThread
from dicomkit.net.sync import connect as connect_sync
from dicomkit.services.memory_source import MemorySource, MemoryWorklistSource
from dicomkit.services.query_retrieve import PATIENT_ROOT, STUDY_ROOT, FindOptions
from dicomkit.services.query_retrieve.find import FindSCP, QueryFailed, find, find_all, query_contexts
from dicomkit.services.query_retrieve.matching import project
from dicomkit.services.query_retrieve.negotiation import accepted, offer
from dicomkit.services.worklist import WorklistSCP, worklist, worklist_keys

from ...helpers import until
from ..live import instance, keys, run, serving, study_uid, uids

STUDIES = [instance(i, s, n) for i in range(12) for s in range(2) for n in range(2)]


def source() -> MemorySource:
    return MemorySource(STUDIES)


async def connect(server, *models, **options):
    return await ApplicationEntity("SCU", **options).associate(
        "127.0.0.1", server.port, query_contexts(*(models or ("study",))), called_ae_title="SCP")


def test_matches_are_returned_with_the_keys_asked():
    async def go():
        async with serving(FindSCP(source())) as server, await connect(server, "study", "patient") as assoc:
            async with find(assoc, keys("STUDY", PatientName="DOE^PATIENT1", StudyInstanceUID="",
                                        ModalitiesInStudy="", NumberOfStudyRelatedInstances="")) as query:
                matches = [m async for m in query]
            assert query.status == 0 and query.matches == len(matches) == 2
            assert uids(matches) == sorted([study_uid(1), study_uid(8)])
            assert all(m.NumberOfStudyRelatedInstances == 4 and m.ModalitiesInStudy == "CT" for m in matches)
            assert all(m.QueryRetrieveLevel == "STUDY" for m in matches)
            series = await find_all(assoc, keys("SERIES", PatientID="P1", StudyInstanceUID=study_uid(1),
                                                SeriesInstanceUID=""), model=PATIENT_ROOT)
            assert len(series) == 2

    run(go())


@pytest.mark.parametrize("identifier, status, comment, offending", [
    (["PatientName=DOE*"], 0xA900, "QueryRetrieveLevel missing", 0x00080052),
    (["QueryRetrieveLevel=FRAME"], 0xA900, "unknown QueryRetrieveLevel FRAME", 0x00080052),
    (["QueryRetrieveLevel=STUDY", "Modality=CT"], 0xA900, "Modality is a SERIES key", 0x00080060),
    (["QueryRetrieveLevel=STUDY", "StudyDate=20240131-20240101"], 0xC001, "invalid DA range", 0x00080020),
    (["QueryRetrieveLevel=STUDY", "StudyDate=2024-01-01"], 0xC001, "unparsable DA range", 0x00080020),
    (["QueryRetrieveLevel=STUDY", "StudyInstanceUID=1.2.3\\1.02.x"], 0xC002, "invalid UID", 0x0020000D),
    (["QueryRetrieveLevel=STUDY", "ProcedureCodeSequence[0].CodeValue=A",
      "ProcedureCodeSequence[1].CodeValue=B"], 0xA900, "several items", 0x00081032),
])
def test_bad_identifiers_get_the_standard_status_and_comment(identifier, status, comment, offending, caplog):
    async def go():
        async with serving(FindSCP(source())) as server, await connect(server) as assoc:
            with pytest.raises(QueryFailed) as raised:
                await find_all(assoc, identifier)
            assert raised.value.status == status
            assert comment in (raised.value.error_comment or "")
            assert raised.value.offending == (offending,)
            assert len(await find_all(assoc, keys("STUDY", StudyInstanceUID=study_uid(3)))) == 1  # still usable

    run(go())
    assert any("refused" in r.getMessage() for r in caplog.records)  # logged


def test_an_unreadable_identifier_is_refused_not_fatal():
    async def go():
        async with serving(FindSCP(source())) as server, await connect(server) as assoc:
            rsp = await assoc.send_request(CFindRQ(affected_sop_class_uid=str(STUDY_ROOT.find_uid)),
                                           payload=BytesPayload(b"\x08\x00\x52\x00\xff\xff\x00\x10",
                                                                "1.2.840.10008.1.2"))
            assert rsp.status_value == 0xC003 and rsp.error_comment
            assert assoc.is_established

    run(go())


class Unsupporting(MemorySource):
    """A source that cannot match Study Description (the SCP must answer 0xFF01 and match it universally)."""

    def unsupported_keys(self, plan):
        return frozenset({0x00081030})


def test_unsupported_optional_keys_are_answered_ff01():
    async def go():
        async with serving(FindSCP(Unsupporting(STUDIES))) as server, await connect(server) as assoc:
            async with find(assoc, keys("STUDY", StudyDescription="nothing like it", StudyInstanceUID="")) as q:
                matches = [m async for m in q]
            assert q.unsupported_keys and len(matches) == 12  # the key was relaxed to a return key

    run(go())


class Slow:
    """A source that yields one match each time ``step`` is set, and records that it was closed."""

    def __init__(self, n: int = 100, forever_after: int | None = None) -> None:
        self.n = n
        self.forever_after = forever_after
        self.closed = False
        self.produced = 0

    def unsupported_keys(self, plan):
        return frozenset()

    async def find(self, plan, requester):
        try:
            for i in range(self.n):
                if self.forever_after is not None and i >= self.forever_after:
                    await asyncio.Event().wait()  # the next match never comes
                await asyncio.sleep(0.005)
                self.produced += 1
                ds = Dataset()
                ds.StudyInstanceUID = f"1.2.3.{i}"
                yield project(plan, ds)
        finally:
            self.closed = True


@pytest.mark.parametrize("forever_after", [None, 3])
def test_cancel_stops_the_stream_and_closes_the_source(forever_after):
    slow = Slow(forever_after=forever_after)

    async def go():
        async with serving(FindSCP(slow)) as server, await connect(server) as assoc:
            async with find(assoc, keys("STUDY", StudyInstanceUID="")) as query:
                async for _ in query:
                    if query.matches == 3:
                        await query.cancel()
            assert query.status == 0xFE00
            await until(lambda: slow.closed, what="the source closed")
            assert slow.produced < 10
            assert assoc.is_established

    run(go())


def test_leaving_the_loop_cancels_and_drains():
    slow = Slow(n=50)

    async def go():
        async with serving(FindSCP(slow)) as server, await connect(server) as assoc:
            async with find(assoc, keys("STUDY", StudyInstanceUID="")) as query:
                async for _ in query:
                    break
            assert query.status == 0xFE00  # cancelled and read to its end
            await until(lambda: slow.closed)
            slow.closed = False
            rest = await find_all(assoc, keys("STUDY", StudyInstanceUID=""))
            assert len(rest) == 50

    run(go())


class Lazy:
    """10^4 matches made on the fly (nothing held): what the SCP keeps is all the memory used."""

    def __init__(self, n: int) -> None:
        self.n = n

    def unsupported_keys(self, plan):
        return frozenset()

    async def find(self, plan, requester):
        for i in range(self.n):
            ds = Dataset()
            ds.PatientName = f"DOE^PATIENT{i}"
            ds.PatientID = f"P{i}"
            ds.StudyInstanceUID = f"1.2.826.0.1.3680043.10.1099.{i}"
            ds.StudyDescription = "x" * 40
            ds.StudyDate = "20240115"
            yield ds
            if i % 64 == 0:
                await asyncio.sleep(0)


@pytest.mark.slow
def test_ten_thousand_matches_stream_in_flat_memory():
    async def go():
        async with serving(FindSCP(Lazy(10_000))) as server, await connect(server) as assoc:
            tracemalloc.start()
            try:
                count = 0
                async with find(assoc, keys("STUDY", PatientName="", PatientID="", StudyInstanceUID="",
                                            StudyDescription="", StudyDate="")) as query:
                    async for match in query:
                        count += 1
                        assert match.StudyDescription == "x" * 40
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert count == 10_000 and query.status == 0
            # 10^4 response data sets held at once would take tens of MB; streaming keeps a few
            assert peak < 2_000_000, peak

    run(go(), timeout=120)


class Blocked:
    """A source whose query waits until released: one slow handler."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = 0

    def unsupported_keys(self, plan):
        return frozenset()

    async def find(self, plan, requester):
        self.started += 1
        await self.release.wait()
        ds = Dataset()
        ds.StudyInstanceUID = "1.2.3"
        yield project(plan, ds)


class Routed:
    """Blocked for PatientID=SLOW, the memory source otherwise."""

    def __init__(self) -> None:
        self.blocked = Blocked()
        self.memory = source()

    def unsupported_keys(self, plan):
        return frozenset()

    def find(self, plan, requester):
        key = plan.key(0x00100020)
        if key is not None and key.text == "SLOW":
            return self.blocked.find(plan, requester)
        return self.memory.find(plan, requester)


def test_a_slow_query_stalls_neither_other_associations_nor_other_requests_in_the_window():
    routed = Routed()

    async def go():
        async with serving(FindSCP(routed), max_ops_performed=4) as server, await connect(server) as first, \
                await connect(server, max_ops_invoked=4) as second:
            slow = asyncio.ensure_future(find_all(first, keys("STUDY", PatientID="SLOW", StudyInstanceUID="")))
            await until(lambda: routed.blocked.started == 1)
            # another association is served meanwhile
            assert len(await find_all(second, keys("STUDY", StudyInstanceUID=study_uid(2)))) == 1
            # and so is a second request on one association, within its operations window
            assert second.info.max_ops_invoked_local == 4
            slow_too = asyncio.ensure_future(find_all(second, keys("STUDY", PatientID="SLOW",
                                                                  StudyInstanceUID="")))
            await until(lambda: routed.blocked.started == 2)
            assert len(await find_all(second, keys("STUDY", StudyInstanceUID=study_uid(4)))) == 1
            assert not slow.done() and not slow_too.done()
            routed.blocked.release.set()
            assert len(await slow) == 1 and len(await slow_too) == 1

    run(go())


def test_extended_negotiation_is_answered_and_honoured():
    async def go():
        async with serving(FindSCP(source())) as server:
            options = FindOptions(relational_queries=True, enhanced_multiframe_conversion=True,
                                  fuzzy_semantic_matching=True)
            ae = ApplicationEntity("SCU")
            async with await ae.associate("127.0.0.1", server.port, query_contexts("study"), called_ae_title="SCP",
                                          extended_negotiation=[offer(str(STUDY_ROOT.find_uid), options)]) as assoc:
                answer = accepted(assoc.info, str(STUDY_ROOT.find_uid))
                assert isinstance(answer, FindOptions)
                assert answer.relational_queries and answer.fuzzy_semantic_matching
                assert not answer.enhanced_multiframe_conversion  # refused, not left out
                assert answer.length == 7
                # relational: a SERIES key in a STUDY query is matched instead of refused
                found = await find_all(assoc, keys("STUDY", Modality="CT", StudyInstanceUID=study_uid(5)))
                assert uids(found) == [study_uid(5)]
            async with await connect(server) as plain:
                assert accepted(plain.info, str(STUDY_ROOT.find_uid)) is None
                with pytest.raises(QueryFailed, match="0xA900"):
                    await find_all(plain, keys("STUDY", Modality="CT", StudyInstanceUID=study_uid(5)))

    run(go())


def worklist_items() -> list[Dataset]:
    items = []
    for i, (station, modality, date, physician) in enumerate([
            ("CT1", "CT", "20240115", "SMITH^ANNA"), ("CT1", "CT", "20240116", "JONES^BOB"),
            ("MR1", "MR", "20240115", "SMITH^ANNA"), ("CT2", "CT", "20240301", "")]):
        item = Dataset()
        item.PatientName = f"WL^PATIENT{i}"
        item.PatientID = f"W{i}"
        item.AccessionNumber = f"ACC{i}"
        item.StudyInstanceUID = f"1.2.826.0.1.3680043.10.1099.9{i}"
        step = Dataset()
        step.ScheduledStationAETitle = station
        step.Modality = modality
        step.ScheduledProcedureStepStartDate = date
        step.ScheduledProcedureStepStartTime = "0900"
        step.ScheduledPerformingPhysicianName = physician
        step.ScheduledProcedureStepID = f"SPS{i}"
        item.ScheduledProcedureStepSequence = [step]
        items.append(item)
    return items


@pytest.mark.parametrize("filters, expected", [
    ({"station_ae": "CT1"}, ["W0", "W1"]),
    ({"modality": "CT", "date": "20240101-20240131"}, ["W0", "W1"]),
    ({"date": "20240115"}, ["W0", "W2"]),
    ({"performing_physician": "SMITH*"}, ["W0", "W2"]),
    ({"modality": "CT", "date": "20240201-"}, ["W3"]),
    ({"station_ae": "CT2", "performing_physician": "SMITH*"}, []),  # an empty value matches no key (K.2.2.1.1.1)
])
def test_worklist_matching_on_the_scheduled_procedure_step(filters, expected):
    async def go():
        async with serving(WorklistSCP(MemoryWorklistSource(worklist_items()))) as server, \
                await connect(server, "worklist") as assoc:
            async with worklist(assoc, **filters) as query:
                items = [m async for m in query]
            assert sorted(m.PatientID for m in items) == expected
            for m in items:
                step = m.ScheduledProcedureStepSequence[0]
                assert step.ScheduledProcedureStepID and "ScheduledStationName" in step  # return keys filled

    run(go())


def test_worklist_and_query_retrieve_on_one_ae():
    async def go():
        async with serving(FindSCP(source()), WorklistSCP(MemoryWorklistSource(worklist_items()))) as server, \
                await connect(server, "worklist", "study") as assoc:
            assert len(await find_all(assoc, worklist_keys(modality="MR"), model="worklist")) == 1
            assert len(await find_all(assoc, keys("STUDY", StudyInstanceUID=""))) == 12

    run(go())


class SyncSource:
    """A source written without asyncio: the SCP runs it in worker threads."""

    def __init__(self) -> None:
        self.threads: set[str] = set()

    def unsupported_keys(self, plan):
        return frozenset()

    def find(self, plan, requester):
        self.threads.add(threading.current_thread().name)
        for ds in STUDIES[:3]:
            yield project(plan, ds)


def test_sync_facade_and_sync_source():
    sync_source = SyncSource()
    ae = ApplicationEntity("SCP")
    ae.add_service(FindSCP(sync_source))
    with ServerThread(ae, "127.0.0.1", 0) as server, connect_sync(
            "127.0.0.1", server.port, called_ae_title="SCP", contexts=query_contexts("study")) as assoc:
        streamed = [m.StudyInstanceUID for m in assoc.iterate(find, keys("STUDY", StudyInstanceUID=""))]
        assert len(streamed) == 3
        listed = assoc.call(find_all, keys("STUDY", StudyInstanceUID=""))
        assert [m.StudyInstanceUID for m in listed] == streamed
        for _ in assoc.iterate(find, keys("STUDY", StudyInstanceUID="")):
            break  # leaving early closes (cancels) the query
        assert len(assoc.call(find_all, keys("STUDY", StudyInstanceUID=""))) == 3
    assert sync_source.threads and "dicomkit-scp" not in sync_source.threads


def test_no_find_context_is_a_clear_error():
    async def go():
        async with serving(FindSCP(source())) as server, await connect(server, "patient") as assoc:
            with pytest.raises(DicomError, match="was not proposed"):
                await find_all(assoc, keys("STUDY", StudyInstanceUID=""), model="study")

    run(go())


def test_a_stored_value_that_breaks_its_vr_fails_no_query():
    import warnings

    odd = instance(30, 0, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        odd.StudyDate = "2024-01-15"  # not a DA: kept (with a warning), and answered as it is

    async def go():
        async with serving(FindSCP(MemorySource([odd]))) as server, await connect(server) as assoc:
            found = await find_all(assoc, keys("STUDY", StudyInstanceUID=study_uid(30), StudyDate=""))
            assert [str(m.StudyDate) for m in found] == ["2024-01-15"]

    run(go())


def test_a_small_match_goes_as_one_pdu_of_two_pdvs(monkeypatch: pytest.MonkeyPatch) -> None:
    # PS3.8 9.3.5: a P-DATA-TF may carry several PDVs; each Pending response (command + Identifier) is one PDU
    from dicomkit.net.transport import UpperLayerProtocol

    sent: list[tuple[int, bytes]] = []
    real = UpperLayerProtocol.send_pdatas

    def record(self: UpperLayerProtocol, parts: list[bytes | memoryview], count: int, nbytes: int) -> None:
        sent.append((count, bytes(parts[0][:12]) if parts else b""))
        real(self, parts, count, nbytes)

    monkeypatch.setattr(UpperLayerProtocol, "send_pdatas", record)

    async def go():
        async with serving(FindSCP(source())) as server, await connect(server) as assoc:
            matches = await find_all(assoc, keys("STUDY", PatientName="DOE^PATIENT1", StudyInstanceUID=""))
            assert uids(matches) == sorted([study_uid(1), study_uid(8)])

    run(go())
    one_pdu = [header for count, header in sent if count == 1 and header[:1] == b"\x04"
               and int.from_bytes(header[2:6], "big") > int.from_bytes(header[6:10], "big") + 4]
    assert len(one_pdu) >= 3  # the request and the two Pending responses: command PDV + data set PDV
